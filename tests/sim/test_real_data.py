"""Queue models and the backtest CLI on real Binance captures (reads ``HFTLAB_REAL_DATA``).

The captures are imported with the real importer into a temporary store; every run covers the
whole span, conserves position and cash, and the queue models order their maker fills as they
must (risk-averse fewest). The fill counts are printed (``pytest -s``) and recorded in
docs/sim-core.md.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import numpy as np
import pytest
from typer.testing import CliRunner

from hftlab.backtest import run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.cli import app
from hftlab.data.importers import import_files
from hftlab.data.store import EventStream, Store
from hftlab.sim.config import Fees, LatencyModel, SimConfig
from hftlab.strategy import Strategy
from hftlab.strategy.context import Context

pytestmark = pytest.mark.realdata

HB = "hftbacktest/examples"
USDM_BTC = [f"{HB}/usdm/btcusdt_20240808.gz"]  # depth@0ms: every book change
SPOT_BTC_PAIR = [f"{HB}/spot/btcusdt_20240808.gz", f"{HB}/spot/btcusdt_20240809.gz"]
KEY = "binance-futures/BTCUSDT"
MAKER, TAKER = -0.0001, 0.0004


def _import(real_data: Path, files: list[str], root: Path) -> Store:
    paths = [real_data / f for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.fail(f"real-data files missing: {missing}")
    import_files("binance-capture", paths, root)
    return Store(root)


@pytest.fixture(scope="module")
def usdm(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _import(real_data, USDM_BTC, tmp_path_factory.mktemp("usdm") / "store")


@pytest.fixture(scope="module")
def spot_pair(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spot") / "store"
    _import(real_data, SPOT_BTC_PAIR, root)
    return root


class TouchQuoter(Strategy):
    """Every ``interval`` of local time: cancel what is open, then one post-only lot on each
    side at the best bid and best ask. No decision depends on fills or position, so every
    queue model sees the same orders at the same times (see ``test_queue_models_…``)."""

    def __init__(self, interval_ns: int = 2_000_000_000) -> None:
        super().__init__()
        self.interval_ns = interval_ns

    def on_start(self, ctx: Context) -> None:
        ctx.every(self.interval_ns)

    def on_timer(self, ctx: Context) -> None:
        ctx.cancel_all()
        book = ctx.book(0)
        if not book.has_both_sides:
            return
        lot = ctx.instruments[0].lot_size
        ctx.buy(lot, book.best_bid, tif="post_only")
        ctx.sell(lot, book.best_ask, tif="post_only")


def _span(stream: EventStream) -> tuple[int, int, int]:
    """(rows, first ts_local, last ts_local) read through the stream itself."""
    rows, first, last = 0, None, 0
    for chunk in stream:
        if len(chunk):
            rows += len(chunk)
            first = int(chunk["ts_local"][0]) if first is None else first
            last = int(chunk["ts_local"][-1])
    assert first is not None
    return rows, first, last


def _check_run(res: BacktestResult, stream: EventStream, key: str) -> dict:
    """Whole span processed; position and cash are the sums over the fills."""
    rows, first, last = _span(stream)
    assert rows == stream.rows
    assert res.summary["events"] == rows
    assert res.summary["first_ts"] == first
    assert res.summary["last_ts"] == last
    s = res.summary["instruments"][key]
    fills = res.fills.to_pylist()
    assert s["fills"] == len(fills)
    assert s["maker_fills"] + s["taker_fills"] == len(fills)
    assert s["position"] == pytest.approx(sum(f["side"] * f["last_qty"] for f in fills), abs=1e-9)
    # Linear contract of size 1: a buy pays price * qty, a sell receives it; the fee is the
    # maker or taker rate on that notional (negative = rebate).
    for f in fills:
        notional = f["last_price"] * f["last_qty"]
        assert f["cash_delta"] == pytest.approx(-f["side"] * notional, rel=1e-12)
        rate = MAKER if f["liquidity"] == "maker" else TAKER
        assert f["fee"] == pytest.approx(rate * notional, rel=1e-9, abs=1e-12)
    cash = sum(-f["side"] * f["last_price"] * f["last_qty"] - f["fee"] for f in fills)
    assert s["cash"] == pytest.approx(cash, rel=1e-9, abs=1e-9)
    assert s["fees"] == pytest.approx(sum(f["fee"] for f in fills), abs=1e-9)
    return s


def _config(queue_model: str, **kw: float) -> SimConfig:
    return SimConfig(
        queue_model=queue_model,  # type: ignore[arg-type]
        entry_latency=LatencyModel(value_us=500),
        response_latency=LatencyModel(value_us=500),
        fees=Fees(maker=MAKER, taker=TAKER),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("data", ["usdm", "spot_pair"])
def test_queue_models_on_real_depth(data: str, request: pytest.FixtureRequest) -> None:
    """Binance USD-M BTCUSDT 2024-08-08 23:54–24:00 (depth@0ms, every change) and the spot
    BTCUSDT day pair 23:54–00:05 (depth@100ms, net changes per 100 ms); with trades and
    bookTicker.

    Why risk-averse must give the fewest maker fills here: the exchange book, the strategy's
    book and hence every order (time, side, price, size) are identical across models, because
    the strategy decides from the book only and post-only orders never change the book. For
    one resting order, every model lowers the queue ahead (``front``) by the same amount on a
    trade at our price and fills it completely on a trade through or a crossing book. They
    differ only on a size decrease at our price: risk-averse sets ``front = min(front, new)``;
    the probabilistic models set ``front' = min(front - (1-P)·chg + min(back - P·chg, 0), new)``
    with ``0 <= P <= 1`` and ``chg >= 0`` for a decrease, which is ``<= min(front, new)``. By
    induction their front is never larger than risk-averse's, so each order fills no later and
    no less. With one-lot orders, fills count filled lots, so risk-averse has the fewest.
    """
    fixture = request.getfixturevalue(data)
    store = fixture if isinstance(fixture, Store) else Store(fixture)
    (inst,) = store.instruments()
    counts: dict[str, int] = {}
    orders: set[int] = set()
    for model in ("risk_averse", "prob_power", "prob_log"):
        stream = store.events()
        res = run_backtest(stream, TouchQuoter(), _config(model))
        s = _check_run(res, stream, inst.key)
        assert s["taker_fills"] == 0  # post-only orders only
        counts[model] = s["maker_fills"]
        orders.add(s["orders_sent"])
    span_s = (res.summary["last_ts"] - res.summary["first_ts"]) / 1e9
    n_orders = orders.pop()
    print(f"\n{inst.key} {span_s:.0f} s, {n_orders} orders: maker fills by queue model {counts}")
    assert not orders, "the same orders under every model"
    assert n_orders >= 0.9 * span_s  # two orders every 2 s while both sides are quoted
    ra = counts["risk_averse"]
    assert ra < counts["prob_power"]
    assert ra < counts["prob_log"]
    assert ra > 0


def test_l1_model_on_bbo_only_selection(usdm: Store) -> None:
    """The bookTicker + trade streams alone: the book comes from BBO rows, the L1 model fills."""
    stream = usdm.events(usdm.resolve(channels=["bbo", "trade"]))
    counts = {}
    for a in (0.05, 0.5):
        res = run_backtest(stream, TouchQuoter(), _config("l1", l1_a=a, l1_k=0.5, seed=3))
        s = _check_run(res, stream, KEY)
        counts[a] = s["maker_fills"]
        again = run_backtest(stream, TouchQuoter(), _config("l1", l1_a=a, l1_k=0.5, seed=3))
        assert again.fills.equals(res.fills)  # seeded: bit-identical
    print(f"\nL1 maker fills by l1_a (bbo+trade only): {counts}")
    # Fills come from the intensity draws and from quotes crossing our price; a 10x intensity
    # must fill more of the same orders.
    assert counts[0.05] < counts[0.5]


def test_backtest_cli_on_real_spot_pair(spot_pair: Path, tmp_path: Path) -> None:
    """`hftlab backtest` over the imported spot day pair (23:54 -> 00:05, across midnight)."""
    cfg = tmp_path / "bt.toml"
    cfg.write_text(
        '[sim]\nqueue_model = "prob_log"\n'
        f"fees = {{ maker = {MAKER!r}, taker = {TAKER!r} }}\n"
        "[sim.entry_latency]\nvalue_us = 800\n"
        "[strategy]\nsize = 0.001\nmax_position = 0.005\nhalf_spread_ticks = 0\n"
    )
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        [
            "backtest",
            "--data",
            str(spot_pair),
            "--strategy",
            "hftlab.strategies.simple_quoter:SimpleQuoter",
            "--config",
            str(cfg),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "results ->" in res.output
    for name in ("state.parquet", "orders.parquet", "fills.parquet", "summary.json", "run.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    stream = Store(spot_pair).events()
    rows, first, last = _span(stream)
    assert summary["events"] == rows
    assert (summary["first_ts"], summary["last_ts"]) == (first, last)
    assert last - first > 10 * 60 * 10**9  # the two files joined: more than 10 minutes
    (key,) = summary["instruments"]
    assert key.endswith("/BTCUSDT")
    s = summary["instruments"][key]
    import pyarrow.parquet as pq

    fills = pq.read_table(out / "fills.parquet").to_pylist()
    assert s["fills"] == len(fills) > 0
    pos = sum(f["side"] * f["last_qty"] for f in fills)
    assert s["position"] == pytest.approx(pos, abs=1e-9)
    assert abs(s["position"]) <= 0.005 + 0.001 + 1e-9
    assert s["cash"] == pytest.approx(sum(f["cash_delta"] - f["fee"] for f in fills), abs=1e-6)
    # The state series runs every 100 ms of simulated time and closes at the last event.
    ts = pq.read_table(out / "state.parquet").column("ts").to_numpy()
    assert ts[-1] == last
    assert np.all(np.diff(ts) >= 0)
    assert len(ts) >= (last - first) // 100_000_000


# --------------------------------------------------------------------------- an injected gap
def _capture_with_gap(src: Path, dst: Path, *, drop: int = 3, resync_after: int = 100) -> dict:
    """Copy the USD-M capture ``src`` to ``dst`` with ``drop`` depth messages removed in the
    middle (the recorder lost them) and a REST snapshot of the true book ``resync_after``
    diffs later (logged a few messages after it, as the recorder logs a response when it
    arrives), so the importer's BookSync flags the diffs in between unsynced and the snapshot
    FLAG_RESYNC. The snapshot is the capture's own book: its first snapshot with every diff
    up to the snapshot's ``lastUpdateId`` applied (the dropped ones included)."""
    lines = gzip.decompress(src.read_bytes()).decode().splitlines()
    depth = [i for i, line in enumerate(lines) if "@depth" in line[:80]]
    snap_line = next(i for i, line in enumerate(lines) if '"lastUpdateId"' in line[:60])
    first = msgspec.json.decode(lines[snap_line].split(" ", 1)[1])
    book = {1: {p: q for p, q in first["bids"]}, -1: {p: q for p, q in first["asks"]}}
    after = [i for i in depth if i > snap_line]  # line numbers of the diffs after it
    mid = len(after) // 2
    lost = set(after[mid : mid + drop])
    k = after[mid + drop + resync_after]  # the snapshot is the book after this diff...
    at = after[mid + drop + resync_after + 5]  # ...and arrives with this one
    book_id = first["lastUpdateId"]
    snap_E = snap_T = 0
    for i in depth:
        msg = msgspec.json.decode(lines[i].split(" ", 1)[1])["data"]
        if msg["u"] < book_id:
            continue
        for side, key in ((1, "b"), (-1, "a")):
            for p, q in msg[key]:
                if float(q) == 0.0:
                    book[side].pop(p, None)
                else:
                    book[side][p] = q
        if i == k:
            book_id, snap_E, snap_T = msg["u"], msg["E"], msg["T"]
            break
    snapshot = {
        "lastUpdateId": book_id,
        "E": snap_E,
        "T": snap_T,
        "bids": sorted(book[1].items(), key=lambda x: -float(x[0])),
        "asks": sorted(book[-1].items(), key=lambda x: float(x[0])),
    }
    ts = lines[at].split(" ", 1)[0]
    out = []
    for i, line in enumerate(lines):
        if i in lost:
            continue
        if i == at:
            out.append(f"{ts} {msgspec.json.encode(snapshot).decode()}")
        out.append(line)
    dst.write_bytes(gzip.compress(("\n".join(out) + "\n").encode()))
    return {"lost_ts": int(lines[min(lost)].split(" ", 1)[0]), "resync_ts": int(ts)}


