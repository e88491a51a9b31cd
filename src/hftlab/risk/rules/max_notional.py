"""``max_notional`` (and ``max_leverage``): refuse orders that could take the gross notional
past ``min(max_notional, max_leverage × capital)``.

Gross notional = Σ over instruments of the larger side's worst-case exposure (as for
``max_position``) valued at the local mid (:meth:`~hftlab.events.Instrument.notional`). See
``docs/risk.md``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Self

from hftlab.risk.config import RiskConfig
from hftlab.risk.rules.base import Rule

if TYPE_CHECKING:
    from hftlab.strategy import Order

__all__ = ["MaxNotional"]


class MaxNotional(Rule):
    """``max_notional``: the gross worst-case notional limit (quote currency)."""

    name = "max_notional"
    tracks_orders = True

    def __init__(self, config: RiskConfig, limit: float) -> None:
        super().__init__(config)
        self.limit = limit

    @classmethod
    def from_config(cls, config: RiskConfig) -> Self | None:
        limit = config.notional_limit
        return None if limit is None else cls(config, limit)

    def gross(self, inst: int, side: int, extra: int, ticks: int) -> float:
        """Gross worst-case notional if ``extra`` lots more were ordered on ``side`` of
        ``inst`` (at ``ticks`` when ``inst`` has no mid yet)."""
        s = self.state
        gross = 0.0
        for j in range(s.n):
            long_, short = s.exposures(j)
            if j == inst:
                if side > 0:
                    long_ += extra
                else:
                    short += extra
            worst = max(long_, short, 0)
            if worst:
                price = s.mark(j, ticks if j == inst else 0)
                if not math.isnan(price):
                    gross += s.instruments[j].notional(worst * s.lot[j], price)
        return gross

    def check_new(self, inst: int, side: int, ticks: int, lots: int, tif: int) -> int:
        gross = self.gross(inst, side, lots, ticks)
        if gross > self.limit:
            return self.refuse(
                inst,
                gross,
                self.limit,
                self.state.describe(inst, side, ticks, lots, tif)
                + f": gross notional could reach {gross:.6g}",
            )
        return 0

    def check_modify(self, order: Order, ticks: int, lots: int, grow: int) -> int:
        if not grow:
            return 0
        inst = order.instrument
        gross = self.gross(inst, order.side, grow, ticks)
        if gross > self.limit:
            return self.refuse(
                inst,
                gross,
                self.limit,
                f"modify order {order.id} to {lots * self.state.lot[inst]:g}: "
                f"gross notional could reach {gross:.6g}",
            )
        return 0
