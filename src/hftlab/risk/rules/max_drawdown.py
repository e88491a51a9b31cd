"""``max_drawdown``: the kill switch fires when equity falls more than ``max_drawdown`` below
its running peak (taken at the instants equity is judged: fills and periodic checks; the peak
starts at 0). See ``docs/risk.md``.
"""

from __future__ import annotations

from hftlab.risk.rules.base import Breach, RiskState, Rule

__all__ = ["MaxDrawdown"]


class MaxDrawdown(Rule):
    """``max_drawdown``: the largest fall from the equity peak, quote currency."""

    name = "max_drawdown"
    key = "max_drawdown"
    needs_fills = True
    periodic = True
    peak = 0.0  # the running peak of equity (per run)

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
