"""A two-sided quoter: post-only bid and ask around the micro-price, skewed by inventory.

Every ``interval_ms`` of simulated time it recomputes its quotes and moves (modifies) an order
only when its price must change, which keeps its queue position otherwise. It stops quoting a
side at ``max_position``. An example of the strategy API, not a profitable strategy.
"""

from __future__ import annotations

import math

import msgspec

from hftlab.strategy import Order, Strategy
from hftlab.strategy.context import Context


class SimpleQuoterConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Parameters of :class:`SimpleQuoter` (swept by the optimiser)."""

    instrument: int = 0
    interval_ms: float = 100.0
    half_spread_ticks: float = 1.0
    size: float = 0.001
    max_position: float = 0.01
    skew_ticks: float = 1.0  # quote shift per max_position of inventory
    use_micro_price: bool = True

    def __post_init__(self) -> None:
        if self.interval_ms <= 0 or self.size <= 0 or self.max_position <= 0:
            raise ValueError("interval_ms, size and max_position must be positive")
        if self.half_spread_ticks < 0:
            raise ValueError("half_spread_ticks must be >= 0")


class SimpleQuoter(Strategy):
    """Quote both sides every ``interval_ms``; see the module docstring."""

    Config = SimpleQuoterConfig
    config: SimpleQuoterConfig

    def on_start(self, ctx: Context) -> None:
        self.bid: Order | None = None
        self.ask: Order | None = None
        ctx.every(int(self.config.interval_ms * 1e6))

    def on_timer(self, ctx: Context) -> None:
        c = self.config
        i = c.instrument
        book = ctx.book(i)
        touch = book.touch_ticks
        if touch is None:  # a side of the book is empty
            return
        bid_t, ask_t = touch
        fair_t = book.micro_price_ticks if c.use_micro_price else book.mid_ticks
        pos = ctx.position(i)
        skew = c.skew_ticks * pos / c.max_position
        want_bid = min(math.floor(fair_t - c.half_spread_ticks - skew), ask_t - 1)
        want_ask = max(math.ceil(fair_t + c.half_spread_ticks - skew), bid_t + 1)
        self.bid = self._quote(ctx, self.bid, 1, want_bid, pos < c.max_position)
        self.ask = self._quote(ctx, self.ask, -1, want_ask, pos > -c.max_position)

    def _quote(
        self, ctx: Context, order: Order | None, side: int, ticks: int, allowed: bool
    ) -> Order | None:
        """Keep ``order`` (or a new one) at ``ticks`` on ``side``; None if not ``allowed``."""
        if order is not None and not order.is_open:
            order = None
        if not allowed:
            if order is not None:
                ctx.cancel(order)
            return None
        if order is None:
            c = self.config
            new = ctx.buy if side > 0 else ctx.sell
            return new(
                c.size,
                ctx.from_ticks(ticks, c.instrument),
                instrument=c.instrument,
                tif="post_only",
            )
        if order.price_ticks != ticks and order.status != 0:  # not while still pending
            ctx.modify_ticks(order, ticks)  # exact: the quotes are computed in ticks
        return order

    def on_stop(self, ctx: Context) -> None:
        ctx.cancel_all()
