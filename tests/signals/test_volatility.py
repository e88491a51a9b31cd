"""EWMA and EWMA volatility in time: half-life property under irregular sampling, hand values,
online == offline, recovery of a known volatility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hftlab.errors import ConfigError, DataError
from hftlab.events import NS_PER_S
from hftlab.signals import Ewma, EwmaVolatility, annualise, ewma, ewma_volatility

H = 10 * NS_PER_S  # half-life used throughout: 10 s


def _irregular_times(rng: np.random.Generator, start: int, stop: int, n: int) -> np.ndarray:
    """``n`` sorted random times in (start, stop), then ``stop`` itself."""
    inner = np.sort(rng.integers(start + 1, stop, n))
    return np.concatenate([inner, [stop]]).astype(np.int64)


@pytest.mark.parametrize("seed", range(5))
def test_ewma_step_halves_after_one_half_life_whatever_the_sampling(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t0 = 1_723_161_600 * NS_PER_S
    times = _irregular_times(rng, t0, t0 + H, int(rng.integers(1, 200)))
    e = Ewma(H)
    e.update(t0, 1.0)  # the input is 1 up to t0 ...
    for t in times:
        e.update(int(t), 0.0)  # ... and 0 after it
    assert e.value == pytest.approx(0.5, rel=1e-12)
    offline = ewma(np.concatenate([[t0], times]), np.concatenate([[1.0], np.zeros(len(times))]), H)
    assert offline[-1] == pytest.approx(0.5, rel=1e-12)


def test_ewma_by_hand() -> None:
    # H = 1000 ns. (0, 1): v = 1. (1000, 0): a = 1/2, v = 0.5. (3000, 1): a = 1/4,
    # v = 0.25*0.5 + 0.75*1 = 0.875. Same time (3000, 0) replaces the 1: v = 0.25*0.5 = 0.125.
    e = Ewma(1000)
    assert e.update(0, 1.0) == 1.0
    assert e.update(1000, 0.0) == pytest.approx(0.5)
    assert e.update(3000, 1.0) == pytest.approx(0.875)
    assert e.update(3000, 0.0) == pytest.approx(0.125)
    np.testing.assert_allclose(
        ewma([0, 1000, 3000, 3000], [1, 0, 1, 0], 1000), [1, 0.5, 0.875, 0.125]
    )


@pytest.mark.parametrize("seed", range(3))
def test_volatility_step_halves_after_one_half_life_event_time(seed: int) -> None:
    # Returns with r²/Δt = c exactly (alternating signs) at irregular times: variance = c.
    # Then the price stops moving at t0: after H of zero returns, sampled however, c/2.
    rng = np.random.default_rng(seed)
    c = 4e-8  # variance rate per second
    t_start = 1_723_161_600 * NS_PER_S
    t0 = t_start + 20 * H
    times = _irregular_times(rng, t_start, t0, 300)
    dt_s = np.diff(np.concatenate([[t_start], times])) / NS_PER_S
    signs = np.where(np.arange(len(dt_s)) % 2 == 0, 1.0, -1.0)
    prices = 100.0 * np.exp(np.cumsum(signs * np.sqrt(c * dt_s)))
    vol = EwmaVolatility(H)
    vol.update(t_start, 100.0)
    for t, p in zip(times, prices, strict=True):
        vol.update(int(t), float(p))
    assert vol.variance == pytest.approx(c, rel=1e-9)
    for t in _irregular_times(rng, t0, t0 + H, int(rng.integers(1, 100))):
        vol.update(int(t), float(prices[-1]))
    assert vol.variance == pytest.approx(c / 2, rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_volatility_step_halves_after_one_half_life_sampled(seed: int) -> None:
    # Sampling every 1 s: the grid prices alternate so every grid return has r² = c * 1 s;
    # the updates between grid points are irregular and do not matter. Then flat for H.
    rng = np.random.default_rng(seed)
    c = 4e-8
    step = NS_PER_S
    t_start = 1_723_161_600 * NS_PER_S
    vol = EwmaVolatility(H, sample_interval_ns=step)
    r = math.sqrt(c * 1.0)
    for k in range(200):
        base = t_start + k * step
        level = 100.0 * math.exp(r if k % 2 else 0.0)
        # Several updates inside (base, base + step), the last one sets the grid price.
        for t in np.sort(rng.integers(base + 1, base + step, 3)):
            vol.update(int(t), level * (1 + 1e-3 * rng.random()))
        vol.update(base + step - 1, level)
    t0 = t_start + 200 * step
    assert vol.variance == pytest.approx(c, rel=1e-9)
    flat = level
    # Grid points t0 .. t0 + H are all sampled with the flat price (the one at t0 + H sees the
    # price before it), however the updates fall; gaps of several steps are applied at once.
    for t in _irregular_times(rng, t0, t0 + H, int(rng.integers(1, 30))):
        vol.update(int(t), flat)
    assert vol.variance == pytest.approx(c / 2, rel=1e-9)


def test_volatility_by_hand() -> None:
    # H = 1 s. Prices 100 (t=0), 101 (t=1 s), 102 (t=2 s), 99 (t=2 s, replaces 102).
    # r1 = ln(1.01) over 1 s: v = r1². Then a = 1/2: v = r1²/2 + ln(102/101)²/2; the same-time
    # update redoes it with ln(99/101).
    vol = EwmaVolatility(NS_PER_S)
    assert math.isnan(vol.update(0, 100.0))
    assert vol.update(NS_PER_S, 101.0) == pytest.approx(math.log(1.01))
    r1 = math.log(1.01)
    v2 = 0.5 * r1**2 + 0.5 * math.log(102 / 101) ** 2
    assert vol.update(2 * NS_PER_S, 102.0) == pytest.approx(math.sqrt(v2))
    v3 = 0.5 * r1**2 + 0.5 * math.log(99 / 101) ** 2
    assert vol.update(2 * NS_PER_S, 99.0) == pytest.approx(math.sqrt(v3))


@pytest.mark.parametrize("step", [None, 250_000_000, 3 * NS_PER_S])
def test_online_equals_offline(step: int | None) -> None:
    rng = np.random.default_rng(9)
    n = 3_000
    gaps = rng.integers(0, 2 * NS_PER_S, n)
    gaps[rng.random(n) < 0.1] = 0  # repeated timestamps
    ts = 1_723_161_600 * NS_PER_S + np.cumsum(gaps)
    price = 60_000 * np.exp(np.cumsum(rng.normal(0, 2e-4, n)))
    offline = ewma_volatility(ts, price, 30 * NS_PER_S, step)
    vol = EwmaVolatility(30 * NS_PER_S, step)
    online = np.array([vol.update(int(t), float(p)) for t, p in zip(ts, price, strict=True)])
    np.testing.assert_array_equal(np.isnan(online), np.isnan(offline))
    np.testing.assert_allclose(online, offline, rtol=1e-12)


def test_recovers_a_known_volatility() -> None:
    # Geometric Brownian motion observed at irregular times, σ = 1e-4 per sqrt(second).
    rng = np.random.default_rng(4)
    n = 400_000
    dt = rng.exponential(0.25, n)
    ts = (np.cumsum(dt) * NS_PER_S).astype(np.int64) + 1
    price = 100 * np.exp(np.cumsum(rng.normal(0, 1e-4 * np.sqrt(np.diff(ts, prepend=0) / 1e9))))
    for step in (None, NS_PER_S):
        sigma = ewma_volatility(ts, price, 3_600 * NS_PER_S, step)[-1]
        assert sigma == pytest.approx(1e-4, rel=0.05)


def test_annualise_by_hand() -> None:
    # sqrt(365 * 86400) = sqrt(31_536_000) = 5615.6922...
    assert annualise(1e-4) == pytest.approx(0.56156922, rel=1e-7)
    assert annualise(1.0, days_per_year=360) == pytest.approx(math.sqrt(360 * 86_400))
    np.testing.assert_allclose(annualise(np.array([1.0, 2.0])), [5615.69229, 11231.38458])


def test_errors() -> None:
    with pytest.raises(ConfigError, match="half_life_ns"):
        Ewma(0)
    with pytest.raises(ConfigError, match="sample_interval_ns"):
        EwmaVolatility(H, sample_interval_ns=-5)
    vol = EwmaVolatility(H)
    vol.update(10, 1.0)
    with pytest.raises(DataError, match="time goes back"):
        vol.update(5, 1.0)
    with pytest.raises(DataError, match="positive"):
        vol.update(20, 0.0)
    with pytest.raises(DataError, match="row 1"):
        ewma_volatility([0, 1], [1.0, -1.0], H)
    with pytest.raises(DataError, match="back in time"):
        ewma([5, 1], [1.0, 1.0], H)
    with pytest.raises(DataError, match="differ in length"):
        ewma_volatility([0, 1], [1.0], H)
