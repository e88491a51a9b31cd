"""Risk limits and the kill switch, wrapped around every strategy in backtest and live alike.

>>> from hftlab.risk import RiskConfig, RiskManager
>>> limits = RiskConfig(max_position=0.01, max_loss=50.0)
>>> guarded = RiskManager(MyStrategy(), limits)  # doctest: +SKIP

``run_backtest`` wraps every strategy (``risk=RiskConfig(...)``, the defaults if omitted); see
``docs/risk.md`` for the rules, their guarantees and the ``risk.parquet`` schema. Each rule is a
module of :mod:`hftlab.risk.rules`; :class:`RiskManager` composes those a config switches on.
"""

from __future__ import annotations

from hftlab.risk.config import RISK_REJECT_CODES, RULES, RiskConfig, reject_reason_name
from hftlab.risk.manager import RiskManager
from hftlab.risk.results import RISK_SCHEMA, risk_summary, risk_table
from hftlab.vocab import RISK_ACTIONS as ACTIONS  # the name this package has always exported

__all__ = [
    "ACTIONS",
    "RISK_REJECT_CODES",
    "RISK_SCHEMA",
    "RULES",
    "RiskConfig",
    "RiskManager",
    "reject_reason_name",
    "risk_summary",
    "risk_table",
]
