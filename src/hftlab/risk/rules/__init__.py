"""The risk rules, one module each, behind one interface (:class:`~hftlab.risk.rules.base.Rule`).

=================  ==========================================  ===================
rule               module                                      hook
=================  ==========================================  ===================
``max_position``   :mod:`~hftlab.risk.rules.max_position`      ``check_request``
``max_notional``   :mod:`~hftlab.risk.rules.max_notional`      ``check_request``
``max_loss``       :mod:`~hftlab.risk.rules.max_loss`          ``check_equity``
``max_drawdown``   :mod:`~hftlab.risk.rules.max_drawdown`      ``check_equity``
``stale_feed``     :mod:`~hftlab.risk.rules.stale_feed`        ``check_feed``
``feed_latency``   :mod:`~hftlab.risk.rules.feed_latency`      ``check_feed``
``order_rate``     :mod:`~hftlab.risk.rules.order_rate`        ``check_request``
=================  ==========================================  ===================

:func:`build_rules` gives the rules a config switches on, in :data:`~hftlab.risk.RULES` order
(the order the manager consults them in: it decides which rule refuses a request first).
"""

from __future__ import annotations

from hftlab.risk.config import RiskConfig
from hftlab.risk.rules.base import Breach, FeedReading, RiskState, Rule
from hftlab.risk.rules.feed_latency import FeedLatency
from hftlab.risk.rules.max_drawdown import MaxDrawdown
from hftlab.risk.rules.max_loss import MaxLoss
from hftlab.risk.rules.max_notional import MaxNotional
from hftlab.risk.rules.max_position import MaxPosition
from hftlab.risk.rules.order_rate import OrderRate
from hftlab.risk.rules.stale_feed import StaleFeed

__all__ = [
    "RULE_TYPES",
    "Breach",
    "FeedLatency",
    "FeedReading",
    "MaxDrawdown",
    "MaxLoss",
    "MaxNotional",
    "MaxPosition",
    "OrderRate",
    "RiskState",
    "Rule",
    "StaleFeed",
    "build_rules",
]

#: Every rule type, in :data:`~hftlab.risk.RULES` order.
RULE_TYPES: tuple[type[Rule], ...] = (
    MaxPosition,
    MaxNotional,
    MaxLoss,
    MaxDrawdown,
    StaleFeed,
    FeedLatency,
    OrderRate,
)


def build_rules(config: RiskConfig) -> tuple[Rule, ...]:
    """The rules ``config`` switches on, in :data:`~hftlab.risk.RULES` order.

    Parameters
    ----------
    config
        The limits (``None`` switches a rule off).

    Returns
    -------
    tuple[Rule, ...]
        One rule object per rule that is on; empty for the default config.
    """
    rules = (t.from_config(config) for t in RULE_TYPES)
    return tuple(r for r in rules if r is not None)
