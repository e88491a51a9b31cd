"""The risk manager on real backtests over synthetic markets: every rule, its action, its
guarantee, the results schema, determinism and config errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hftlab.backtest import run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.data.store import Store, write_table
from hftlab.data.synthetic import synthesize_events, synthesize_tables
from hftlab.errors import ConfigError
from hftlab.events import Channel
from hftlab.risk import RISK_REJECT_CODES, RISK_SCHEMA, RULES, RiskConfig, RiskManager
from hftlab.sim.config import Fees, LatencyModel, SimConfig
from hftlab.sim.core import SimCore
from hftlab.strategies.simple_quoter import SimpleQuoter, SimpleQuoterConfig
from hftlab.strategy import Fill, Order, OrderStatus, Strategy
from hftlab.strategy.context import Context

MS = 1_000_000
SEC = 1_000_000_000
FEES = SimConfig(
    fees=Fees(maker=-0.0001, taker=0.0004),
    entry_latency=LatencyModel(value_us=300.0),
    response_latency=LatencyModel(value_us=200.0),
)
KEY = "synth/BTCUSDT"


@pytest.fixture(scope="module")
def market() -> tuple[np.ndarray, list]:
    return synthesize_events(events=40_000, instruments=["BTCUSDT"], seed=11)


def quoter(**kw: float) -> SimpleQuoter:
    return SimpleQuoter(SimpleQuoterConfig(**{"size": 0.001, "max_position": 0.01, **kw}))


def rows(res: BacktestResult, **match: str) -> list[dict]:
    return [r for r in res.risk.to_pylist() if all(r[k] == v for k, v in match.items())]


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal tables, NaN equal to NaN (Arrow's ``equals`` says NaN != NaN)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x = a[name].to_numpy(zero_copy_only=False)
        y = b[name].to_numpy(zero_copy_only=False)
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


def sent_new(res: BacktestResult) -> np.ndarray:
    o = res.orders.filter(pc.equal(res.orders["event"], "sent_new"))
    return o["ts_local"].to_numpy()


class Recorder(Strategy):
    """Base of the test strategies: records every callback's time and every refused order."""

    def __init__(self, size: float = 0.001, interval_ms: float = 50.0) -> None:
        super().__init__()
        self.size = size
        self.interval = int(interval_ms * MS)
        self.calls: list[int] = []
        self.timers = 0
        self.refused: list[Order] = []
        self.updates: list[tuple[int, int, int]] = []  # (id, status, reject_reason)

    def on_start(self, ctx: Context) -> None:
        ctx.every(self.interval)

    def on_order_update(self, ctx: Context, order: Order) -> None:
        self.calls.append(ctx.now)
        self.updates.append((order.id, int(order.status), order.reject_reason))

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        self.calls.append(ctx.now)

    def send(self, order: Order) -> None:
        if order.status == OrderStatus.REJECTED:
            self.refused.append(order)


class Churner(Recorder):
    """Crosses the spread both ways (market orders): loses the spread and taker fees."""

    def on_timer(self, ctx: Context) -> None:
        self.calls.append(ctx.now)
        self.timers += 1
        side = ctx.buy if self.timers % 2 else ctx.sell
        self.send(side(self.size))


class Accumulator(Recorder):
    """Buys at market every timer: builds a long position and pays taker fees."""

    def on_timer(self, ctx: Context) -> None:
        self.calls.append(ctx.now)
        self.send(ctx.buy(self.size))


class Hoarder(Recorder):
    """Wants ever more: a resting bid at the touch, a market buy and a growing modify each
    timer; after ``flip_after`` timers it cancels everything and does the same selling."""

    flip_after = 400

    def on_timer(self, ctx: Context) -> None:
        self.calls.append(ctx.now)
        self.timers += 1
        book = ctx.book(0)
        if not book.has_both_sides:
            return
        if self.timers == self.flip_after:
            ctx.cancel_all()
        if self.timers < self.flip_after:
            self.send(ctx.buy(self.size, book.best_bid, tif="gtc"))
            self.send(ctx.buy(self.size))
            side = 1
        else:
            self.send(ctx.sell(self.size, book.best_ask, tif="gtc"))
            self.send(ctx.sell(self.size))
            side = -1
        for o in ctx.open_orders(0):
            if o.side == side and o.status != OrderStatus.PENDING:
                ctx.modify(o, qty=o.qty + self.size)
                break


