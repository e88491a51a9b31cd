"""``max_position``: refuse orders that could take a position past its limit (worst case).

An order is refused if ``position + Σ open orders on its side + the order > max_position``
(mirrored for sells), each open order counted at the largest size ever requested for it, so
``|position| ≤ max_position`` holds at the exchange at every instant. See ``docs/risk.md``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Self

from hftlab.errors import ConfigError
from hftlab.risk.config import RiskConfig
from hftlab.risk.rules.base import RiskState, Rule

if TYPE_CHECKING:
    from hftlab.strategy import Order

__all__ = ["MaxPosition"]


class MaxPosition(Rule):
    """``max_position``: one limit for every instrument, or a table by symbol."""

    name = "max_position"
    tracks_orders = True

    @classmethod
    def from_config(cls, config: RiskConfig) -> Self | None:
        return None if config.max_position is None else cls(config)

    def start(self, state: RiskState) -> None:
        super().start(state)
        c = self.config.max_position
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
        self.limit = [
            None if lim is None else math.floor(lim / state.lot[i] + 1e-9)
            for i, lim in enumerate(limits)
        ]

    def check_new(self, inst: int, side: int, ticks: int, lots: int, tif: int) -> int:
        lim = self.limit[inst]
        if lim is None:
            return 0
        s = self.state
        reach = s.exposure(inst, side) + lots
        if reach <= lim:
            return 0
        lot = s.lot[inst]
        return self.refuse(
            inst,
            reach * lot,
            lim * lot,
            s.describe(inst, side, ticks, lots, tif)
            + f": position could reach {side * reach * lot:g}",
        )

    def check_modify(self, order: Order, ticks: int, lots: int, grow: int) -> int:
        inst = order.instrument
        lim = self.limit[inst]
        if not grow or lim is None:
            return 0
        s = self.state
        reach = s.exposure(inst, order.side) + grow
        if reach <= lim:
            return 0
        lot = s.lot[inst]
        return self.refuse(
            inst,
            reach * lot,
            lim * lot,
            f"modify order {order.id} to {lots * lot:g}: "
            f"position could reach {order.side * reach * lot:g}",
        )
