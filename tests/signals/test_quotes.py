"""Mid, weighted mid, imbalance: formulas against hand-computed values; scalar == array."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hftlab.book import book_apply, book_new
from hftlab.errors import ConfigError, DataError
from hftlab.signals import (
    book_depth_imbalance,
    depth_imbalance,
    imbalance,
    mid,
    weighted_mid,
)


def test_mid_by_hand() -> None:
    assert mid(100.0, 101.0) == 100.5
    assert mid(6_183_763, 6_183_764) == 6_183_763.5  # integer ticks
    np.testing.assert_array_equal(mid(np.array([1.0, 2.0]), np.array([3.0, 2.0])), [2.0, 2.0])


def test_imbalance_by_hand() -> None:
    # I = B / (B + A): 3 / (3 + 1) = 0.75; 1 / (1 + 3) = 0.25; 0 / (0 + 5) = 0.
    assert imbalance(3.0, 1.0) == 0.75
    assert imbalance(1, 3) == 0.25
    assert imbalance(0.0, 5.0) == 0.0
    assert math.isnan(imbalance(0.0, 0.0))  # no size: no information, not "balanced"
    out = imbalance(np.array([3.0, 1.0, 0.0]), np.array([1.0, 3.0, 0.0]))
    np.testing.assert_array_equal(out[:2], [0.75, 0.25])
    assert np.isnan(out[2])


def test_weighted_mid_by_hand() -> None:
    # W = I*ask + (1-I)*bid with I = 3/4: 0.75*101 + 0.25*100 = 100.75 (leans to the ask when
    # the bid queue is bigger).
    assert weighted_mid(100.0, 101.0, 3.0, 1.0) == 100.75
    # I = 1/4: 0.25*101 + 0.75*100 = 100.25
    assert weighted_mid(100.0, 101.0, 1.0, 3.0) == 100.25
    assert weighted_mid(100.0, 101.0, 0.0, 0.0) == 100.5  # no size: the mid
    arr = weighted_mid(
        np.array([100.0, 100.0, 100.0]),
        np.array([101.0, 101.0, 101.0]),
        np.array([3.0, 1.0, 0.0]),
        np.array([1.0, 3.0, 0.0]),
    )
    np.testing.assert_array_equal(arr, [100.75, 100.25, 100.5])


def test_scalar_and_array_paths_agree() -> None:
    rng = np.random.default_rng(3)
    bid = rng.integers(100, 200, 50).astype(float)
    ask = bid + rng.integers(1, 4, 50)
    bq = rng.random(50) * 10
    aq = rng.random(50) * 10
    vec = weighted_mid(bid, ask, bq, aq)
    for i in range(50):
        assert weighted_mid(bid[i], ask[i], bq[i], aq[i]) == pytest.approx(vec[i], rel=1e-15)
        assert imbalance(bq[i], aq[i]) == pytest.approx(imbalance(bq, aq)[i], rel=1e-15)


def test_depth_imbalance_by_hand() -> None:
    bids = [1.0, 2.0, 9.0]
    asks = [3.0, 1.0, 0.0]
    # N=1: 1 / (1 + 3) = 0.25; N=2: 3 / (3 + 4) = 3/7; N=3: 12 / (12 + 4) = 0.75
    assert depth_imbalance(bids, asks, levels=1) == 0.25
    assert depth_imbalance(bids, asks, levels=2) == pytest.approx(3 / 7)
    assert depth_imbalance(bids, asks) == 0.75
    # weights 1, 1/2: (1 + 1) / (1 + 1 + 3 + 0.5) = 2 / 5.5
    assert depth_imbalance(bids, asks, levels=2, weights=[1.0, 0.5]) == pytest.approx(2 / 5.5)
    # More levels than given: the missing ones are empty.
    assert depth_imbalance([1.0], [3.0], levels=5) == 0.25
    rows = depth_imbalance(np.array([bids, [0.0, 0.0, 0.0]]), np.array([asks, [0, 0, 0]]), 2)
    assert rows[0] == pytest.approx(3 / 7) and np.isnan(rows[1])


def test_depth_imbalance_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="levels"):
        depth_imbalance([1.0], [1.0], levels=0)
    with pytest.raises(ConfigError, match="weights"):
        depth_imbalance([1.0, 2.0], [1.0, 2.0], levels=2, weights=[1.0])
    with pytest.raises(DataError, match="1-D or 2-D"):
        depth_imbalance(np.ones((2, 2)), np.ones(2))


def test_book_depth_imbalance_matches_array_version() -> None:
    bk = book_new(64)
    book_apply(bk, 1, 100, 3)  # bids 100x3, 99x2
    book_apply(bk, 1, 99, 2)
    book_apply(bk, -1, 101, 5)  # asks 101x5, 103x7
    book_apply(bk, -1, 103, 7)
    # N=1: 3 / (3 + 5) = 0.375; N=2: 5 / (5 + 12) = 5/17
    assert book_depth_imbalance(bk, 1) == 0.375
    assert book_depth_imbalance(bk, 2) == pytest.approx(5 / 17)
    assert book_depth_imbalance(bk, 2) == pytest.approx(depth_imbalance([3, 2], [5, 7], 2))
    assert np.isnan(book_depth_imbalance(book_new(8), 3))