# ---------------------------------------------------------------------------- kill switch
@pytest.mark.parametrize("rule", ["max_loss", "max_drawdown"])
def test_kill_switch_stops_trading(market: tuple, rule: str) -> None:
    ev, insts = market
    strat = Churner(size=0.01)
    risk = RiskConfig(**{rule: 2.0}, check_interval_ms=20.0)
    res = run_backtest([ev], strat, FEES, instruments=insts, risk=risk)
    s = res.summary["risk"]
    assert s["killed"] is True
    kill_ts = s["kill_ts"]
    assert s["triggers"][rule] == 1
    (kill,) = rows(res, action="kill")
    assert kill["rule"] == rule and kill["ts_local"] == kill_ts and kill["instrument"] == ""
    assert kill["value"] > kill["limit"] == 2.0
    # Trading went on before the kill and stopped at it: no order sent, no callback after.
    sent = sent_new(res)
    assert np.any(sent < kill_ts)
    assert not np.any(sent > kill_ts)
    assert max(strat.calls) <= kill_ts
    assert ev["ts_local"][-1] > kill_ts + 10 * SEC  # the data went on well after


def test_kill_switch_flattens_to_zero(market: tuple) -> None:
    ev, insts = market
    strat = Accumulator(size=0.01, interval_ms=200)
    risk = RiskConfig(max_loss=1.0, flatten_on_kill=True, check_interval_ms=20.0)
    res = run_backtest([ev], strat, FEES, instruments=insts, risk=risk)
    kill_ts = res.summary["risk"]["kill_ts"]
    assert kill_ts is not None
    flat = rows(res, action="flatten")
    assert flat and flat[0]["ts_local"] == kill_ts and flat[0]["value"] > 0
    assert all(r["rule"] == "max_loss" and r["instrument"] == KEY for r in flat)
    # Only the flatten orders were sent after the kill, and the position ended at zero.
    orders = res.orders.to_pylist()
    after = [o for o in orders if o["event"] == "sent_new" and o["ts_local"] >= kill_ts]
    flat_ids = {int(r["detail"].split(":")[0].split()[1]) for r in flat}
    assert {o["order_id"] for o in after} == flat_ids
    assert all(o["side"] == -1 for o in after)
    assert res.summary["instruments"][KEY]["position"] == pytest.approx(0.0, abs=1e-12)
    bought = sum(o["last_qty"] for o in orders if o["event"] == "fill" and o["side"] > 0)
    assert bought > 0.01  # it did hold a position before


def test_flatten_with_ioc_slippage(market: tuple) -> None:
    ev, insts = market
    risk = RiskConfig(
        max_loss=1.0, flatten_on_kill=True, flatten_slippage_ticks=5, check_interval_ms=20.0
    )
    res = run_backtest([ev], Accumulator(0.01, 200), FEES, instruments=insts, risk=risk)
    flat = rows(res, action="flatten")
    assert flat and all(" ioc" in r["detail"] for r in flat)
    assert res.summary["instruments"][KEY]["position"] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------- position
def _running_position(res: BacktestResult) -> np.ndarray:
    """The exchange-side position after each fill, in exchange-time order."""
    f = res.fills.sort_by([("ts_exchange", "ascending")])
    return np.cumsum(f["side"].to_numpy().astype(float) * f["last_qty"].to_numpy())


