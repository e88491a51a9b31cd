"""Context order requests: what ``modify`` / ``modify_ticks`` send, and what the gate sees."""

from __future__ import annotations

import numpy as np
import pytest

from hftlab.events import Instrument
from hftlab.sim import _layout as L
from hftlab.sim.config import SimConfig
from hftlab.sim.core import SimCore
from hftlab.strategy import Order, OrderStatus
from hftlab.strategy.context import Context

INST = Instrument(venue="t", symbol="X", tick_size=0.1, lot_size=0.001)


def _ctx() -> tuple[Context, SimCore]:
    core = SimCore([INST], SimConfig())
    core.ctl[L.C_NOW] = 1_000
    return Context(core), core


def _requests(core: SimCore) -> np.ndarray:
    """The requests pushed so far (rows of the core's request ring)."""
    return core.reqs[: int(core.ctl[L.C_RQ_TAIL])].copy()


def test_modify_ticks_sends_what_modify_sends() -> None:
    a, core_a = _ctx()
    b, core_b = _ctx()
    for ctx in (a, b):
        ctx.buy(0.002, 100.0, tif="post_only")
    oa, ob = next(iter(a.orders.values())), next(iter(b.orders.values()))
    oa.status = ob.status = OrderStatus.NEW  # as if acknowledged
    a.modify(oa, price=a.from_ticks(1003))
    b.modify_ticks(ob, 1003)
    a.modify(oa, qty=0.005)
    b.modify_ticks(ob, lots=5)
    a.modify(oa, price=a.from_ticks(999), qty=0.001)
    b.modify_ticks(ob, 999, 1)
    a.modify(oa)
    b.modify_ticks(ob)
    assert a.sent == b.sent
    assert len(a.sent) == 5
    np.testing.assert_array_equal(_requests(core_a), _requests(core_b))
    # The local order is unchanged until the exchange answers; None keeps its price and size.
    assert a.sent[-1][5:7] == (oa.price_ticks, oa.qty_lots) == (1000, 2)
    assert a.sent[1][3] == L.RQ_MODIFY and a.sent[1][0] == 1_000


class _Refuse:
    """An order gate that refuses every modify (reason 7) and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int, int]] = []
        self.refusals: list[Order] = []

    def allow_new(self, instrument: int, side: int, ticks: int, lots: int, tif: int) -> int:
        return 0

    def allow_modify(self, order: Order, ticks: int, lots: int) -> int:
        self.asked.append((order.id, ticks, lots))
        return 7

    def sent_cancel(self, order: Order) -> None:
        pass

    def refused(self, order: Order) -> None:
        self.refusals.append(order)


@pytest.mark.parametrize("exact", [True, False])
def test_modify_ticks_asks_the_gate(exact: bool) -> None:
    ctx, core = _ctx()
    o = ctx.sell(0.003, 100.05)  # sells round up: 1001 ticks
    gate = _Refuse()
    ctx.set_order_gate(gate)
    n_req = len(_requests(core))
    if exact:
        ctx.modify_ticks(o, 1010)
    else:
        ctx.modify(o, price=101.0)
    assert gate.asked == [(o.id, 1010, 3)]
    assert gate.refusals == [o] and o.reject_reason == 7
    assert len(ctx.sent) == 1 and len(_requests(core)) == n_req  # never sent
    assert o.price_ticks == 1001
