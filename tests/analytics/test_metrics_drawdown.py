"""Maximum drawdown, its duration and time under water."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftlab.analytics import max_drawdown

S = 1_000_000_000


def test_drawdown_with_unrecovered_final_episode() -> None:
    eq = np.array([100, 110, 105, 99, 104, 107, 110, 112, 104, 100, 101], dtype=float)
    ts = np.arange(eq.size, dtype=np.int64) * S
    # Episode 1: peak 110 set at index 1, under water at 2..5 (trough 99 at 3), back to 110
    # at index 6 → depth 11, peak-to-recovery 6 − 1 = 5 s.
    # Episode 2: peak 112 at index 7, falls to 100 at index 9, never recovers → depth 12,
    # runs to the last sample: 10 − 7 = 3 s.
    dd = max_drawdown(ts, eq)
    assert dd.max_abs == 112 - 100
    assert dd.max_rel == pytest.approx((112 - 100) / 112)
    assert (dd.peak_ts, dd.trough_ts) == (ts[7], ts[9])
    assert dd.recovery_ts is None and not dd.recovered
    assert dd.duration_ns == ts[10] - ts[7]
    assert dd.longest_underwater_ns == ts[6] - ts[1]
    assert dd.longest_underwater_recovered
    assert dd.n_episodes == 2


def test_drawdown_recovered() -> None:
    eq = np.array([100, 90, 95, 100, 101], dtype=float)
    ts = np.array([0, 2, 3, 7, 8], dtype=np.int64) * S
    dd = max_drawdown(ts, eq)
    assert dd.max_abs == 100 - 90 and dd.max_rel == pytest.approx(0.1)
    assert (dd.peak_ts, dd.trough_ts, dd.recovery_ts) == (ts[0], ts[1], ts[3])
    assert dd.recovered and dd.duration_ns == ts[3] - ts[0]
    assert dd.longest_underwater_ns == dd.duration_ns


def test_no_drawdown() -> None:
    dd = max_drawdown(np.arange(4, dtype=np.int64), np.array([1.0, 2.0, 2.0, 3.0]))
    assert dd.max_abs == 0 and dd.n_episodes == 0 and dd.peak_ts is None and dd.recovered


def test_relative_drawdown_undefined_for_pnl_from_zero() -> None:
    dd = max_drawdown(np.arange(3, dtype=np.int64), np.array([0.0, 5.0, -3.0]))
    assert dd.max_abs == 5 - (-3)
    assert dd.max_rel is None and "≤ 0" in dd.rel_reason


def test_relative_drawdown_against_a_capital_base() -> None:
    pnl = np.array([0.0, 5.0, -3.0])
    dd = max_drawdown(np.arange(3, dtype=np.int64), pnl, capital=1000.0)
    assert dd.max_rel == pytest.approx((5 - (-3)) / 1000.0) and dd.rel_reason is None


def test_tolerance_merges_rounding_noise() -> None:
    eq = np.array([100.0, 100.0 - 1e-12, 100.0, 90.0, 95.0])
    ts = np.arange(eq.size, dtype=np.int64) * S
    assert max_drawdown(ts, eq).n_episodes == 2
    merged = max_drawdown(ts, eq, tolerance=1e-9)
    assert merged.n_episodes == 1
    assert merged.peak_ts == ts[2]  # the peak was last set at index 2


equity_lists = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60
)


@given(equity_lists)
def test_drawdown_bounds(values: list[float]) -> None:
    eq = np.array(values)
    ts = np.arange(eq.size, dtype=np.int64) * S
    dd = max_drawdown(ts, eq)
    assert 0 <= dd.max_abs <= eq.max() - eq.min()
    # Equal to the brute-force largest fall from an earlier (or same) point.
    brute = max(eq[i] - eq[j] for j in range(eq.size) for i in range(j + 1))
    assert dd.max_abs == pytest.approx(brute)
    span = int(ts[-1] - ts[0])
    assert 0 <= dd.duration_ns <= dd.longest_underwater_ns <= span
    if dd.max_rel is not None:
        assert dd.max_rel >= 0