def test_max_position_is_never_exceeded(market: tuple) -> None:
    """Guarantee: |position| <= max_position at every instant at the exchange, because an order
    is refused when position + every open order on its side (at the largest size requested)
    + the order could pass the limit."""
    ev, insts = market
    strat = Hoarder(size=0.001, interval_ms=100)
    strat.flip_after = int((ev["ts_local"][-1] - ev["ts_local"][0]) / (100 * MS) / 2)
    limit = 0.004
    res = run_backtest([ev], strat, FEES, instruments=insts, risk=RiskConfig(max_position=limit))
    pos = _running_position(res)
    assert np.max(np.abs(pos)) <= limit + 1e-12
    assert np.max(pos) == pytest.approx(limit)  # it got there (the rule was what stopped it)
    assert np.min(pos) == pytest.approx(-limit)
    blocks = rows(res, rule="max_position", action="block_order")
    assert blocks and all(r["limit"] == pytest.approx(limit) for r in blocks)
    assert all(r["value"] > limit for r in blocks)
    assert any("modify order" in r["detail"] for r in blocks)
    # The strategy saw each refused new order as REJECTED with the risk reason, and got an
    # on_order_update for it; refused orders were never sent.
    code = RISK_REJECT_CODES["max_position"]
    assert strat.refused and all(o.reject_reason == code and o.id < 0 for o in strat.refused)
    updated = {oid for oid, st, _ in strat.updates if st == OrderStatus.REJECTED}
    assert {o.id for o in strat.refused} <= updated
    # A refused modify: on_order_update with the live order, unchanged, carrying the reason.
    assert any(
        oid > 0 and st != OrderStatus.REJECTED and rj == code for oid, st, rj in strat.updates
    )
    assert not set(res.orders["order_id"].to_pylist()) & {o.id for o in strat.refused}
    n_new_blocks = sum(1 for r in blocks if "modify order" not in r["detail"])
    assert n_new_blocks == len(strat.refused)


def test_per_instrument_position_limit_table(market: tuple) -> None:
    ev, insts = market
    limits = {"BTCUSDT": 0.002}
    res = run_backtest(
        [ev], Hoarder(0.001, 100), FEES, instruments=insts, risk=RiskConfig(max_position=limits)
    )
    assert np.max(np.abs(_running_position(res))) <= 0.002 + 1e-12
    with pytest.raises(ConfigError, match="max_position names 'DOGEUSDT'"):
        run_backtest(
            [ev],
            Hoarder(),
            FEES,
            instruments=insts,
            risk=RiskConfig(max_position={"DOGEUSDT": 1.0}),
        )


def test_max_notional_and_leverage(market: tuple) -> None:
    ev, insts = market
    mid = float(np.median(ev["price"][ev["price"] > 0])) * insts[0].tick_size
    capital = 100.0
    risk = RiskConfig(capital=capital, max_leverage=3.0, max_notional=1e9)
    res = run_backtest([ev], Hoarder(0.001, 100), FEES, instruments=insts, risk=risk)
    blocks = rows(res, rule="max_notional", action="block_order")
    assert blocks and all(r["limit"] == pytest.approx(300.0) for r in blocks)
    assert all(r["value"] > 300.0 for r in blocks)
    # Position x price stays within the limit (up to the price moving after the check).
    assert np.max(np.abs(_running_position(res))) * mid <= 300.0 * 1.05


