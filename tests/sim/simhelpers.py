"""Hand-built event streams and a scripted strategy for sim-core scenario tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hftlab.backtest import run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.events import EVENT_DTYPE, EventKind, Instrument
from hftlab.sim.config import LatencyModel, SimConfig
from hftlab.strategy import Fill, Order, Strategy, Trade
from hftlab.strategy.context import Context

INST = Instrument(venue="t", symbol="X", tick_size=1.0, lot_size=1.0)

D, S, C, T, B = (
    EventKind.DEPTH,
    EventKind.SNAPSHOT,
    EventKind.CLEAR,
    EventKind.TRADE,
    EventKind.BBO,
)


def events(rows: Sequence[tuple]) -> np.ndarray:
    """Rows ``(ts_exchange, ts_local, kind, side, price, qty[, inst, price2, qty2])``."""
    out = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, r in enumerate(rows):
        te, tl, kind, side, price, qty, *rest = r
        inst, p2, q2 = ([*list(rest), 0, 0, 0])[:3]
        out[i] = (te, tl, price, qty, p2, q2, inst, int(kind), side, 0, 0)
    return out


def book_rows(t: int, bids: dict[int, int], asks: dict[int, int], lat: int = 0) -> list[tuple]:
    """DEPTH rows setting the given levels at exchange time ``t`` (local ``t + lat``)."""
    rows = [(t, t + lat, D, 1, p, q) for p, q in bids.items()]
    rows += [(t, t + lat, D, -1, p, q) for p, q in asks.items()]
    return rows


class Script(Strategy):
    """Runs ``actions[t](ctx)`` at local times ``t``; records every callback with ``now``."""

    def __init__(self, actions: dict[int, Callable[[Context], Any]]) -> None:
        super().__init__()
        self.actions = actions
        self.log: list[tuple] = []
        self.orders: dict[str, Order] = {}
        self.orders_seen: dict[int, Order] = {}  # by id, as last updated

    def on_start(self, ctx: Context) -> None:
        for t in sorted(self.actions):
            ctx.set_timer(t)

    def on_timer(self, ctx: Context) -> None:
        self.log.append(("timer", ctx.now))
        fn = self.actions.get(ctx.now)
        if fn is not None:
            fn(ctx)

    def on_order_update(self, ctx: Context, order: Order) -> None:
        self.log.append(("order", ctx.now, order.id, order.status.name, order.filled_lots))
        self.orders_seen[order.id] = order

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        self.log.append(("fill", ctx.now, fill.order_id, fill.price, fill.qty, fill.maker))

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        self.log.append(("trade", ctx.now, trade.price, trade.qty))


def run(
    rows: Sequence[tuple] | np.ndarray,
    actions: dict[int, Callable[[Context], Any]] | None = None,
    *,
    instruments: Sequence[Instrument] = (INST,),
    entry_us: float = 0.0,
    response_us: float = 0.0,
    chunk: int | None = None,
    book_from_bbo: Sequence[bool] | None = None,
    **cfg: Any,
) -> tuple[BacktestResult, Script]:
    ev = rows if isinstance(rows, np.ndarray) else events(rows)
    chunks = [ev] if chunk is None else [ev[i : i + chunk] for i in range(0, len(ev), chunk)]
    strat = Script(actions or {})
    config = SimConfig(
        entry_latency=LatencyModel(value_us=entry_us),
        response_latency=LatencyModel(value_us=response_us),
        **cfg,
    )
    res = run_backtest(chunks, strat, config, instruments=instruments, book_from_bbo=book_from_bbo)
    return res, strat


def fills(res: BacktestResult) -> list[tuple]:
    f = res.fills.to_pylist()
    return [(r["order_id"], r["last_price"], r["last_qty"], r["liquidity"]) for r in f]


def events_of(res: BacktestResult, oid: int) -> list[str]:
    return [r["event"] for r in res.orders.to_pylist() if r["order_id"] == oid]
