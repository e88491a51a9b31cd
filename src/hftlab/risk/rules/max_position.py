"""``max_position``: refuse orders that could take a position past its limit (worst case).

An order is refused if ``position + Σ open orders on its side + the order > max_position``
(mirrored for sells), each open order counted at the largest size ever requested for it, so
``|position| ≤ max_position`` holds at the exchange at every instant. See ``docs/risk.md``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hftlab.errors import ConfigError
from hftlab.risk.rules.base import RiskState, Rule

if TYPE_CHECKING:
    from hftlab.strategy import Order

__all__ = ["MaxPosition"]


class MaxPosition(Rule):
    """``max_position``: one limit for every instrument, or a table by symbol (:attr:`lots`:
    the limit of each instrument in lots, None if unlimited)."""

    name = "max_position"
    key = "max_position"
    tracks_orders = True

    def start(self, state: RiskState) -> None:
        super().start(state)
        self._ctx = state.ctx  # read per request: one attribute, not two
        self._req = state.req_lots
        c = self.limit
        limits: list[float | None] = [None] * state.n
        if isinstance(c, dict):
            for name, value in c.items():
                try:
                    limits[state.ctx.instrument_index(name)] = value
                except KeyError:
                    raise ConfigError(
                        f"[risk] max_position names {name!r}, not an instrument of this run "
                        f"({', '.join(state.keys)})"
                    ) from None
        elif c is not None:
            limits = [c] * state.n
        # In lots, rounded down: the limit is never exceeded by rounding.
        self.lots = [
            None if lim is None else math.floor(lim / state.lot[i] + 1e-9)
            for i, lim in enumerate(limits)
        ]

    def check_request(
        self, inst: int, side: int, ticks: int, lots: int, tif: int, extra: int, order: Order | None
    ) -> int:
        lim = self.lots[inst]
        if lim is None or not extra:
            return 0
        # The lots the position could reach towards `side` if every open order on that side
        # filled in full, each at the largest size ever requested for it (inline: this runs
        # for every request).
        ctx = self._ctx
        pos = ctx.position_lots(inst)
        req = self._req
        open_lots = 0
        for o in ctx.orders.values():
            if o.instrument == inst and o.side == side:
                q = o.qty_lots
                r = req.get(o.id)
                if r is not None and r > q:
                    q = r
                open_lots += q - o.filled_lots
        reach = (pos if side > 0 else -pos) + open_lots + extra
        if reach > lim:
            lot = self.state.lot[inst]
            return self.refuse(
                inst,
                reach * lot,
                lim * lot,
                self.what(inst, side, ticks, lots, tif, order)
                + f": position could reach {side * reach * lot:g}",
            )
        return 0
