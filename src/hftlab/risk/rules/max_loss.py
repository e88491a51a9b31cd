"""``max_loss``: the kill switch fires when equity falls below ``-max_loss``.

Equity (:meth:`~hftlab.risk.rules.base.RiskState.equity`) is cash from the fills received,
fees included, plus positions marked to the local mid; it is judged at every fill received and
every periodic check. See ``docs/risk.md``.
"""

from __future__ import annotations

from hftlab.risk.rules.base import Breach, Rule

__all__ = ["MaxLoss"]


class MaxLoss(Rule):
    """``max_loss``: the largest loss, quote currency."""

    name = "max_loss"
    key = "max_loss"
    needs_fills = True
    periodic = True

    def check_equity(self, equity: float) -> Breach | None:
        if -equity > self.limit:
            return -equity, self.limit, f"equity {equity:.6g}"
        return None
