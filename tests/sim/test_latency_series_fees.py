"""Latency ``series`` (inline and from .csv/.npy files), empirical latency determinism by seed,
and per-instrument fee overrides, on hand-built event arrays with hand-computed results.

Times are in µs * 1000 (ns); prices are ticks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from simhelpers import INST, D, Script, T, events

from hftlab.backtest import run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.errors import ConfigError
from hftlab.events import Instrument
from hftlab.sim.config import Fees, LatencyModel, SimConfig
from hftlab.strategy.context import Context

US = 1_000


def book(t: int = 1 * US) -> list[tuple]:
    return [(t, t, D, 1, 100, 5), (t, t, D, -1, 110, 5)]


def run_with(
    rows: Sequence[tuple],
    actions: dict[int, Callable[[Context], Any]],
    config: SimConfig,
    instruments: Sequence[Instrument] = (INST,),
) -> BacktestResult:
    return run_backtest([events(rows)], Script(actions), config, instruments=list(instruments))


def arrivals(res: BacktestResult) -> dict[int, tuple[int, int]]:
    """order id -> (exchange time of the acceptance, local time it was delivered)."""
    return {
        r["order_id"]: (r["ts_exchange"], r["ts_local"])
        for r in res.orders.to_pylist()
        if r["event"] == "accepted"
    }


def bid_at(ticks: int) -> Callable[[Context], Any]:
    return lambda c: c.buy(1, ticks, tif="post_only")  # rests below the best bid of 100


# A 3-point series: 10 µs at t=100 µs, 30 µs at 200 µs, 20 µs at 400 µs.
SERIES_TS = [100 * US, 200 * US, 400 * US]
SERIES_US = [10.0, 30.0, 20.0]
# Orders sent at these local times and their hand-computed arrivals (sent + latency):
#   50 µs: before the span, held at 10 µs             -> 60
#  100 µs: the first point, 10 µs                      -> 110
#  150 µs: halfway 10 -> 30: 20 µs                     -> 170
#  300 µs: halfway 30 -> 20: 25 µs                     -> 325
#  350 µs: three quarters 30 -> 20: 22.5 µs            -> 372.5
#  500 µs: after the span, held at 20 µs               -> 520
SENT = [50, 100, 150, 300, 350, 500]
EXPECTED_ARRIVAL = [60 * US, 110 * US, 170 * US, 325 * US, 372_500, 520 * US]


def _series_rows() -> list[tuple]:
    return [*book(), (1000 * US, 1000 * US, D, 1, 90, 1)]


def _check_series(entry: LatencyModel) -> None:
    res = run_with(
        _series_rows(),
        {t * US: bid_at(99 - k) for k, t in enumerate(SENT)},
        SimConfig(entry_latency=entry, queue_model="risk_averse"),
    )
    got = arrivals(res)
    # Zero response latency: the acknowledgement is delivered when the order arrives.
    assert [got[k + 1] for k in range(len(SENT))] == [(a, a) for a in EXPECTED_ARRIVAL]
    sent = [r["ts_local"] for r in res.orders.to_pylist() if r["event"] == "sent_new"]
    assert sent == [t * US for t in SENT]


def test_series_latency_inline() -> None:
    _check_series(LatencyModel(kind="series", series_ts=SERIES_TS, series_us=SERIES_US))


def test_series_latency_from_csv_with_header(tmp_path: Path) -> None:
    path = tmp_path / "lat.csv"
    lines = ["ts_ns,latency_us"] + [f"{t},{u}" for t, u in zip(SERIES_TS, SERIES_US, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    _check_series(LatencyModel(kind="series", file=str(path)))


def test_series_latency_from_npy(tmp_path: Path) -> None:
    path = tmp_path / "lat.npy"
    np.save(path, np.column_stack([np.array(SERIES_TS, float), np.array(SERIES_US)]))
    _check_series(LatencyModel(kind="series", file=str(path)))


def test_series_latency_never_reorders_requests() -> None:
    """Latency falls from 100 µs to 0 over 10 µs: an order sent at 105 µs (50 µs latency,
    would arrive at 155) waits for the one sent at 100 µs (arrives at 200)."""
    entry = LatencyModel(kind="series", series_ts=[100 * US, 110 * US], series_us=[100.0, 0.0])
    res = run_with(
        [*book(), (1000 * US, 1000 * US, D, 1, 90, 1)],
        {100 * US: bid_at(99), 105 * US: bid_at(98), 120 * US: bid_at(97)},
        SimConfig(entry_latency=entry),
    )
    assert arrivals(res) == {1: (200 * US,) * 2, 2: (200 * US,) * 2, 3: (200 * US,) * 2}


def test_series_response_latency_at_exchange_time() -> None:
    """Responses take the series' value at the exchange time they are produced."""
    resp = LatencyModel(kind="series", series_ts=[100 * US, 300 * US], series_us=[5.0, 15.0])
    res = run_with(
        [*book(), (1000 * US, 1000 * US, D, 1, 90, 1)],
        # entry 40 µs: arrives at 200 µs, where the response latency is 10 µs
        {160 * US: bid_at(99)},
        SimConfig(entry_latency=LatencyModel(value_us=40), response_latency=resp),
    )
    assert arrivals(res) == {1: (200 * US, 210 * US)}


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (LatencyModel(kind="series", series_ts=[2, 1], series_us=[1.0, 2.0]), "increasing"),
        (LatencyModel(kind="series", series_ts=[1, 2], series_us=[1.0]), "equal"),
        (LatencyModel(kind="series", series_ts=[1, 2], series_us=[1.0, -2.0]), ">= 0"),
        (LatencyModel(kind="series", file="/nonexistent/lat.csv"), "not found"),
    ],
)
def test_series_latency_bad_input(model: LatencyModel, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        model.table()


def test_series_file_needs_two_columns(tmp_path: Path) -> None:
    path = tmp_path / "one.npy"
    np.save(path, np.array([1.0, 2.0]))
    with pytest.raises(ConfigError, match="two columns"):
        LatencyModel(kind="series", file=str(path)).table()


# --------------------------------------------------------------------------- empirical
SAMPLES = [100.0, 200.0, 300.0, 400.0, 500.0]


def _empirical_latencies(seed: int) -> list[int]:
    """Entry latency (ns) of 30 orders sent 1 ms apart (no order can wait for another)."""
    sent = [(k + 1) * 1000 * US for k in range(30)]
    res = run_with(
        [*book(), (40_000 * US, 40_000 * US, D, 1, 90, 1)],
        {t: bid_at(99) for t in sent},
        SimConfig(entry_latency=LatencyModel(kind="empirical", samples_us=SAMPLES), seed=seed),
    )
    got = arrivals(res)
    return [got[k + 1][0] - t for k, t in enumerate(sent)]


def test_empirical_latency_is_deterministic_by_seed() -> None:
    a = _empirical_latencies(seed=1)
    assert a == _empirical_latencies(seed=1)
    assert set(a) <= {round(s * US) for s in SAMPLES}
    assert len(set(a)) >= 3  # 30 uniform draws from 5 values
    b = _empirical_latencies(seed=2)
    assert set(b) <= {round(s * US) for s in SAMPLES}
    assert a != b  # identical by chance with probability 5**-30


def test_empirical_latency_from_file(tmp_path: Path) -> None:
    path = tmp_path / "samples.csv"
    path.write_text("latency_us\n250\n")
    res = run_with(
        [*book(), (1000 * US, 1000 * US, D, 1, 90, 1)],
        {10 * US: bid_at(99)},
        SimConfig(entry_latency=LatencyModel(kind="empirical", file=str(path))),
    )
    assert arrivals(res) == {1: (260 * US,) * 2}


# --------------------------------------------------------------------------- fees
X = Instrument(venue="t", symbol="X", tick_size=1.0, lot_size=1.0)
Y = Instrument(venue="t", symbol="Y", tick_size=0.5, lot_size=0.1)
Z = Instrument(venue="u", symbol="Z", tick_size=1.0, lot_size=1.0)


def test_per_instrument_fee_overrides() -> None:
    """Three instruments, three fee schedules in one run: ``t/X`` by venue/symbol (which beats
    the bare ``X`` entry), ``Y`` by bare symbol, ``u/Z`` the default. Each takes once (IOC)
    and is filled once as maker (a trade through its resting order)."""
    rows = [
        (1 * US, 1 * US, D, 1, 100, 5, 0),
        (1 * US, 1 * US, D, -1, 101, 5, 0),
        (1 * US, 1 * US, D, 1, 200, 50, 1),  # Y bid 100.0 x 5.0
        (1 * US, 1 * US, D, -1, 202, 50, 1),  # Y ask 101.0 x 5.0
        (1 * US, 1 * US, D, 1, 50, 5, 2),
        (1 * US, 1 * US, D, -1, 52, 5, 2),
        (30 * US, 30 * US, T, -1, 98, 1, 0),  # sells through our X bid at 99
        (30 * US, 30 * US, T, 1, 204, 10, 1),  # buys through our Y ask at 101.5
        (30 * US, 30 * US, T, 1, 54, 1, 2),  # buys through our Z ask at 53
        (50 * US, 50 * US, D, 1, 100, 4, 0),
    ]

    def act(c: Context) -> None:
        c.buy(2, 101, instrument=0, tif="ioc")  # X taker: 2 @ 101
        c.sell(3.0, 100.0, instrument=1, tif="ioc")  # Y taker: 3.0 @ 100.0
        c.buy(1, 52, instrument=2, tif="ioc")  # Z taker: 1 @ 52
        c.buy(1, 99, instrument=0, tif="post_only")  # X maker bid
        c.sell(2.0, 101.5, instrument=1, tif="post_only")  # Y maker ask
        c.sell(2, 53, instrument=2, tif="post_only")  # Z maker ask

    cfg = SimConfig(
        fees=Fees(maker=0.0001, taker=0.0005),
        instrument_fees={
            "t/X": Fees(maker=-0.0002, taker=0.0007),
            "X": Fees(maker=0.5, taker=0.5),  # shadowed by t/X
            "Y": Fees(maker=0.0003, taker=0.001),
        },
        queue_model="risk_averse",
    )
    res = run_with(rows, {10 * US: act}, cfg, instruments=[X, Y, Z])
    got = sorted(
        (r["order_id"], r["last_price"], r["last_qty"], r["liquidity"], r["fee"])
        for r in res.fills.to_pylist()
    )
    expected = [
        (1, 101.0, 2.0, "taker", 0.0007 * 202),
        (2, 100.0, 3.0, "taker", 0.001 * 300),
        (3, 52.0, 1.0, "taker", 0.0005 * 52),
        (4, 99.0, 1.0, "maker", -0.0002 * 99),
        (5, 101.5, 2.0, "maker", 0.0003 * 203),
        (6, 53.0, 2.0, "maker", 0.0001 * 106),
    ]
    assert [g[:4] for g in got] == [e[:4] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[4] == pytest.approx(e[4], rel=1e-12), g
    s = res.summary["instruments"]
    assert s["t/X"]["fees"] == pytest.approx(0.1414 - 0.0198)
    assert s["t/Y"]["fees"] == pytest.approx(0.3 + 0.0609)
    assert s["u/Z"]["fees"] == pytest.approx(0.026 + 0.0106)
    # Cash: buys pay, sells receive, fees always subtracted (a rebate is a negative fee).
    assert s["t/X"]["cash"] == pytest.approx(-202 - 0.1414 - 99 + 0.0198)
    assert s["t/Y"]["cash"] == pytest.approx(300 - 0.3 + 203 - 0.0609)
    assert s["u/Z"]["cash"] == pytest.approx(-52 - 0.026 + 106 - 0.0106)
    assert (s["t/X"]["position"], s["t/Y"]["position"], s["u/Z"]["position"]) == pytest.approx(
        (3.0, -5.0, -1.0)
    )


def test_fees_for_lookup_order() -> None:
    cfg = SimConfig(
        fees=Fees(maker=1.0, taker=2.0),
        instrument_fees={"v/S": Fees(maker=3.0), "S": Fees(maker=4.0), "R": Fees(taker=5.0)},
    )
    assert cfg.fees_for("v", "S") == Fees(maker=3.0)
    assert cfg.fees_for("w", "S") == Fees(maker=4.0)
    assert cfg.fees_for("v", "R") == Fees(taker=5.0)
    assert cfg.fees_for("v", "Q") == Fees(maker=1.0, taker=2.0)


def test_instrument_fees_from_toml_table() -> None:
    cfg = SimConfig.from_dict(
        {"fees": {"maker": 0.0001}, "instrument_fees": {"binance/BTCUSDT": {"taker": 0.0003}}}
    )
    assert cfg.fees_for("binance", "BTCUSDT") == Fees(maker=0.0, taker=0.0003)
    with pytest.raises(ConfigError):
        SimConfig.from_dict({"instrument_fees": {"X": {"rebate": 1}}})
