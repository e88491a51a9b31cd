"""Avellaneda–Stoikov and GLFT formulas against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from hftlab.strategies.avellaneda_stoikov import (
    as_reservation_price,
    as_spread,
    time_to_horizon,
)
from hftlab.strategies.glft import glft_coefficients, glft_depths

S = 10**9  # ns per second


def test_reservation_price_by_hand() -> None:
    # r = s − q γ σ² τ = 100 − 3 · 0.02 · 2² · 30 = 100 − 7.2
    assert as_reservation_price(100.0, 3.0, 0.02, 2.0, 30.0) == pytest.approx(92.8)
    # short inventory: the reservation price is above the fair value, by the same amount
    assert as_reservation_price(100.0, -3.0, 0.02, 2.0, 30.0) == pytest.approx(107.2)
    # flat, or at the horizon: no adjustment
    assert as_reservation_price(100.0, 0.0, 0.02, 2.0, 30.0) == 100.0
    assert as_reservation_price(100.0, 3.0, 0.02, 2.0, 0.0) == 100.0


def test_spread_by_hand() -> None:
    # γσ²τ + (2/γ) ln(1 + γ/k) = 0.02·4·30 + 100·ln(1.04) = 2.4 + 3.922071
    assert as_spread(0.02, 2.0, 30.0, 0.5) == pytest.approx(2.4 + 3.9220713153, rel=1e-9)
    # at the horizon only the intensity term is left; as γ → 0 it tends to 2/k
    assert as_spread(0.02, 2.0, 0.0, 0.5) == pytest.approx(3.9220713153, rel=1e-9)
    assert as_spread(1e-9, 2.0, 0.0, 0.5) == pytest.approx(4.0, rel=1e-6)


def test_spread_grows_with_volatility_and_horizon() -> None:
    base = as_spread(0.05, 1.0, 10.0, 1.5)
    assert as_spread(0.05, 2.0, 10.0, 1.5) > base
    assert as_spread(0.05, 1.0, 20.0, 1.5) > base
    # the part that depends on σ is exactly γσ²τ
    diff = as_spread(0.05, 2.0, 10.0, 1.5) - base
    assert diff == pytest.approx(0.05 * (4.0 - 1.0) * 10.0)


def test_session_horizon_runs_down_and_restarts() -> None:
    kw = {"horizon": "session", "horizon_s": 0.0, "session_s": 60.0}
    assert time_to_horizon(90 * S, **kw) == 30.0  # session [60 s, 120 s)
    assert time_to_horizon(119 * S + S // 2, **kw) == 0.5
    assert time_to_horizon(120 * S, **kw) == 60.0  # a new session starts at the boundary
    # sessions aligned to an offset: [15 s, 75 s), [75 s, 135 s)
    assert time_to_horizon(90 * S, session_offset_s=15.0, **kw) == 45.0
    # daily sessions end at UTC midnight
    noon = (19_000 * 86_400 + 43_200) * S
    assert time_to_horizon(noon, horizon="session", horizon_s=0, session_s=86_400) == 43_200.0


def test_rolling_horizon_is_constant() -> None:
    for t in (0, 17 * S + 3, 86_400 * S):
        assert time_to_horizon(t, horizon="rolling", horizon_s=7.5, session_s=60.0) == 7.5


def test_glft_coefficients_by_hand() -> None:
    # γ = ξ = 1, A = 1, k = 1: c1 = ln 2; c2 = sqrt(1/2 · 2^(1+1)) = sqrt 2
    c1, c2 = glft_coefficients(1.0, 1.0, 1.0)
    assert c1 == pytest.approx(0.6931471806)
    assert c2 == pytest.approx(1.4142135624)
    # γ = ξ = 0.5, A = 10, k = 2: c1 = 2 ln 1.25 = 0.4462871026;
    # c2 = sqrt(0.5/40 · 1.25^5) = sqrt(0.0125 · 3.0517578125) = 0.1953125
    c1, c2 = glft_coefficients(0.5, 10.0, 2.0)
    assert c1 == pytest.approx(0.4462871026)
    assert c2 == pytest.approx(0.1953125)


def test_glft_xi_zero_is_the_limit() -> None:
    c1, c2 = glft_coefficients(0.5, 10.0, 2.0, xi=0.0)
    assert c1 == pytest.approx(0.5)  # 1/k
    assert c2 == pytest.approx(math.sqrt(0.5 * math.e / 40.0))
    near = glft_coefficients(0.5, 10.0, 2.0, xi=1e-7)
    assert near[0] == pytest.approx(c1, rel=1e-6)
    assert near[1] == pytest.approx(c2, rel=1e-6)


def test_glft_order_size_delta() -> None:
    # Δ = 2 (Guéant's order size): c1 = ln(1 + ξΔ/k)/(ξΔ), c2 with A·Δ and ξΔ
    c1, c2 = glft_coefficients(0.5, 10.0, 2.0, delta=2.0)
    assert c1 == pytest.approx(math.log(1.5))  # ξΔ = 1
    assert c2 == pytest.approx(math.sqrt(0.5 / 80.0 * 1.5**3))  # k/(ξΔ) + 1 = 3


def test_glft_half_spread_and_skew() -> None:
    c1, c2, sigma = 0.7, 0.2, 1.5
    half = c1 + 0.5 * sigma * c2  # 0.85; the skew is σ·c2 = 0.3 per unit of q
    assert glft_depths(0.0, sigma, c1, c2) == pytest.approx((half, half))
    bid, ask = glft_depths(2.0, sigma, c1, c2)
    assert (bid, ask) == pytest.approx((0.85 + 0.6, 0.85 - 0.6))
    # long inventory: the bid moves away and the ask closer (quotes shift down); short: up
    assert bid > half > ask
    sb, sa = glft_depths(-2.0, sigma, c1, c2)
    assert (sb, sa) == pytest.approx((ask, bid))
    # the total spread does not depend on the inventory
    assert bid + ask == pytest.approx(sb + sa) == pytest.approx(2 * half)
