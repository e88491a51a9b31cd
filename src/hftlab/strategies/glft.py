"""Guéant–Lehalle–Fernandez-Tapia market making (infinite-horizon closed-form approximation).

O. Guéant, C.-A. Lehalle and J. Fernandez-Tapia, *Dealing with the inventory risk: a solution
to the market making problem*, Mathematics and Financial Economics 7(4), 477–507, 2013; the
closed-form approximation of the optimal quotes far from the inventory bounds as written in
O. Guéant, *Optimal market making*, Applied Mathematical Finance 24(2), 112–154, 2017 (and in
hftbacktest's GLFT tutorial). With order size ``Δ`` (here 1: ``q`` counts quote sizes)::

    c1 = (1/(ξΔ)) · ln(1 + ξΔ/k)
    c2 = sqrt( γ / (2 A Δ k) · (1 + ξΔ/k)^(k/(ξΔ) + 1) )
    δ_bid(q) = c1 + (Δ/2)·σ·c2 + q·σ·c2
    δ_ask(q) = c1 + (Δ/2)·σ·c2 − q·σ·c2

so the half-spread is ``c1 + (Δ/2)σc2`` and the inventory skew is ``σc2`` per unit of ``q``;
``bid = s − δ_bid``, ``ask = s + δ_ask``. ``ξ = γ`` (the default) is the paper's
risk-averse objective; ``ξ = 0`` its risk-neutral limit, where ``c1 = 1/k`` and
``c2 = sqrt(γ e / (2 A k))``.

Units: ticks for prices and depths, ``σ`` ticks per √s, ``γ`` and ``ξ`` per tick per unit of
``q``, ``k`` per tick, ``A`` per second.
"""

from __future__ import annotations

import math

from hftlab.errors import ConfigError
from hftlab.strategies._mm import MarketMaker, MarketMakerConfig

__all__ = ["Glft", "GlftConfig", "glft_coefficients", "glft_depths"]


def glft_coefficients(
    gamma: float, a: float, k: float, *, xi: float | None = None, delta: float = 1.0
) -> tuple[float, float]:
    """``(c1, c2)`` of the GLFT approximation (Guéant 2017).

    Parameters
    ----------
    gamma
        Risk aversion γ (per price unit per unit of ``q``).
    a
        ``A``: fill intensity at distance 0, per second.
    k
        Decay of the fill intensity, per price unit.
    xi
        ``ξ``; ``None`` means ``ξ = γ``; 0 gives the limit ``ξ → 0``.
    delta
        Order size ``Δ`` in units of ``q``.

    Returns
    -------
    c1, c2
        ``c1`` in price units; ``c2`` such that ``σ·c2`` is the skew per unit of ``q``.

    Examples
    --------
    >>> c1, c2 = glft_coefficients(1.0, 1.0, 1.0)   # ln 2, sqrt(1/2 · 2²)
    >>> round(c1, 6), round(c2, 6)
    (0.693147, 1.414214)
    """
    x = gamma if xi is None else xi
    if x == 0.0:
        c1 = 1.0 / k
        power = math.e  # lim (1 + x/k)^(k/x + 1) as x → 0
    else:
        c1 = math.log1p(x * delta / k) / (x * delta)
        power = (1.0 + x * delta / k) ** (k / (x * delta) + 1.0)
    c2 = math.sqrt(gamma / (2.0 * a * delta * k) * power)
    return c1, c2


def glft_depths(
    q: float, sigma: float, c1: float, c2: float, delta: float = 1.0
) -> tuple[float, float]:
    """``(δ_bid, δ_ask)``: distances of the bid below and the ask above the fair value.

    Examples
    --------
    >>> glft_depths(2.0, 1.0, 0.5, 0.25)   # half 0.5 + 0.125, skew 2·0.25
    (1.125, 0.125)
    """
    half = c1 + 0.5 * delta * sigma * c2
    skew = q * sigma * c2
    return half + skew, half - skew


class GlftConfig(MarketMakerConfig, kw_only=True, forbid_unknown_fields=True):
    """Parameters of :class:`Glft`: :class:`MarketMakerConfig` plus ``xi``."""

    #: ξ of the objective, per tick per unit of q; None: ξ = γ. 0: the risk-neutral limit.
    xi: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.xi is not None and not (self.xi >= 0 and math.isfinite(self.xi)):
            raise ConfigError(
                f"[strategy] xi = {self.xi}: must be >= 0 per tick (or left out for xi = gamma)"
            )


class Glft(MarketMaker):
    """GLFT (2013) infinite-horizon quotes, Guéant's (2017) closed form; see the module doc."""

    Config = GlftConfig
    config: GlftConfig

    def _intensity_changed(self) -> None:
        self._c1, self._c2 = glft_coefficients(
            self.config.gamma, self._a, self._k, xi=self.config.xi
        )

    def _depths(self, now: int, q: float, sigma: float) -> tuple[float, float]:
        half = self._c1 + 0.5 * sigma * self._c2
        skew = q * sigma * self._c2
        return half + skew, half - skew
