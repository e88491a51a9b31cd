"""Avellaneda–Stoikov market making (finite or rolling horizon).

M. Avellaneda and S. Stoikov, *High-frequency trading in a limit order book*, Quantitative
Finance 8(3), 217–224, 2008. With exponential utility (risk aversion ``γ``), a mid following an
arithmetic Brownian motion of volatility ``σ`` and fill intensities ``λ(δ) = A e^(−kδ)`` at
distance ``δ``, the optimal quotes of an agent holding ``q`` at time ``t < T`` are, to first
order (their eqs. 29–30)::

    reservation price   r  = s − q · γ · σ² · (T − t)
    total spread        δa + δb = γ · σ² · (T − t) + (2/γ) · ln(1 + γ/k)
    quotes              bid = r − (δa + δb)/2,   ask = r + (δa + δb)/2

Units here: prices, ``s``, ``r`` and spreads in ticks; ``σ`` in ticks per √s; ``T − t`` in
seconds; ``γ`` per tick per unit of ``q``; ``k`` per tick; ``q = (position − target)/size``.

Horizon: ``horizon = "session"`` uses ``T`` = the end of the current session (sessions of
``session_s`` seconds aligned to the Unix epoch plus ``session_offset_s``; ``T − t`` restarts
at each boundary: the inventory penalty fades towards each session's end). ``"rolling"`` keeps
``T − t = horizon_s`` constant, the usual choice for a 24/7 market.

Run it: ``hftlab backtest --data STORE --strategy
hftlab.strategies.avellaneda_stoikov:AvellanedaStoikov --config configs/as_synth.toml --out RUN``.
See ``docs/strategies.md``.
"""

from __future__ import annotations

import math
from typing import Literal

from hftlab.errors import ConfigError
from hftlab.strategies._mm import NS, MarketMaker, MarketMakerConfig

__all__ = [
    "AvellanedaStoikov",
    "AvellanedaStoikovConfig",
    "as_reservation_price",
    "as_spread",
    "time_to_horizon",
]


def as_reservation_price(s: float, q: float, gamma: float, sigma: float, tau: float) -> float:
    """Avellaneda–Stoikov reservation (indifference) price ``r = s − q γ σ² τ``.

    Parameters
    ----------
    s
        Fair value (mid or micro-price).
    q
        Inventory, in units of the quote size.
    gamma
        Risk aversion, per price unit per unit of ``q`` (per tick if prices are in ticks).
    sigma
        Volatility, price units per √second.
    tau
        Time to the horizon ``T − t``, seconds.

    Returns
    -------
    float
        ``r`` in the unit of ``s``.

    Examples
    --------
    >>> as_reservation_price(100.0, 2.0, 0.1, 1.5, 10.0)   # 100 − 2·0.1·2.25·10
    95.5
    """
    return s - q * gamma * sigma * sigma * tau


def as_spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    """Avellaneda–Stoikov optimal total spread ``γ σ² τ + (2/γ) ln(1 + γ/k)``.

    Parameters are as for :func:`as_reservation_price`; ``k`` is the decay of the fill
    intensity per price unit. Returns the distance between bid and ask, in price units.

    Examples
    --------
    >>> round(as_spread(0.1, 1.0, 10.0, 1.0), 6)   # 1 + 20·ln(1.1)
    2.906204
    """
    return gamma * sigma * sigma * tau + (2.0 / gamma) * math.log1p(gamma / k)


def time_to_horizon(
    now_ns: int,
    *,
    horizon: Literal["session", "rolling"],
    horizon_s: float,
    session_s: float,
    session_offset_s: float = 0.0,
) -> float:
    """``T − t`` in seconds for the finite-session or rolling horizon.

    ``session``: sessions ``[offset + m·session_s, offset + (m+1)·session_s)`` (seconds since
    the epoch); ``T`` is the end of the one containing ``now``, so ``T − t`` falls from
    ``session_s`` to 0 and restarts. ``rolling``: always ``horizon_s``.

    Examples
    --------
    >>> time_to_horizon(90 * 10**9, horizon="session", horizon_s=0, session_s=60)
    30.0
    >>> time_to_horizon(90 * 10**9, horizon="rolling", horizon_s=5.0, session_s=60)
    5.0
    """
    if horizon == "rolling":
        return float(horizon_s)
    length = int(session_s * NS)
    off = int(session_offset_s * NS)
    return (length - (now_ns - off) % length) / NS


class AvellanedaStoikovConfig(MarketMakerConfig, kw_only=True, forbid_unknown_fields=True):
    """Parameters of :class:`AvellanedaStoikov`: :class:`MarketMakerConfig` plus the horizon."""

    #: ``rolling``: ``T − t = horizon_s`` always; ``session``: ``T`` = end of the session.
    horizon: Literal["session", "rolling"] = "rolling"
    #: ``T − t`` of the rolling horizon, seconds.
    horizon_s: float = 10.0
    #: Session length (``horizon = "session"``), seconds; 86400 = UTC days.
    session_s: float = 3600.0
    #: Sessions start at ``offset + m·session_s`` seconds since the epoch.
    session_offset_s: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.horizon == "rolling" and not self.horizon_s > 0:
            raise ConfigError(
                f"[strategy] horizon_s = {self.horizon_s}: the rolling horizon T − t must be "
                "> 0 seconds"
            )
        if self.horizon == "session" and not self.session_s > 0:
            raise ConfigError(f"[strategy] session_s = {self.session_s}: must be > 0 seconds")


class AvellanedaStoikov(MarketMaker):
    """Avellaneda–Stoikov (2008) quotes around a fair value, managed by a QuoteManager.

    Each wake-up: ``τ = T − t`` from the horizon, then
    ``r = s − q γ σ² τ`` and ``spread = γ σ² τ + (2/γ) ln(1 + γ/k)``; the bid is
    ``r − spread/2`` rounded down, the ask ``r + spread/2`` rounded up (ticks), then the
    minimum/maximum spread, the touch and the position cap apply (see
    :class:`~hftlab.strategies._mm.MarketMaker`).
    """

    Config = AvellanedaStoikovConfig
    config: AvellanedaStoikovConfig

    def _intensity_changed(self) -> None:
        g = self.config.gamma
        self._half_base = math.log1p(g / self._k) / g  # (1/γ) ln(1 + γ/k): half the 2nd term

    def _depths(self, now: int, q: float, sigma: float) -> tuple[float, float]:
        c = self.config
        if c.horizon == "rolling":
            tau = c.horizon_s
        else:
            tau = time_to_horizon(
                now,
                horizon="session",
                horizon_s=c.horizon_s,
                session_s=c.session_s,
                session_offset_s=c.session_offset_s,
            )
        risk = c.gamma * sigma * sigma * tau  # γσ²τ: the skew per unit of q and the risk spread
        half = 0.5 * risk + self._half_base
        shift = q * risk  # s − r
        return shift + half, half - shift