# ---------------------------------------------------------------------------- stale feed
@pytest.fixture(scope="module")
def gap_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A real store whose feed is silent (every channel) over the middle fifth of its span."""
    data = synthesize_tables(events=40_000, instruments=["BTCUSDT"], seed=3)
    t0 = min(int(t["ts_local"][0].as_py()) for t in data.tables.values())
    t1 = max(int(t["ts_local"][-1].as_py()) for t in data.tables.values())
    gap = (t0 + 2 * (t1 - t0) // 5, t0 + 3 * (t1 - t0) // 5)
    assert gap[1] - gap[0] > 2 * SEC
    root = tmp_path_factory.mktemp("risk") / "store"
    store = Store(root, create=True)
    inst = data.instruments[0]
    for (_, channel), table in data.tables.items():
        ts = table["ts_local"]
        keep = pc.or_(pc.less(ts, gap[0]), pc.greater_equal(ts, gap[1]))
        write_table(store, inst, Channel(channel), table.filter(keep))
    return root, *gap


def test_stale_feed_pulls_quotes_and_resumes(gap_store: tuple[Path, int, int]) -> None:
    root, g0, g1 = gap_store
    risk = RiskConfig(stale_feed_ms=500.0, check_interval_ms=50.0)
    res = run_backtest(Store(root).events(), quoter(), FEES, risk=risk)
    pulls = [r for r in rows(res, rule="stale_feed", action="pull_quotes") if g0 <= r["ts_local"]]
    assert pulls, res.risk.to_pylist()[:5]
    pull = pulls[0]
    assert g0 + 500 * MS < pull["ts_local"] <= g0 + 550 * MS
    assert pull["instrument"] == KEY and pull["value"] > pull["limit"] == 500.0
    resume = next(
        r for r in rows(res, rule="stale_feed", action="resume") if r["ts_local"] > pull["ts_local"]
    )
    assert g1 <= resume["ts_local"] <= g1 + 150 * MS
    t_pull, t_resume = pull["ts_local"], resume["ts_local"]
    orders = res.orders.to_pylist()
    # The orders open at the pull were cancelled then...
    open_ids: set[int] = set()
    for o in orders:
        if o["ts_local"] >= t_pull:
            break
        if o["event"] == "sent_new":
            open_ids.add(o["order_id"])
        elif o["event"] in ("canceled", "rejected", "expired") or o["status"] == "filled":
            open_ids.discard(o["order_id"])
    assert open_ids
    cancels = {
        o["order_id"] for o in orders if o["event"] == "sent_cancel" and o["ts_local"] == t_pull
    }
    assert open_ids <= cancels
    closed = {
        o["order_id"]
        for o in orders
        if o["ts_local"] < t_resume
        and (o["event"] in ("canceled", "expired") or o["status"] == "filled")
    }
    assert open_ids <= closed
    # ...nothing new was sent during the gap (the quoter kept trying: blocked), and quoting
    # resumed after it.
    sent = sent_new(res)
    assert not np.any((sent > t_pull) & (sent < t_resume))
    assert np.any(sent >= t_resume)
    blocked = [
        r
        for r in rows(res, rule="stale_feed", action="block_order")
        if t_pull < r["ts_local"] < t_resume
    ]
    assert blocked
    assert res.summary["risk"]["triggers"]["stale_feed"] == len(
        rows(res, rule="stale_feed", action="pull_quotes")
    ) + len(rows(res, rule="stale_feed", action="block_order"))


# ---------------------------------------------------------------------------- feed latency
def _latency_spike(ev: np.ndarray, extra_ms: float, skew_ms: float = 0.0) -> tuple:
    """Events with a feed latency of 10 ms + ``skew_ms`` (a recorder clock offset), and
    ``extra_ms`` more during the middle third of the run; ``ts_local`` untouched."""
    out = ev.copy()
    t0, t1 = int(out["ts_local"][0]), int(out["ts_local"][-1])
    s0, s1 = t0 + (t1 - t0) // 3, t0 + 2 * (t1 - t0) // 3
    spike = (out["ts_local"] >= s0) & (out["ts_local"] < s1)
    out["ts_exchange"] = out["ts_local"] - 10 * MS - round(skew_ms * MS)
    out["ts_exchange"][spike] -= round(extra_ms * MS)
    return out, s0, s1


def _pull_windows(res: BacktestResult, rule: str) -> list[tuple[int, int]]:
    out = []
    start = None
    for r in res.risk.to_pylist():
        if r["rule"] != rule:
            continue
        if r["action"] == "pull_quotes":
            start = r["ts_local"]
        elif r["action"] == "resume" and start is not None:
            out.append((start, r["ts_local"]))
            start = None
    if start is not None:
        out.append((start, 2**62))
    return out


@pytest.mark.parametrize(
    ("skew_ms", "baseline"), [(0.0, "none"), (1500.0, "min"), (-700.0, "median")]
)
def test_feed_latency_pulls_quotes(market: tuple, skew_ms: float, baseline: str) -> None:
    ev, insts = market
    ev2, s0, s1 = _latency_spike(ev, extra_ms=300.0, skew_ms=skew_ms)
    risk = RiskConfig(
        max_feed_latency_ms=150.0,
        feed_latency_baseline=baseline,
        feed_latency_window=1_000_000,  # the whole run: the spike is a third of the samples
        check_interval_ms=50.0,
    )
    res = run_backtest([ev2], quoter(), FEES, instruments=insts, risk=risk)
    windows = _pull_windows(res, "feed_latency")
    assert len(windows) == 1, windows  # only the spike; a clock skew alone pulls nothing
    (p0, p1) = windows[0]
    assert s0 <= p0 <= s0 + 100 * MS
    assert s1 <= p1 <= s1 + 100 * MS
    pull = rows(res, rule="feed_latency", action="pull_quotes")[0]
    assert pull["value"] > pull["limit"]
    sent = sent_new(res)
    assert not np.any((sent > p0) & (sent < p1))
    assert np.any(sent > p1) and np.any(sent < p0)


def test_absolute_latency_limit_fires_under_clock_skew(market: tuple) -> None:
    """Why the baseline mode exists: with a recorder clock 1.5 s off, an absolute limit pulls
    quotes for the whole run."""
    ev, insts = market
    ev2, _, _ = _latency_spike(ev, extra_ms=0.0, skew_ms=1500.0)
    risk = RiskConfig(max_feed_latency_ms=150.0, check_interval_ms=50.0)
    res = run_backtest([ev2], quoter(), FEES, instruments=insts, risk=risk)
    ((p0, p1),) = _pull_windows(res, "feed_latency")
    assert p0 <= int(ev2["ts_local"][0]) + 50 * MS and p1 == 2**62  # at the first check, for good
    assert sent_new(res).size == 0


# ---------------------------------------------------------------------------- order rate
class Spammer(Recorder):
    """Requotes at every best bid/ask change: far more requests than the limit allows."""

    def on_start(self, ctx: Context) -> None:
        self.bid: Order | None = None

    def on_quote(self, ctx: Context, instrument: int) -> None:
        self.calls.append(ctx.now)
        book = ctx.book(0)
        if not book.has_both_sides:
            return
        if self.bid is not None and self.bid.is_open:
            if self.bid.status != OrderStatus.PENDING:
                ctx.modify(self.bid, price=book.best_bid - 0.1)
            ctx.cancel(self.bid)
        self.bid = ctx.buy(self.size, book.best_bid - 0.1, tif="post_only")
        self.send(self.bid)


def test_order_rate_throttle(market: tuple) -> None:
    ev, insts = market
    strat = Spammer()
    limit = 20
    res = run_backtest([ev], strat, FEES, instruments=insts, risk=RiskConfig(max_order_rate=limit))
    o = res.orders
    sent = o.filter(pc.starts_with(o["event"], "sent_"))
    req = sent["ts_local"].to_numpy()
    kind = np.array(sent["event"].to_pylist())
    # Guarantee: a new order or modify goes out only if fewer than `limit` requests (any kind)
    # went out in the rolling second (t - 1 s, t] before it. Cancels are never refused (they
    # still count), so only they can take a window past the limit.
    earlier = np.arange(req.size) - np.searchsorted(req, req - SEC, side="right")
    gated = kind != "sent_cancel"
    assert np.max(earlier[gated]) <= limit - 1
    # The budget was used: the throttle, not the strategy, set the pace.
    assert np.max(earlier[gated]) == limit - 1
    blocks = rows(res, rule="order_rate", action="block_order")
    assert len(blocks) == res.summary["risk"]["triggers"]["order_rate"]
    new_blocks = [b for b in blocks if not b["detail"].startswith("modify")]
    assert len(new_blocks) == len(strat.refused) > 0
    assert all(r.reject_reason == RISK_REJECT_CODES["order_rate"] for r in strat.refused)
    assert all(b["limit"] == limit and b["value"] > limit for b in blocks)


# ---------------------------------------------------------------------------- wrapping
def test_wrapper_subscribes_only_to_what_is_needed() -> None:
    plain = RiskManager(quoter())
    assert [
        n
        for n in ("on_quote", "on_book", "on_trade", "on_fill", "on_order_update")
        if plain.wants_callback(n)
    ] == []
    assert plain.wants_callback("on_timer")
    # A loss rule tracks cash, so fills are delivered; nothing else is added.
    lossy = RiskManager(quoter(), RiskConfig(max_loss=1.0))
    assert lossy.wants_callback("on_fill") and not lossy.wants_callback("on_quote")
    assert RiskManager(Spammer()).wants_callback("on_quote")
    with pytest.raises(ConfigError, match="already wrapped"):
        RiskManager(plain)


@pytest.mark.parametrize(
    "rule",
    [
        {"max_position": 1.0},
        {"max_position": {"BTCUSDT": 1.0}},
        {"max_notional": 1e9},
        {"capital": 1e6, "max_leverage": 10.0},
        {"max_loss": 1.0},
        {"max_drawdown": 1.0},
        {"stale_feed_ms": 100.0},
        {"max_feed_latency_ms": 100.0},
        {"max_order_rate": 100},
    ],
)
def test_any_rule_makes_the_manager_gate_and_wrap(market: tuple, rule: dict) -> None:
    _, insts = market
    core = SimCore(insts, SimConfig())
    ctx = Context(core)
    strat = quoter()
    mgr = RiskManager(strat, RiskConfig.from_dict(rule))
    assert not mgr.transparent
    mgr.on_start(ctx)
    assert ctx._gate is mgr
    for name in ("on_timer", "on_quote", "on_fill", "on_order_update", "on_stop"):
        assert mgr.handler(name) == getattr(mgr, name)


def test_default_manager_is_transparent(market: tuple) -> None:
    """Every rule off: no gate, and the engine is handed the strategy's own callbacks."""
    _, insts = market
    core = SimCore(insts, SimConfig())
    ctx = Context(core)
    strat = quoter()
    mgr = RiskManager(strat)
    assert mgr.transparent
    mgr.on_start(ctx)
    assert ctx._gate is None
    assert mgr.handler("on_start") == mgr.on_start  # the manager sets itself up
    for name in ("on_timer", "on_quote", "on_book", "on_trade", "on_fill", "on_stop"):
        assert mgr.handler(name) == getattr(strat, name)

    class Custom(RiskManager):
        def on_timer(self, ctx: Context) -> None:
            super().on_timer(ctx)

    custom = Custom(quoter())
    assert custom.handler("on_timer") == custom.on_timer  # a subclass's override is kept
    assert custom.handler("on_quote") == custom.strategy.on_quote


