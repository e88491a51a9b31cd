"""The session's response drain logs what ``SimCore.drain_responses`` takes, as copies."""

from __future__ import annotations

import numpy as np
import pytest

from hftlab.backtest import run_backtest
from hftlab.data.synthetic import synthesize_events
from hftlab.engine import ResponseLog, RunRecorder, Session
from hftlab.events import Instrument
from hftlab.sim import _layout as L
from hftlab.sim.config import Fees, LatencyModel, SimConfig
from hftlab.sim.core import SimCore
from hftlab.strategy import Fill, Order, OrderStatus, Strategy
from hftlab.strategy.context import Context

INST = Instrument(venue="t", symbol="X", tick_size=0.1, lot_size=0.001)


def _fill_ring(core: SimCore, lo: int, hi: int) -> SimCore:
    """Give ``core``'s response ring distinct rows, delivered from ``lo`` to ``hi``."""
    n = core.resps.shape[0]
    core.resps[:] = np.arange(n * L.E_NF, dtype=np.int64).reshape(n, L.E_NF)
    core.resps[:, L.E_ID] = -1  # no local order: the context skips them
    core.respf[:] = np.arange(n * L.EF_NF, dtype=np.float64).reshape(n, L.EF_NF) / 4
    core.ctl[L.C_RS_DRAIN] = lo
    core.ctl[L.C_RS_DELIV] = hi
    core.ctl[L.C_RS_TAIL] = hi
    return core


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("with_ctx", [False, True])
def test_drain_matches_the_core(wrap: bool, with_ctx: bool) -> None:
    cap = SimCore([INST], SimConfig()).resps.shape[0]
    lo, hi = (cap - 3, cap + 2) if wrap else (5, 9)
    ref_ri, ref_rf = _fill_ring(SimCore([INST], SimConfig()), lo, hi).drain_responses()
    sink = RunRecorder()
    session = Session([INST], Strategy() if with_ctx else None, SimConfig(), sink=sink)
    core = _fill_ring(session.core, lo, hi)
    session._drain()
    ri, rf = sink.responses.arrays()
    np.testing.assert_array_equal(ri, ref_ri)
    np.testing.assert_array_equal(rf, ref_rf)
    assert ri.shape == (hi - lo, L.E_NF)
    assert int(core.ctl[L.C_RS_DRAIN]) == hi
    # Copies, not views of the ring (the core reuses its slots).
    core.resps[:] = 0
    np.testing.assert_array_equal(ri, ref_ri)
    if with_ctx:
        assert session.ctx is not None and session.ctx._n_resp == hi - lo
    session._drain()  # nothing new
    assert len(sink.responses) == hi - lo


@pytest.mark.parametrize("sizes", [[], [0], [1], [3] * 511, [3] * 512, [2] * 513, [1, 7] * 700])
def test_response_log_keeps_every_row_in_order(sizes: list[int]) -> None:
    log = ResponseLog()
    expected_i, expected_f = [], []
    start = 0
    for k in sizes:
        ri = np.arange(start, start + k * L.E_NF, dtype=np.int64).reshape(k, L.E_NF)
        rf = ri[:, : L.EF_NF].astype(np.float64) / 2
        start += k * L.E_NF
        expected_i.append(ri.copy())
        expected_f.append(rf.copy())
        log.add(ri, rf)
        assert len(log.pending) < ResponseLog.BATCH
    ri, rf = log.arrays()
    assert ri.shape == (sum(sizes), L.E_NF) and rf.shape == (sum(sizes), L.EF_NF)
    assert len(log) == sum(sizes)
    if sizes:
        np.testing.assert_array_equal(ri, np.concatenate(expected_i))
        np.testing.assert_array_equal(rf, np.concatenate(expected_f))
    # Reading does not consume: more rows go after the ones already read.
    log.add(np.ones((2, L.E_NF), np.int64), np.ones((2, L.EF_NF)))
    assert log.arrays()[0].shape[0] == sum(sizes) + 2


class _Reacting(Strategy):
    """Market and resting orders every 20 ms; moves each order once when it is accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.fills: list[Fill] = []
        self.moved: list[int] = []
        self.n = 0

    def on_start(self, ctx: Context) -> None:
        ctx.every(20_000_000)

    def on_timer(self, ctx: Context) -> None:
        self.n += 1
        touch = ctx.book(0).touch_ticks
        if touch is None:
            return
        side = 1 if self.n % 2 else -1
        (ctx.buy if side > 0 else ctx.sell)(0.002)  # market: a taker fill
        price = touch[0] - 1 if side > 0 else touch[1] + 1
        (ctx.buy if side > 0 else ctx.sell)(0.001, ctx.from_ticks(price), tif="post_only")

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        self.fills.append(fill)

    def on_order_update(self, ctx: Context, order: Order) -> None:
        if order.status == OrderStatus.NEW and order.id not in self.moved:
            self.moved.append(order.id)
            ctx.modify_ticks(order, order.price_ticks - order.side)


def test_callbacks_see_the_logged_responses() -> None:
    """Fills handed to ``on_fill`` are the logged fills (fees included), and a request sent
    from a callback is logged right after the response that triggered it."""
    ev, insts = synthesize_events(events=30_000, instruments=["BTCUSDT"], seed=3)
    cfg = SimConfig(
        fees=Fees(maker=-0.0001, taker=0.0004),
        entry_latency=LatencyModel(value_us=300.0),
        response_latency=LatencyModel(value_us=200.0),
    )
    strat = _Reacting()
    res = run_backtest([ev], strat, cfg, instruments=insts)
    logged = res.fills.to_pylist()
    assert len(logged) == len(strat.fills) > 10
    assert {f.maker for f in strat.fills} == {True, False}
    for f, row in zip(strat.fills, logged, strict=True):
        assert (f.order_id, f.price, f.qty, f.fee, f.ts_local) == (
            row["order_id"],
            row["last_price"],
            row["last_qty"],
            row["fee"],
            row["ts_local"],
        )
    orders = res.orders.to_pylist()
    assert strat.moved
    for oid in strat.moved:
        k = next(
            i for i, r in enumerate(orders) if r["order_id"] == oid and r["event"] == "accepted"
        )
        assert orders[k + 1]["event"] == "sent_modify" and orders[k + 1]["order_id"] == oid
