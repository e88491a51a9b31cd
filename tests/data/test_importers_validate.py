"""The flat-ladder top-of-book replay used by import validation agrees with hftlab.book."""

from __future__ import annotations

import numpy as np
import pytest

from hftlab.data.importers import validate as V
from hftlab.events import EventKind


def _random_rows(seed: int, n: int = 4000) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    mid = 100_000
    kinds = np.full(n, EventKind.DEPTH, np.uint8)
    sides = rng.choice([1, -1], n).astype(np.int64)
    # Mostly near the touch, some deep, a few absurdly far (outside any ladder window).
    off = np.where(rng.random(n) < 0.9, rng.integers(0, 30, n), rng.integers(0, 3000, n))
    off = np.where(rng.random(n) < 0.02, rng.integers(10**6, 10**7, n), off)
    prices = np.where(sides > 0, mid - 1 - off, mid + off).astype(np.int64)
    prices = np.maximum(prices, 1)
    qtys = np.where(rng.random(n) < 0.4, 0, rng.integers(1, 50, n)).astype(np.int64)
    clear = rng.random(n) < 0.003
    kinds[clear] = EventKind.CLEAR
    sides[clear] = rng.choice([-1, 0, 1], int(clear.sum()))
    kinds[(rng.random(n) < 0.1) & ~clear] = EventKind.SNAPSHOT
    skip = rng.random(n) < 0.05
    ends = rng.random(n) < 0.5
    ends[-1] = True
    return kinds, sides, prices, qtys, skip, ends


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("max_ticks", [64, 1 << 18])
def test_ladder_replay_equals_sorted_book(
    seed: int, max_ticks: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(V, "MAX_LADDER_TICKS", max_ticks)
    rows = _random_rows(seed)
    exact = V.replay_top(*rows, 1 << 14, ladder=False)
    fast = V.replay_top(*rows, 1 << 14, ladder=True)
    for a, b in zip(exact, fast, strict=True):
        np.testing.assert_array_equal(a, b)


def test_ladder_replay_of_nothing() -> None:
    empty = np.zeros(0, np.int64)
    out = V.replay_top(empty.astype(np.uint8), empty, empty, empty, empty.astype(bool),
                       empty.astype(bool), 1024)  # fmt: skip
    assert all(a.shape == (0,) for a in out)
