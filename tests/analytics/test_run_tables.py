"""Run-folder metrics on small hand-written run folders whose answers are worked out by hand.

The folders have the schema ``BacktestResult.save`` writes (state, orders, fills, summary);
every expected value below is computed in the comments from the rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hftlab.analytics import (
    compute_metrics,
    equity_series,
    fill_rate_by_distance,
    load_run,
    order_events,
    parse_interval,
    pnl_returns,
    position_series,
    request_latency,
    risk_summary,
    run_inventory,
    run_order_stats,
    run_pnl_decomposition,
)
from hftlab.analytics.metrics import OrderEventType
from hftlab.errors import ConfigError, DataError

S = 1_000_000_000
T0 = 1_700_000_000 * S

ORDER_FIELDS = (
    "ts_local",
    "ts_exchange",
    "order_id",
    "instrument",
    "event",
    "side",
    "price",
    "qty",
    "filled",
    "last_qty",
    "last_price",
    "liquidity",
    "fee",
)


def _orders(rows: list[tuple[Any, ...]], symbols: tuple[str, ...]) -> pa.Table:
    cols = {name: [r[i] for r in rows] for i, name in enumerate(ORDER_FIELDS)}
    inst = np.array(cols["instrument"], np.int32)
    return pa.table(
        {
            "ts_local": pa.array(cols["ts_local"], pa.int64()),
            "ts_exchange": pa.array(cols["ts_exchange"], pa.int64()),
            "order_id": pa.array(cols["order_id"], pa.int64()),
            "instrument": pa.array(inst, pa.int32()),
            "symbol": pa.array([symbols[i] for i in inst], pa.string()).dictionary_encode(),
            "event": pa.array(cols["event"], pa.string()),
            "status": pa.array(["x"] * len(rows), pa.string()),
            "side": pa.array(cols["side"], pa.int8()),
            "price": pa.array(cols["price"], pa.float64()),
            "qty": pa.array(cols["qty"], pa.float64()),
            "filled": pa.array(cols["filled"], pa.float64()),
            "last_qty": pa.array(cols["last_qty"], pa.float64()),
            "last_price": pa.array(cols["last_price"], pa.float64()),
            "liquidity": pa.array(cols["liquidity"], pa.string()),
            "fee": pa.array(cols["fee"], pa.float64()),
            "cash_delta": pa.array([0.0] * len(rows), pa.float64()),
            "reason": pa.array([""] * len(rows), pa.string()),
        }
    )


def _state(rows: list[tuple[int, int, float, float, float, float]], symbols: tuple[str, ...]):
    """rows: (ts, instrument, mid, position, cash, equity)."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    inst = a[:, 1].astype(np.int32)
    n = len(rows)
    return pa.table(
        {
            "ts": pa.array([r[0] for r in rows], pa.int64()),
            "instrument": pa.array(inst, pa.int32()),
            "symbol": pa.array([symbols[i] for i in inst], pa.string()).dictionary_encode(),
            "mid": a[:, 2],
            "position": a[:, 3],
            "cash": a[:, 4],
            "fees": np.zeros(n),
            "equity": a[:, 5],
            "bid": np.full(n, np.nan),
            "ask": np.full(n, np.nan),
            "bid_qty": np.zeros(n),
            "ask_qty": np.zeros(n),
            "notional": np.zeros(n),
        }
    )


