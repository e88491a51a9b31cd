"""``max_notional`` (and ``max_leverage``): refuse orders that could take the gross notional
past ``min(max_notional, max_leverage × capital)``.

Gross notional = Σ over instruments of the larger side's worst-case exposure (as for
``max_position``) valued at the local mid (:meth:`~hftlab.events.Instrument.notional`). See
``docs/risk.md``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hftlab.risk.config import RiskConfig
from hftlab.risk.rules.base import RiskState, Rule

if TYPE_CHECKING:
    from hftlab.strategy import Order

__all__ = ["MaxNotional"]


class MaxNotional(Rule):
    """``max_notional``: the gross worst-case notional limit (quote currency)."""

    name = "max_notional"
    key = "max_notional"
    tracks_orders = True

    @classmethod
    def limit_of(cls, config: RiskConfig) -> float | None:
        return config.notional_limit  # max_notional and max_leverage x capital

    def start(self, state: RiskState) -> None:
        super().start(state)
        self._ctx = state.ctx  # read per request: one attribute, not two
        self._req = state.req_lots

    def check_request(
        self, inst: int, side: int, ticks: int, lots: int, tif: int, extra: int, order: Order | None
    ) -> int:
        if not extra:
            return 0
        # The gross worst-case notional if `extra` lots more were ordered on `side` of `inst`
        # (valued at `ticks` while `inst` has no mid yet). Inline: this runs for every request.
        s = self.state
        ctx = self._ctx
        req = self._req
        orders = ctx.orders.values()
        gross = 0.0
        for j in range(s.n):
            pos = ctx.position_lots(j)
            long_ = pos  # what the position could reach on each side, open orders filled
            short = -pos
            for o in orders:
                if o.instrument == j:
                    q = o.qty_lots
                    r = req.get(o.id, 0)  # the largest size ever requested for it
                    if r > q:
                        q = r
                    if o.side > 0:
                        long_ += q - o.filled_lots
                    else:
                        short += q - o.filled_lots
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
        if gross > self.limit:
            return self.refuse(
                inst,
                gross,
                self.limit,
                self.what(inst, side, ticks, lots, tif, order)
                + f": gross notional could reach {gross:.6g}",
            )
        return 0