def test_loose_limits_change_nothing(market: tuple) -> None:
    """Rules that never trigger leave every order, fill and state sample as without risk."""
    ev, insts = market
    base = run_backtest([ev], quoter(), FEES, instruments=insts)
    loose = RiskConfig(
        max_position=1e6,
        max_notional=1e12,
        max_loss=1e9,
        max_drawdown=1e9,
        stale_feed_ms=1e9,
        max_feed_latency_ms=1e9,
        max_order_rate=1_000_000,
        check_interval_ms=10.0,
    )
    res = run_backtest([ev], quoter(), FEES, instruments=insts, risk=loose)
    assert res.risk.num_rows == 0
    assert res.orders.num_rows > 0 and res.fills.num_rows > 0
    assert same(res.orders, base.orders) and same(res.fills, base.fills)
    assert same(res.state, base.state)
    assert res.summary == base.summary | {"risk": res.summary["risk"]}


def test_already_wrapped_strategy_keeps_its_manager(market: tuple) -> None:
    ev, insts = market
    mgr = RiskManager(Churner(0.01), RiskConfig(max_loss=2.0, check_interval_ms=20.0))
    res = run_backtest([ev], mgr, FEES, instruments=insts)
    assert res.summary["risk"]["killed"] and mgr.killed
    assert res.summary["strategy"] == "Churner"
    assert res.run_info["risk_config"]["max_loss"] == 2.0
    with pytest.raises(ConfigError, match="not both"):
        run_backtest([ev], mgr, FEES, instruments=insts, risk=RiskConfig())