def write_run(
    path: Path,
    orders: list[tuple[Any, ...]],
    state: list[tuple[int, int, float, float, float, float]],
    *,
    symbols: tuple[str, ...] = ("t/X",),
    summary: dict[str, Any] | None = None,
    run_info: dict[str, Any] | None = None,
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    o = _orders(orders, symbols)
    fills = o.filter(pa.compute.equal(o["event"], "fill")).drop_columns(
        ["status", "filled", "qty", "price", "reason"]
    )
    pq.write_table(o, path / "orders.parquet")
    pq.write_table(fills, path / "fills.parquet")
    pq.write_table(_state(state, symbols), path / "state.parquet")
    base = {
        "events": 10,
        "first_ts": T0,
        "last_ts": None,
        "strategy": "Hand",
        "instruments": {s: {"contract_type": "spot", "tick_size": 1.0} for s in symbols},
    }
    base.update(summary or {})
    (path / "summary.json").write_text(json.dumps(base))
    (path / "run.json").write_text(json.dumps(run_info or {}))
    return path


# Order 1: new, modify, partial fill, cancel. Order 2: rejected. Order 3: new, filled at once.
# Order 4: sent at the end, never answered. Exchange stamps are 300 ns after the send (500 for
# the cancel); responses arrive 400 ns after the exchange stamp (500 for the modify).
ORDERS = [
    # ts_local, ts_exch, id, inst, event, side, price, qty, filled, last_qty, last_px, liq, fee
    (T0 + 0, None, 1, 0, "sent_new", 1, 99.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 100, None, 2, 0, "sent_new", -1, 99.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 200, None, 3, 0, "sent_new", -1, 102.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 700, T0 + 300, 1, 0, "accepted", 1, 99.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 800, T0 + 400, 2, 0, "rejected", -1, 99.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 900, T0 + 500, 3, 0, "accepted", -1, 102.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 1000, None, 1, 0, "sent_modify", 1, 100.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 1000, T0 + 600, 3, 0, "fill", -1, 102.0, 1.0, 1.0, 1.0, 102.0, "maker", -0.01),
    (T0 + 1800, T0 + 1300, 1, 0, "modified", 1, 100.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 2400, T0 + 2000, 1, 0, "fill", 1, 100.0, 1.0, 0.4, 0.4, 100.0, "maker", -0.004),
    (T0 + 3000, None, 1, 0, "sent_cancel", 1, 100.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
    (T0 + 3900, T0 + 3500, 1, 0, "canceled", 1, 100.0, 1.0, 0.4, 0.0, 0.0, "", 0.0),
    (T0 + 5000, None, 4, 0, "sent_new", 1, 98.0, 1.0, 0.0, 0.0, 0.0, "", 0.0),
]
# Mid 101 throughout; position after the fills: −1 (t=600) then −0.6 (t=2000).
STATE = [
    (T0, 0, 101.0, 0.0, 0.0, 0.0),
    (T0 + 1000, 0, 101.0, -1.0, 102.01, 1.01),
    (T0 + 4000, 0, 101.0, -0.6, 62.014, 1.414),
]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run", ORDERS, STATE)


def test_request_response_pairing_and_latencies(run: Path) -> None:
    lat = request_latency(run)
    # entry: exchange stamp − send: new 300 (orders 1, 2, 3), modify 300, cancel 500
    assert lat.entry.count == 5
    assert lat.entry.min == 300 and lat.entry.max == 500
    assert lat.entry.mean == pytest.approx((4 * 300 + 500) / 5)
    # round trip, send → ack received: 700, 700, 700 (new), 800 (modify), 900 (cancel)
    assert sorted([lat.ack.min, lat.ack.max]) == [700, 900]
    assert lat.ack.mean == pytest.approx((3 * 700 + 800 + 900) / 5)
    # response: every response's local − exchange: 6×400 and the modify's 500
    assert lat.response.count == 7
    assert lat.response.mean == pytest.approx((6 * 400 + 500) / 7)
    # sent → first fill: order 1 2400 − 0, order 3 1000 − 200
    assert lat.to_fill.count == 2
    assert (lat.to_fill.min, lat.to_fill.max) == (800, 2400)
    assert lat.n_unanswered == 1


def test_order_events_table(run: Path) -> None:
    ev = order_events(run)
    kinds = [OrderEventType(int(k)).name for k in ev["type"]]
    # exchange-time order: accept 1 (300), accept 3 (500), fill 3 (600), modify 1 (1300),
    # fill 1 (2000), cancel 1 (3500); the rejected order 2 is left out
    assert kinds == ["NEW", "NEW", "FILL", "MODIFY", "FILL", "CANCEL"]
    assert ev["order_id"].tolist() == [1, 3, 3, 1, 1, 1]
    assert (ev["ts_exchange"] - T0).tolist() == [300, 500, 600, 1300, 2000, 3500]
    # request rows carry the send time, fills their receive time
    assert (ev["ts_local"] - T0).tolist() == [0, 200, 1000, 1000, 2400, 3000]
    assert ev["qty"].tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.4, 0.6])
    assert ev["leaves_qty"].tolist() == pytest.approx([1.0, 1.0, 0.0, 1.0, 0.6, 0.0])