class GapWatcher(TouchQuoter):
    """:class:`TouchQuoter` every 500 ms that does not look at ``synced``, recording the book
    status wake-ups and whether the book was in sync when it sent each order."""

    def __init__(self) -> None:
        super().__init__(interval_ns=500_000_000)
        self.status: list[tuple[int, bool]] = []
        self.sent: dict[int, bool] = {}

    def on_book_status(self, ctx: Context, instrument: int, synced: bool) -> None:
        self.status.append((ctx.now, synced))

    def on_timer(self, ctx: Context) -> None:
        before = set(ctx.orders)
        super().on_timer(ctx)
        for oid in set(ctx.orders) - before:
            self.sent[oid] = ctx.book(0).synced


def test_injected_gap_in_a_real_capture(real_data: Path, tmp_path: Path) -> None:
    """Three depth messages dropped from the USD-M capture: the importer flags the diffs until
    the resync snapshot; the simulator holds matching meanwhile (orders sent while the book
    is out of sync are rejected ``book_unsynced``), tells the strategy at the gap and at the
    resync, and counts it all in the summary (the wait for the capture's first snapshot is
    no gap)."""
    src = real_data / USDM_BTC[0]
    capture = tmp_path / "btcusdt_20240808.gz"
    where = _capture_with_gap(src, capture)
    summary = import_files("binance-capture", [capture], tmp_path / "store")
    (isum,) = summary.instruments
    assert (isum.gaps, isum.resyncs) == (1, 1)
    flagged = isum.rows["depth.unsynced"]
    store = Store(tmp_path / "store")
    strat = GapWatcher()
    res = run_backtest(store.events(), strat, _config("risk_averse"))
    s = res.summary["instruments"][KEY]
    assert (s["unsynced_rows"], s["sync_gaps"]) == (flagged, 1)
    # out of sync from the first lost message's successor until the resync snapshot (exchange
    # times are the local ones here: the recorder's clock is behind the venue's)
    assert where["resync_ts"] - where["lost_ts"] < s["unsynced_s"] * 1e9 < 30e9
    # told: before the first snapshot, then at the gap and at the resync
    assert [synced for _, synced in strat.status] == [False, True, False, True]
    gap_start, gap_end = strat.status[2][0], strat.status[3][0]
    assert where["lost_ts"] < gap_start < gap_end == where["resync_ts"]
    rows = res.orders.to_pylist()
    answer = {r["order_id"]: r for r in rows if r["event"] in ("accepted", "rejected")}
    stale = [oid for oid, synced in strat.sent.items() if not synced]
    assert len(stale) >= 2 * 4  # quoted (blindly) at every timer in the gap
    assert all(answer[oid]["reason"] == "book_unsynced" for oid in stale)
    fresh = [oid for oid, synced in strat.sent.items() if synced]
    assert not any(answer[oid]["reason"] == "book_unsynced" for oid in fresh[-10:])
    _check_run(res, store.events(), KEY)
    # `hftlab backtest` on the same store: the summary file counts it, the console says it
    out = tmp_path / "run"
    cli = CliRunner().invoke(
        app,
        [
            "backtest",
            "--data",
            str(tmp_path / "store"),
            "--strategy",
            "hftlab.strategies.simple_quoter:SimpleQuoter",
            "--out",
            str(out),
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert "book sync binance-futures/BTCUSDT: 1 gap(s) in the depth data" in cli.output
    saved = json.loads((out / "summary.json").read_text())["instruments"][KEY]
    assert (saved["unsynced_rows"], saved["sync_gaps"]) == (flagged, 1)