# ---------------------------------------------------------------------------- results
def test_results_schema_and_determinism(gap_store: tuple[Path, int, int], tmp_path: Path) -> None:
    root, _, _ = gap_store
    risk = RiskConfig(
        stale_feed_ms=300.0,
        max_position=0.003,
        max_order_rate=30,
        max_drawdown=5.0,
        check_interval_ms=25.0,
    )
    outs = []
    for name in ("a", "b"):
        res = run_backtest(Store(root).events(), quoter(size=0.002), FEES, risk=risk)
        outs.append(res.save(tmp_path / name))
    a, b = outs
    assert (a / "risk.parquet").read_bytes() == (b / "risk.parquet").read_bytes()
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    table = pq.read_table(a / "risk.parquet")
    assert table.schema.equals(RISK_SCHEMA)
    assert table.num_rows > 0
    assert set(table["rule"].to_pylist()) <= set(RULES)
    assert set(table["action"].to_pylist()) <= {
        "block_order",
        "pull_quotes",
        "resume",
        "kill",
        "flatten",
    }
    ts = table["ts_local"].to_numpy()
    assert np.all(np.diff(ts) >= 0)
    summary = json.loads((a / "summary.json").read_text())["risk"]
    assert set(summary) == {"triggers", "killed", "kill_ts"}
    assert set(summary["triggers"]) == set(RULES)
    fired = [r for r in table.to_pylist() if r["action"] in ("block_order", "pull_quotes", "kill")]
    for rule in RULES:
        assert summary["triggers"][rule] == sum(1 for r in fired if r["rule"] == rule)