def test_quote_statistics(run: Path) -> None:
    st = run_order_stats(run)
    assert st.n_orders == 2 and st.n_hit == 2 and st.hit_rate.value == 1.0
    # quoted: new 1 + new 1 + modify 1 = 3; filled 1 + 0.4
    assert st.fill_rate.value == pytest.approx(1.4 / 3)
    # messages (2 new + 1 modify + 1 cancel) per fill (2)
    assert st.order_to_trade.value == pytest.approx(2.0)
    # lifetimes, exchange clock: order 1 300 → 3500, order 3 500 → 600
    assert st.lifetime_ns.count == 2
    assert (st.lifetime_ns.min, st.lifetime_ns.max) == (100, 3200)
    m = compute_metrics(run, feed_latency=False)
    assert m["quote_lifetime_mean_ms"] == pytest.approx(1650 / 1e6)
    assert m["quote_hit_rate"] == 1.0 and m["rejected"] == 1 and m["orders_sent"] == 4


def test_fill_rate_by_distance(run: Path) -> None:
    f = fill_rate_by_distance(run, 0)
    assert f.unit == "ticks"
    # quotes (mid 101, tick 1): order 1 bid 99 → 2 ticks, its modify to 100 → 1 tick,
    # order 3 ask 102 → 1 tick. Fills: 0.4 of the modified bid, 1.0 of the ask.
    assert f.distance.tolist() == [1.0, 2.0]
    assert f.n_quotes.tolist() == [2, 1]
    assert f.offered.tolist() == pytest.approx([2.0, 1.0])
    assert f.filled.tolist() == pytest.approx([1.4, 0.0])
    assert f.fill_rate.tolist() == pytest.approx([0.7, 0.0])
    wide = fill_rate_by_distance(run, 0, bucket=5.0)
    assert wide.distance.tolist() == [0.0] and wide.fill_rate.tolist() == pytest.approx([1.4 / 3])
    with pytest.raises(ConfigError):
        fill_rate_by_distance(run, 0, bucket=0)


