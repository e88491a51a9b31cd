"""``RiskConfig``: the limits the risk manager enforces (the ``[risk]`` table of a config file).

Every limit is off by default, so wrapping a strategy with the default config changes nothing
in its results; the defaults that are set (``check_interval_ms``, the latency baseline window)
only shape how enabled rules are evaluated. Units: positions in instrument units (base currency
or contracts), money in the quote currency (the coin for inverse contracts), times in
milliseconds of simulated local time.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import msgspec

from hftlab.errors import ConfigError

__all__ = ["RISK_REJECT_CODES", "RULES", "RiskConfig", "reject_reason_name"]

#: The rule names of ``risk.parquet`` and ``summary.json`` (in this order).
RULES: tuple[str, ...] = (
    "max_position",
    "max_notional",
    "max_loss",
    "max_drawdown",
    "stale_feed",
    "feed_latency",
    "order_rate",
)

#: ``Order.reject_reason`` of a request refused by a rule (101 + index in :data:`RULES`).
RISK_REJECT_CODES: dict[str, int] = {rule: 101 + k for k, rule in enumerate(RULES)}
_CODE_RULE = {code: rule for rule, code in RISK_REJECT_CODES.items()}


def reject_reason_name(code: int) -> str:
    """``"risk_<rule>"`` for a risk reject code, ``""`` for anything else."""
    rule = _CODE_RULE.get(code)
    return "" if rule is None else f"risk_{rule}"


def _positive(name: str, value: float | None, what: str) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ConfigError(f"[risk] {name} = {value!r}: must be a positive number ({what})")


class RiskConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Risk limits; ``None`` switches a rule off.

    Attributes
    ----------
    max_position
        Largest absolute position, in instrument units: one number for every instrument, or a
        table by ``SYMBOL`` or ``VENUE/SYMBOL`` (instruments not named are unlimited). Orders
        that could take the position past it are refused.
    capital
        Account capital in the quote currency; the base of ``max_leverage``.
    max_notional
        Largest gross notional (sum over instruments of |worst-case position| x mid x contract
        size), quote currency. Orders that could exceed it are refused.
    max_leverage
        Largest gross notional / ``capital`` (needs ``capital``); enforced as a notional limit
        of ``max_leverage * capital`` (rule ``max_notional``).
    max_loss
        Kill switch when equity (cash from the fills received, fees included, plus positions
        marked to the local mid) falls below ``-max_loss``; quote currency.
    max_drawdown
        Kill switch when equity falls more than this below its running peak; quote currency.
    flatten_on_kill
        After a kill, send orders that bring every position to zero.
    flatten_slippage_ticks
        None: flatten with market orders. A number: IOC orders at the opposite touch plus this
        many ticks of slippage (unfilled rest is retried at the next check).
    stale_feed_ms
        Pull quotes on an instrument when its feed has been silent (no market event received)
        for longer than this; resume when data flows again.
    max_feed_latency_ms
        Pull quotes on an instrument when the feed latency (``ts_local - ts_exchange``) of its
        latest event exceeds this (absolute), or exceeds the baseline by this.
    feed_latency_baseline
        ``none``: ``max_feed_latency_ms`` is absolute. ``min`` / ``median``: it is added to the
        running minimum / median latency of the last ``feed_latency_window`` samples (for
        captures whose recorder clock is offset from the exchange's).
    feed_latency_window
        Samples in the latency baseline (one sample per check that saw a new event).
    max_order_rate
        Largest number of requests (new, modify, cancel) sent in any rolling second of local
        time. New orders and modifies over it are refused; cancels are never refused but count.
    check_interval_ms
        Period of the internal check of loss, drawdown, feed staleness and latency. Loss and
        drawdown are also checked at every fill received.
    """

    max_position: float | dict[str, float] | None = None
    capital: float | None = None
    max_notional: float | None = None
    max_leverage: float | None = None
    max_loss: float | None = None
    max_drawdown: float | None = None
    flatten_on_kill: bool = False
    flatten_slippage_ticks: int | None = None
    stale_feed_ms: float | None = None
    max_feed_latency_ms: float | None = None
    feed_latency_baseline: Literal["none", "min", "median"] = "none"
    feed_latency_window: int = 600
    max_order_rate: int | None = None
    check_interval_ms: float = 100.0

    def __post_init__(self) -> None:
        if isinstance(self.max_position, dict):
            for key, value in self.max_position.items():
                _positive(f"max_position.{key}", value, "instrument units")
        else:
            _positive("max_position", self.max_position, "instrument units")
        _positive("capital", self.capital, "quote currency")
        _positive("max_notional", self.max_notional, "quote currency")
        _positive("max_leverage", self.max_leverage, "gross notional / capital")
        if self.max_leverage is not None and self.capital is None:
            raise ConfigError(
                "[risk] max_leverage needs capital: set capital (quote currency) as its base"
            )
        _positive("max_loss", self.max_loss, "quote currency")
        _positive("max_drawdown", self.max_drawdown, "quote currency")
        if self.flatten_slippage_ticks is not None and self.flatten_slippage_ticks < 0:
            raise ConfigError(
                f"[risk] flatten_slippage_ticks = {self.flatten_slippage_ticks}: must be >= 0 "
                "(or unset for market orders)"
            )
        _positive("stale_feed_ms", self.stale_feed_ms, "milliseconds")
        if self.max_feed_latency_ms is not None and not math.isfinite(self.max_feed_latency_ms):
            raise ConfigError("[risk] max_feed_latency_ms must be a finite number of milliseconds")
        if self.max_feed_latency_ms is not None:
            if self.feed_latency_baseline == "none":
                _positive("max_feed_latency_ms", self.max_feed_latency_ms, "milliseconds")
            elif self.max_feed_latency_ms < 0:
                raise ConfigError(
                    f"[risk] max_feed_latency_ms = {self.max_feed_latency_ms}: must be >= 0 "
                    f"(milliseconds above the {self.feed_latency_baseline} baseline)"
                )
        if self.feed_latency_window < 1:
            raise ConfigError(
                f"[risk] feed_latency_window = {self.feed_latency_window}: must be >= 1 sample"
            )
        if self.max_order_rate is not None and self.max_order_rate < 1:
            raise ConfigError(
                f"[risk] max_order_rate = {self.max_order_rate}: must be >= 1 request per second"
            )
        _positive("check_interval_ms", self.check_interval_ms, "milliseconds")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RiskConfig:
        """Build from a TOML ``[risk]`` table; :class:`ConfigError` naming the bad key otherwise."""
        try:
            return msgspec.convert(data or {}, cls)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid [risk] config: {exc}") from None

    @property
    def notional_limit(self) -> float | None:
        """The effective gross notional limit (``max_notional`` and ``max_leverage``)."""
        limits = [x for x in (self.max_notional,) if x is not None]
        if self.max_leverage is not None and self.capital is not None:
            limits.append(self.max_leverage * self.capital)
        return min(limits) if limits else None
