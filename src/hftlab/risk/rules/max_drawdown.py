"""``max_drawdown``: the kill switch fires when equity falls more than ``max_drawdown`` below
its running peak (taken at the instants equity is judged: fills and periodic checks; the peak
starts at 0). See ``docs/risk.md``.
"""

from __future__ import annotations

from typing import Self

from hftlab.risk.config import RiskConfig
from hftlab.risk.rules.base import Breach, RiskState, Rule

__all__ = ["MaxDrawdown"]


class MaxDrawdown(Rule):
    """``max_drawdown``: the largest fall from the equity peak, quote currency."""

    name = "max_drawdown"
    needs_fills = True
    periodic = True

    def __init__(self, config: RiskConfig, limit: float) -> None:
        super().__init__(config)
        self.limit = limit
        self.peak = 0.0

    @classmethod
    def from_config(cls, config: RiskConfig) -> Self | None:
        limit = config.max_drawdown
        return None if limit is None else cls(config, limit)

    def start(self, state: RiskState) -> None:
        super().start(state)
        self.peak = 0.0

    def check_equity(self, equity: float) -> Breach | None:
        if equity > self.peak:
            self.peak = equity
        if self.peak - equity > self.limit:
            return (
                self.peak - equity,
                self.limit,
                f"equity {equity:.6g}, peak {self.peak:.6g}",
            )
        return None