def test_position_inventory_and_time_at_limit(tmp_path: Path) -> None:
    # buy 1 at 10 s, buy 1 at 20 s (at the limit 2), sell 2 at 30 s; the run ends at 40 s
    def fill(t: int, oid: int, side: int, q: float) -> tuple[Any, ...]:
        return (T0 + t * S, T0 + t * S, oid, 0, "fill", side, 100.0, q, q, q, 100.0, "maker", 0.0)

    orders = [fill(10, 1, 1, 1.0), fill(20, 2, 1, 1.0), fill(30, 3, -1, 2.0)]
    state = [(T0 + t * S, 0, 100.0, 0.0, 0.0, 0.0) for t in (0, 40)]
    run = write_run(
        tmp_path / "inv",
        orders,
        state,
        run_info={"strategy_config": {"max_position": 2.0}},
    )
    ts, pos = position_series(run, 0)
    assert ((ts - T0) // S).tolist() == [0, 10, 20, 30]
    assert pos.tolist() == [0.0, 1.0, 2.0, 0.0]
    inv = run_inventory(run, 0)
    # mean |position| = (0·10 + 1·10 + 2·10 + 0·10) / 40 = 0.75; volume 4
    assert inv.mean_abs_position == pytest.approx(0.75)
    assert inv.turnover.value == pytest.approx(4 / 0.75)
    assert inv.time_at_limit_ns == 10 * S and inv.time_at_long_limit_ns == 10 * S
    m = compute_metrics(run, feed_latency=False)
    assert m["time_at_limit_s"] == 10.0 and m["time_at_limit_fraction"] == 0.25
    assert m["position_limit"] == 2.0
    # the risk manager's per-symbol limit, when tighter, is the one the run was held to
    info = {"strategy_config": {"max_position": 2.0}, "risk_config": {"max_position": {"X": 0.9}}}
    (run / "run.json").write_text(json.dumps(info))
    m = compute_metrics(run, feed_latency=False)
    assert m["position_limit"] == 0.9 and m["time_at_limit_s"] == 20.0  # |pos| ≥ 0.9 10 s → 30 s
    # no limit in the config: no time-at-limit figure
    (run / "run.json").write_text("{}")
    m = compute_metrics(run, feed_latency=False)
    assert m["position_limit"] is None and m["time_at_limit_s"] is None
    assert m["inventory_turnover"] == pytest.approx(4 / 0.75)


def test_equity_nan_mid_and_instrument_sum(tmp_path: Path) -> None:
    syms = ("t/A", "t/B")
    state = [
        (T0, 0, 10.0, 0.0, 0.0, 0.0),
        (T0, 1, 20.0, 0.0, 0.0, 5.0),
        (T0 + S, 0, 11.0, 1.0, -10.0, 1.0),
        (T0 + S, 1, 21.0, 0.0, 0.0, 5.0),
        (T0 + 2 * S, 0, float("nan"), 1.0, -10.0, float("nan")),  # one-sided book
        (T0 + 2 * S, 1, 22.0, 0.0, 0.0, 6.0),
    ]
    run = write_run(tmp_path / "eq", [], state, symbols=syms)
    ts, eq = equity_series(run)
    assert (ts - T0).tolist() == [0, S, 2 * S]
    assert eq.tolist() == [5.0, 6.0, 7.0]  # A's NaN sample carries its 1.0 forward
    assert equity_series(run, 1).values.tolist() == [5.0, 5.0, 6.0]
    r = pnl_returns(run, "1s")
    assert (r.ts - T0).tolist() == [S, 2 * S] and r.values.tolist() == [1.0, 1.0]
    assert load_run(run).instruments == syms
    with pytest.raises(ConfigError, match="instrument 2 is not in run eq"):
        equity_series(run, 2)


def test_returns_at_an_interval(tmp_path: Path) -> None:
    # equity 0 at 0 s, 2 at 0.5 s, 3 at 1.5 s, 1 at 2.2 s; on a 1 s grid: 0, 2, 3 → returns 2, 1
    state = [
        (T0 + int(t * S), 0, 100.0, 0.0, e, e) for t, e in ((0, 0), (0.5, 2), (1.5, 3), (2.2, 1))
    ]
    run = write_run(tmp_path / "ret", [], state)
    assert pnl_returns(run, "1s").values.tolist() == [2.0, 1.0]
    assert pnl_returns(run, "500ms").values.tolist() == [2.0, 0.0, 1.0, 0.0]
    assert parse_interval("250ms") == 250_000_000
    assert parse_interval("5min") == 300 * S and parse_interval("1h") == 3600 * S
    for bad in ("1 parsec", "0s", "-1s", "s"):
        with pytest.raises(ConfigError):
            parse_interval(bad)


def test_inverse_pnl_decomposition_in_coin(tmp_path: Path) -> None:
    # Inverse contract of 100 USD. Buy 10 at 50 000 (mid 50 001), sell 10 at 50 100 (mid
    # 50 099); fees 0.00001 coin each. Round trip: 10·100·(1/50 000 − 1/50 100) − 0.00002 coin.
    k = 100.0
    orders = [
        (T0 + S, T0 + S, 1, 0, "fill", 1, 50_000.0, 10.0, 10.0, 10.0, 50_000.0, "maker", 1e-5),
        (
            T0 + 3 * S,
            T0 + 3 * S,
            2,
            0,
            "fill",
            -1,
            50_100.0,
            10.0,
            10.0,
            10.0,
            50_100.0,
            "maker",
            1e-5,
        ),
    ]
    state = [
        (T0, 0, 50_000.0, 0.0, 0.0, 0.0),
        (T0 + S, 0, 50_001.0, 10.0, 0.0, 0.0),
        (T0 + 2 * S, 0, 50_050.0, 10.0, 0.0, 0.0),
        (T0 + 3 * S, 0, 50_099.0, 0.0, 0.0, 0.0),
        (T0 + 4 * S, 0, 50_200.0, 0.0, 0.0, 0.0),
    ]
    summary = {"instruments": {"t/X": {"contract_type": "inverse", "contract_size": k}}}
    run = write_run(tmp_path / "inv", orders, state, summary=summary)
    d = run_pnl_decomposition(run, 0)
    total = 10 * k * (1 / 50_000 - 1 / 50_100) - 2e-5
    spread = 10 * k * (1 / 50_000 - 1 / 50_001) - 10 * k * (1 / 50_100 - 1 / 50_099)
    # position 10 held while the mid went 50 001 → 50 050 → 50 099: Σ P·Δ(−1/mid)
    inventory = 10 * k * (1 / 50_001 - 1 / 50_050) + 10 * k * (1 / 50_050 - 1 / 50_099)
    assert d.total == pytest.approx(total, rel=1e-12)
    assert d.spread == pytest.approx(spread, rel=1e-9)
    assert d.inventory == pytest.approx(inventory, rel=1e-9)
    assert d.fees == pytest.approx(-2e-5)
    assert d.start_mid == 50_000.0 and d.end_mid == 50_200.0
    assert d.notional == pytest.approx(10 * k / 50_000 + 10 * k / 50_100)
    assert d.total > 0  # a linear reading (Σ s·q·Δp) would give 10·100·100 = 100 000


def test_risk_counts_from_risk_parquet(run: Path) -> None:
    assert risk_summary(run).total == 0
    rows = [
        ("max_position", "block_order"),
        ("max_position", "block_order"),
        ("max_position", "block_order"),
        ("stale_feed", "pull_quotes"),
        ("stale_feed", "resume"),
        ("max_loss", "kill"),
        ("max_loss", "flatten"),
    ]
    n = len(rows)
    pq.write_table(
        pa.table(
            {
                "ts_local": pa.array([T0 + 100 * i for i in range(n)], pa.int64()),
                "instrument": ["t/X"] * n,
                "rule": [r for r, _ in rows],
                "action": [a for _, a in rows],
                "value": [1.0] * n,
                "limit": [1.0] * n,
                "detail": [""] * n,
            }
        ),
        run / "risk.parquet",
    )
    s = risk_summary(run)
    assert s.triggers["max_position"] == 3 and s.triggers["stale_feed"] == 1
    assert s.triggers["max_loss"] == 1 and s.triggers["order_rate"] == 0
    assert s.total == 5 and s.killed and s.kill_ts == T0 + 500
    assert s.actions["resume"] == 1 and s.actions["flatten"] == 1
    m = compute_metrics(run, feed_latency=False)
    assert (m["risk_triggers"], m["risk_max_position"], m["risk_kills"]) == (5, 3, 1)
    assert m["risk_killed"] == 1 and m["risk_kill_ts"] == T0 + 500
    pq.write_table(pa.table({"ts_local": [1], "rule": ["x"]}), run / "risk.parquet")
    with pytest.raises(DataError, match=r"risk\.parquet: missing column"):
        load_run(run)


def test_risk_counts_from_summary(tmp_path: Path) -> None:
    risk = {"triggers": {"order_rate": 2, "max_notional": 1}, "killed": True, "kill_ts": 42}
    run = write_run(tmp_path / "r", ORDERS, STATE, summary={"risk": risk})
    s = risk_summary(run)
    assert s.triggers["order_rate"] == 2 and s.triggers["max_notional"] == 1 and s.total == 3
    assert s.killed and s.kill_ts == 42


def test_annualised_when_the_span_is_long_enough(tmp_path: Path) -> None:
    # hourly equity over two days: +3, −1, +3, −1, …  (48 returns at 1 h, a 2-day span)
    steps = np.tile([3.0, -1.0], 24)
    equity = np.r_[0.0, np.cumsum(steps)]
    state = [(T0 + i * 3600 * S, 0, 100.0, 0.0, e, e) for i, e in enumerate(equity)]
    run = write_run(tmp_path / "long", [], state)
    m = compute_metrics(run, interval="1h", feed_latency=False)
    assert m["n_returns"] == 48
    # mean 1, sample sd = 2·√(48/47): Sharpe per hour = √47 / (2·√48); a year has 8760 hours
    per_hour = 1.0 / (2.0 * math.sqrt(48 / 47))
    assert m["sharpe_per_period"] == pytest.approx(per_hour)
    assert m["sharpe"] == pytest.approx(per_hour * math.sqrt(8760))
    assert m["sharpe_reason"] is None
    # Sortino: downside deviation √(24·1/48) = √0.5
    assert m["sortino"] == pytest.approx(1.0 / math.sqrt(0.5) * math.sqrt(8760))
    # Calmar: the largest drawdown is one −1 step; mean 1 per hour → 8760 per year
    assert m["calmar"] == pytest.approx(8760.0)
    assert m["max_drawdown"] == 1.0 and m["max_drawdown_duration_s"] == 2 * 3600.0
    # at 1 min the same run is 2880 returns, mostly 0 — still a 2-day span, still annualised
    assert compute_metrics(run, interval="1min", feed_latency=False)["sharpe"] is not None
