"""The Session as the live engine will drive it: tiny chunks, time moving on without data."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pyarrow as pa
import pytest

from hftlab.backtest import BacktestResult, run_backtest
from hftlab.data.synthetic import synthesize_events
from hftlab.engine import RunRecorder, Session
from hftlab.errors import EngineError
from hftlab.events import EventKind, Instrument
from hftlab.risk import RiskConfig
from hftlab.sim.config import Fees, LatencyModel, SimConfig
from hftlab.sim.core import SimCore
from hftlab.strategies.simple_quoter import SimpleQuoter
from hftlab.strategy import Fill, Order, Strategy, Trade
from hftlab.strategy.context import Context

MS = 1_000_000
S = 1_000_000_000


def _config(**kw: object) -> SimConfig:
    return SimConfig(
        fees=Fees(maker=-0.0001, taker=0.0004),
        entry_latency=LatencyModel(value_us=800.0),
        response_latency=LatencyModel(value_us=600.0),
        **kw,  # type: ignore[arg-type]
    )


class _Busy(Strategy):
    """Quotes on a timer, reacts to trades and to every order event: exercises each wake-up."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def on_start(self, ctx: Context) -> None:
        ctx.every(50 * MS)

    def on_timer(self, ctx: Context) -> None:
        self.n += 1
        touch = ctx.book(0).touch_ticks
        if touch is None:
            return
        ctx.cancel_all()
        lot = ctx.instruments[0].lot_size
        ctx.buy(lot, ctx.from_ticks(touch[0]), tif="post_only")
        ctx.sell(lot, ctx.from_ticks(touch[1]), tif="post_only")

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        if self.n % 7 == 0 and trade.qty > 0.05:
            (ctx.buy if trade.side > 0 else ctx.sell)(ctx.instruments[0].lot_size)

    def on_order_update(self, ctx: Context, order: Order) -> None:
        self.n += order.status == 1


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table.combine_chunks())
    return sink.getvalue().to_pybytes()


def _live_drive(
    events: np.ndarray, insts: list[Instrument], strategy: Strategy, cfg: SimConfig, tick: int
) -> BacktestResult:
    """Feed one event at a time as it arrives; between arrivals a clock ticking every
    ``tick`` ns moves the session on (event time: deterministic)."""
    sink = RunRecorder()
    session = Session(insts, strategy, cfg, sink=sink)
    t = int(events["ts_local"][0])
    session.start(t)
    for k in range(len(events)):
        ts = int(events["ts_local"][k])
        while t + tick < ts:
            t += tick
            session.advance(t)
        session.feed(events[k : k + 1])
        t = max(t, ts)
    session.finish()
    return sink.result(session, wall_seconds=1.0)


@pytest.mark.parametrize("queue_model", ["risk_averse", "prob_power"])
def test_event_by_event_with_advance_equals_the_batch_backtest(queue_model: str) -> None:
    ev, insts = synthesize_events(events=12_000, instruments=["BTCUSDT"], seed=5)
    cfg = _config(queue_model=queue_model)
    batch = run_backtest([ev], _Busy(), cfg, instruments=insts)
    live = _live_drive(ev, insts, _Busy(), cfg, 3 * MS)
    assert batch.fills.num_rows > 20
    assert {"maker", "taker"} <= set(batch.fills["liquidity"].to_pylist())
    for name in ("orders", "fills", "state"):
        # Bytes, not Table.equals: NaN (no resting quote) never equals itself.
        assert _ipc(getattr(batch, name)) == _ipc(getattr(live, name)), name
    assert live.summary == batch.summary


class _Clock(Strategy):
    """Records when its 1 s timer fires."""

    def __init__(self) -> None:
        super().__init__()
        self.fired: list[int] = []

    def on_start(self, ctx: Context) -> None:
        ctx.every(S)

    def on_timer(self, ctx: Context) -> None:
        self.fired.append(ctx.now)


