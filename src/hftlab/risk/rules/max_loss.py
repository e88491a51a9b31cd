"""``max_loss``: the kill switch fires when equity falls below ``-max_loss``.

Equity (:meth:`~hftlab.risk.rules.base.RiskState.equity`) is cash from the fills received,
fees included, plus positions marked to the local mid; it is judged at every fill received and
every periodic check. See ``docs/risk.md``.
"""

from __future__ import annotations

from typing import Self

from hftlab.risk.config import RiskConfig
from hftlab.risk.rules.base import Breach, Rule

__all__ = ["MaxLoss"]


class MaxLoss(Rule):
    """``max_loss``: the largest loss, quote currency."""

    name = "max_loss"
    needs_fills = True
    periodic = True

    def __init__(self, config: RiskConfig, limit: float) -> None:
        super().__init__(config)
        self.limit = limit

    @classmethod
    def from_config(cls, config: RiskConfig) -> Self | None:
        limit = config.max_loss
        return None if limit is None else cls(config, limit)

    def check_equity(self, equity: float) -> Breach | None:
        if -equity > self.limit:
            return -equity, self.limit, f"equity {equity:.6g}"
        return None