def test_replay_without_strategy_has_empty_risk(market: tuple, tmp_path: Path) -> None:
    ev, insts = market
    res = run_backtest([ev[:2000]], None, FEES, instruments=insts)
    out = res.save(tmp_path / "r")
    assert pq.read_table(out / "risk.parquet").schema.equals(RISK_SCHEMA)
    assert res.summary["risk"] == {
        "triggers": dict.fromkeys(RULES, 0),
        "killed": False,
        "kill_ts": None,
    }
    assert isinstance(res.risk, pa.Table) and res.risk.num_rows == 0


# ---------------------------------------------------------------------------- config errors
@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"max_loss": -1.0}, r"max_loss = -1\.0: must be a positive number"),
        ({"max_position": 0}, "max_position = 0"),
        ({"max_position": {"BTCUSDT": -2.0}}, r"max_position\.BTCUSDT"),
        ({"max_leverage": 2.0}, "max_leverage needs capital"),
        ({"stale_feed_ms": float("nan")}, "stale_feed_ms"),
        ({"max_feed_latency_ms": -5.0}, "max_feed_latency_ms"),
        ({"max_feed_latency_ms": -5.0, "feed_latency_baseline": "min"}, "above the min baseline"),
        ({"feed_latency_baseline": "mean"}, "feed_latency_baseline"),
        ({"max_order_rate": 0}, "max_order_rate"),
        ({"check_interval_ms": 0}, "check_interval_ms"),
        ({"flatten_slippage_ticks": -1}, "flatten_slippage_ticks"),
        ({"max_los": 1.0}, "max_los"),
        ({"max_loss": "a lot"}, "max_loss"),
    ],
)
def test_config_errors_name_the_key(data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        RiskConfig.from_dict(data)
    assert "\n" not in str(info.value)


def test_manager_equity_matches_the_engine_accounts() -> None:
    """Cash tracked from the fills received (fees included) and positions marked to the local
    mid give the engine's own accounting (fills table, last mids) over two instruments, with
    maker rebates and taker fees."""
    ev, insts = synthesize_events(events=30_000, instruments=["BTCUSDT", "ETHUSDT"], seed=4)

    class Both(SimpleQuoter):
        def on_timer(self, ctx: Context) -> None:
            super().on_timer(ctx)
            if not ctx.open_orders(1) and ctx.book(1).has_both_sides:
                if ctx.position(1) <= 0:
                    ctx.buy(0.01, instrument=1)
                else:
                    ctx.sell(0.01, instrument=1)

    mgr = RiskManager(
        Both(SimpleQuoterConfig(size=0.001, max_position=0.005)),
        RiskConfig(max_loss=1e9, check_interval_ms=50.0),
    )
    res = run_backtest([ev], mgr, FEES, instruments=insts)
    per = res.summary["instruments"]
    assert per["synth/ETHUSDT"]["taker_fills"] > 0 and per["synth/BTCUSDT"]["maker_fills"] > 0
    end = res.summary["last_ts"]
    f = res.fills.filter(pc.less_equal(res.fills["ts_local"], end)).to_pylist()  # delivered
    expected = 0.0
    for i, inst in enumerate(insts):
        mine = [r for r in f if r["instrument"] == i]
        pos = sum(r["side"] * r["last_qty"] for r in mine)
        cash = sum(r["cash_delta"] - r["fee"] for r in mine)
        # The last state sample is at the end of the data: every book row applied, local
        # and exchange books alike.
        mid = res.state.filter(pc.equal(res.state["instrument"], i))["mid"][-1].as_py()
        expected += cash + pos * mid * inst.contract_size
    assert mgr.equity() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert mgr.equity() != 0.0