def test_a_timer_keeps_firing_through_a_gap_with_no_data() -> None:
    ev, insts = synthesize_events(events=3_000, instruments=["BTCUSDT"], seed=2)
    window = 50 * MS
    cfg = _config(reorder_window_ms=window / MS)
    strat = _Clock()
    session = Session(insts, strat, cfg)
    first = int(ev["ts_local"][0])
    session.start(first)
    session.feed(ev)
    last = int(ev["ts_local"][-1])
    n_data = len(strat.fired)
    gap_end = last + 10 * S
    # Ten seconds of silence, the wall clock advancing every 100 ms.
    for now in range(last + 100 * MS, gap_end + 1, 100 * MS):
        session.advance(now)
        # Every timer due before now - W has fired, and none after it.
        due = [t for t in range(first + S, now - window, S)]
        assert strat.fired == due, now
    assert len(strat.fired) - n_data >= 9  # the gap's timers, not deferred to the next data
    # Data resumes after the gap; a chunk stamped before the clock is refused.
    later = ev[:50].copy()
    later["ts_local"] += gap_end - int(later["ts_local"][0]) + MS
    later["ts_exchange"] += gap_end - int(ev["ts_exchange"][0])
    stale = later[:1].copy()
    stale["ts_local"] = gap_end - MS
    with pytest.raises(EngineError, match="out of ts_local order"):
        session.feed(stale)
    session.feed(later)
    session.finish()
    assert strat.fired == [t for t in range(first + S, int(later["ts_local"][-1]) + 1, S)]
    with pytest.raises(EngineError, match="finished"):
        session.advance(gap_end + 20 * S)


class _Picky(Strategy):
    """Subscribes to the trades of one instrument and the quotes of another."""

    def __init__(self) -> None:
        super().__init__()
        self.trades: list[int] = []
        self.quotes: list[int] = []
        self.fills: list[Fill] = []

    def on_start(self, ctx: Context) -> None:
        ctx.subscribe_trades("ETHUSDT")
        ctx.subscribe_quotes(0)

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        self.trades.append(trade.instrument)

    def on_quote(self, ctx: Context, instrument: int) -> None:
        self.quotes.append(instrument)

    def on_fill(self, ctx: Context, fill: Fill) -> None:  # not subscribed: never called
        self.fills.append(fill)

    def on_book(self, ctx: Context, instrument: int) -> None:  # not subscribed
        raise AssertionError("on_book was not subscribed")


def test_declared_subscriptions_route_per_instrument() -> None:
    ev, insts = synthesize_events(events=20_000, instruments=["BTCUSDT", "ETHUSDT"], seed=4)
    strat = _Picky()
    run_backtest([ev], strat, _config(), instruments=insts)
    eth_trades = int(np.count_nonzero((ev["kind"] == EventKind.TRADE) & (ev["instrument"] == 1)))
    assert eth_trades > 50
    assert strat.trades == [1] * eth_trades
    assert len(strat.quotes) > 50 and set(strat.quotes) == {0}


def test_session_verbs_in_the_wrong_order_are_refused() -> None:
    ev, insts = synthesize_events(events=500, instruments=["BTCUSDT"], seed=1)
    session = Session(insts, SimpleQuoter(), _config())
    with pytest.raises(EngineError, match="start"):
        session.feed(ev)
    with pytest.raises(EngineError, match="start"):
        session.advance(int(ev["ts_local"][0]))
    session.start(int(ev["ts_local"][0]))
    with pytest.raises(EngineError, match="already started"):
        session.start(int(ev["ts_local"][0]))
    session.feed(ev)
    session.finish()
    with pytest.raises(EngineError, match="finished"):
        session.feed(ev)


def test_a_strategy_error_names_the_callback_and_time() -> None:
    class Broken(Strategy):
        def on_start(self, ctx: Context) -> None:
            ctx.every(10 * MS)

        def on_timer(self, ctx: Context) -> None:
            raise ZeroDivisionError("boom")

    ev, insts = synthesize_events(events=500, instruments=["BTCUSDT"], seed=1)
    session = Session(insts, Broken(), _config())
    session.start(int(ev["ts_local"][0]))
    with pytest.raises(
        EngineError, match=r"Broken\.on_timer failed at t=\d+ ns: ZeroDivisionError"
    ):
        session.feed(ev)
        session.finish()  # 500 events span less than the reorder window: due at the end


@pytest.mark.parametrize("risk", [None, RiskConfig(max_position=0.01, max_loss=100.0)])
def test_a_finished_run_frees_its_core_without_the_garbage_collector(
    risk: RiskConfig | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No reference cycle holds a run's core (~15 MB of buffers) once its result is dropped:
    back-to-back runs (an optimiser's) would otherwise peak at several cores' worth."""
    ev, insts = synthesize_events(events=5_000, instruments=["BTCUSDT"], seed=1)
    cores: list[weakref.ref[SimCore]] = []
    init = SimCore.__init__

    def tracked(self: SimCore, *args: object, **kw: object) -> None:
        init(self, *args, **kw)  # type: ignore[arg-type]
        cores.append(weakref.ref(self))

    monkeypatch.setattr(SimCore, "__init__", tracked)
    gc.disable()
    try:
        result = run_backtest([ev], SimpleQuoter(), _config(), instruments=insts, risk=risk)
        assert result.orders.num_rows > 0
        del result
        assert cores and cores[0]() is None
    finally:
        gc.enable()
