"""Markouts: sign, symmetry, horizons past the data, clocks, invariance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlab.analytics import (
    DEFAULT_HORIZONS_NS,
    fill_markouts,
    markout_curve,
    markouts,
)
from hftlab.errors import ConfigError, DataError

MS = 1_000_000
S = 1_000 * MS


def picked_off(n: int, half_spread: float, move: float) -> tuple[np.ndarray, ...]:
    """Fills every 2 min at mid ∓ half spread; 50 ms later the mid moves `move` against us."""
    side = np.where(np.arange(n) % 2 == 0, 1, -1)
    fill_ts = np.arange(n, dtype=np.int64) * 120 * S + S
    mid_before = 100.0 + np.arange(n) * 0.5
    price = mid_before - side * half_spread  # a maker buys at the bid, sells at the ask
    mid_after = mid_before - side * move  # bought → mid falls; sold → mid rises
    mid_ts = np.sort(np.concatenate(([0], fill_ts - 1, fill_ts + 50 * MS)))
    mid = np.empty(mid_ts.size)
    mid[0] = mid_before[0]
    mid[1::2] = mid_before
    mid[2::2] = mid_after
    return fill_ts, price, side, mid_ts, mid


def test_picked_off_strategy_has_negative_markouts() -> None:
    half_spread, move = 0.01, 0.05
    fill_ts, price, side, mid_ts, mid = picked_off(40, half_spread, move)
    m = markouts(fill_ts, price, side, mid_ts, mid, end_ts=int(fill_ts[-1] + 120 * S))
    # Every horizon ≥ 100 ms sees the moved mid: s·(mid_after − price) = half_spread − move.
    expected = half_spread - move
    assert expected < 0
    assert m.price_markout == pytest.approx(np.full((40, 4), expected))
    assert m.bps_markout == pytest.approx(np.broadcast_to(1e4 * expected / price[:, None], (40, 4)))
    curve = markout_curve(m)
    for c in (curve.all, curve.buy, curve.sell):
        assert all(x < 0 for x in c.mean) and all(x < 0 for x in c.median_bps)
        assert c.mean == pytest.approx([expected] * 4)
    assert curve.buy.count == (20,) * 4 and curve.all.count == (40,) * 4
    # At horizon 0 the mid has not moved yet: the fill earned the half spread.
    m0 = markouts(fill_ts, price, side, mid_ts, mid, horizons_ns=[0])
    assert m0.price_markout[:, 0] == pytest.approx(np.full(40, half_spread))


def test_symmetric_market_has_zero_mean_markouts() -> None:
    # A random-walk mid independent of the fills; fills at the mid with random sides.
    rng = np.random.default_rng(11)
    n_mid, n_fill = 200_000, 20_000
    mid_ts = np.arange(n_mid, dtype=np.int64) * 10 * MS
    mid = 50_000 + np.cumsum(rng.choice([-0.5, 0.5], n_mid))
    idx = rng.integers(0, n_mid - 7000, n_fill)
    side = rng.choice([-1, 1], n_fill)
    m = markouts(mid_ts[idx], mid[idx], side, mid_ts, mid)
    curve = markout_curve(m)
    for j, h in enumerate(DEFAULT_HORIZONS_NS):
        col = m.price_markout[:, j]
        stderr = np.nanstd(col) / np.sqrt(curve.all.count[j])
        # Zero within 4 standard errors; the walk's step is 0.5 every 10 ms.
        assert abs(curve.all.mean[j]) < 4 * stderr, h
    # Overlapping 60 s windows make long-horizon spreads noisy; 100 ms (10 steps) is not.
    spread_100ms = np.nanstd(m.price_markout[:, 0])
    assert spread_100ms == pytest.approx(0.5 * np.sqrt(100 * MS / (10 * MS)), rel=0.05)


def test_horizons_past_the_data_are_missing() -> None:
    mid_ts = np.array([0, 10 * S], dtype=np.int64)
    mid = np.array([100.0, 101.0])
    m = markouts(
        np.array([5 * S, 9_950 * MS]), np.array([100.0, 100.0]), np.array([1, 1]), mid_ts, mid
    )
    # The second fill's first horizon, 9.95 s + 0.1 s = 10.05 s, is already past the end.
    assert np.isnan(m.price_markout[1]).all()
    assert m.price_markout[0, :2] == pytest.approx([0.0, 0.0])  # 5.1 s and 6 s: mid 100
    assert np.isnan(m.price_markout[0, 2:]).all()  # 15 s and 65 s are past the end
    curve = markout_curve(m)
    assert curve.all.count == (1, 1, 0, 0)
    assert curve.all.mean[2] is None and curve.sell.count == (0, 0, 0, 0)


def test_clock_choice() -> None:
    mid_ts = np.array([0, 1_050 * MS, 100 * S], dtype=np.int64)
    mid = np.array([100.0, 101.0, 101.0])
    fills = {
        "ts_exchange": np.array([0], dtype=np.int64),
        "ts_local": np.array([100 * MS], dtype=np.int64),
        "side": np.array([1], dtype=np.int8),
        "price": np.array([100.0]),
    }
    # 1 s after the exchange stamp the mid is still 100; 1 s after the local stamp it is 101.
    ex = fill_markouts(fills, mid_ts, mid, horizons_ns=[S])
    lo = fill_markouts(fills, mid_ts, mid, horizons_ns=[S], clock="local")
    assert ex.price_markout[0, 0] == 0.0
    assert lo.price_markout[0, 0] == pytest.approx(101.0 - 100.0)
    with pytest.raises(ConfigError):
        fill_markouts(fills, mid_ts, mid, clock="venue")  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    mid_ts = np.array([0, 10 * S], dtype=np.int64)
    mid = np.array([100.0, 101.0])
    with pytest.raises(DataError, match="must be > 0"):
        markouts(np.array([S]), np.array([0.0]), np.array([1]), mid_ts, mid)
    with pytest.raises(DataError, match=r"side\[0\] is 2"):
        markouts(np.array([S]), np.array([1.0]), np.array([2]), mid_ts, mid)
    with pytest.raises(ConfigError):
        markouts(np.array([S]), np.array([1.0]), np.array([1]), mid_ts, mid, horizons_ns=[-1])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-2, 2), min_size=2, max_size=80),
    st.lists(
        st.tuples(st.integers(0, 79), st.sampled_from([-1, 1]), st.floats(-1, 1)),
        min_size=1,
        max_size=20,
    ),
    st.floats(-50, 1e4),
)
def test_markouts_invariant_to_price_shift(
    steps: list[float], fills: list[tuple[int, int, float]], shift: float
) -> None:
    mid = 100.0 + np.cumsum(steps)
    mid_ts = np.arange(mid.size, dtype=np.int64) * 100 * MS
    idx = np.array([min(i, mid.size - 1) for i, _, _ in fills])
    side = np.array([s for _, s, _ in fills])
    price = mid[idx] + np.array([o for _, _, o in fills])
    horizons = [0, 100 * MS, 1 * S]
    base = markouts(mid_ts[idx], price, side, mid_ts, mid, horizons_ns=horizons)
    moved = markouts(mid_ts[idx], price + shift, side, mid_ts, mid + shift, horizons_ns=horizons)
    tol = 1e-9 * (1 + abs(shift) + np.abs(mid).max())
    np.testing.assert_allclose(moved.price_markout, base.price_markout, atol=tol, rtol=0)
