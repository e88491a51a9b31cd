"""The windowed book against a plain dict under updates far and near, window moves, clears,
snapshots and BBO-built books (hypothesis).

Small windows (64-256 ticks) make every path frequent: updates above the window (it moves up),
below it (the overflow hash table), removals of the best that empty the window (the best comes
back from the overflow), touches falling below the window's middle (it moves down).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlab.book import (
    EMPTY_ASK,
    EMPTY_BID,
    OrderBook,
    book_apply,
    book_best_ask,
    book_best_bid,
    book_depth,
    book_init,
    book_is_crossed,
    book_levels,
    book_mid,
    book_new,
    book_qty_at,
    book_side_size,
    book_stats,
)
from hftlab.book._core import book_apply_at, book_set_bbo

BID, ASK = 1, -1


class Ref:
    """One dict per side."""

    def __init__(self) -> None:
        self.d: dict[int, dict[int, int]] = {BID: {}, ASK: {}}

    def apply(self, side: int, price: int, qty: int) -> int:
        old = self.d[side].get(price, 0)
        if qty > 0:
            self.d[side][price] = qty
        else:
            self.d[side].pop(price, None)
        return old

    def clear(self, side: int) -> None:
        for s in (BID, ASK):
            if side in (0, s):
                self.d[s].clear()

    def best(self, side: int) -> tuple[int, int]:
        d = self.d[side]
        if not d:
            return (EMPTY_BID, 0) if side == BID else (EMPTY_ASK, 0)
        p = max(d) if side == BID else min(d)
        return p, d[p]

    def depth(self, side: int, n: int | None = None) -> list[tuple[int, int]]:
        d = self.d[side]
        return [(p, d[p]) for p in sorted(d, reverse=side == BID)[:n]]


def _check(b: OrderBook, ref: Ref, prices: list[int], full: bool) -> None:
    bk = b.array
    assert book_best_bid(bk) == ref.best(BID)
    assert book_best_ask(bk) == ref.best(ASK)
    out_p = np.empty(7, np.int64)
    out_q = np.empty(7, np.int64)
    for s in (BID, ASK):
        assert book_levels(bk, s) == len(ref.d[s])
        for p in prices:
            assert book_qty_at(bk, s, p) == ref.d[s].get(p, 0)
        m = book_depth(bk, s, out_p, out_q)
        assert list(zip(out_p[:m].tolist(), out_q[:m].tolist(), strict=True)) == ref.depth(s, 7)
        if full:
            pr, qt = b.depth(s, len(ref.d[s]) + 3)  # every level, best first
            assert list(zip(pr.tolist(), qt.tolist(), strict=True)) == ref.depth(s)
        assert book_stats(bk, s)[4] == 0  # nothing refused: the capacity is ample
    bb, ba = ref.best(BID)[0], ref.best(ASK)[0]
    both = bool(ref.d[BID]) and bool(ref.d[ASK])
    assert book_is_crossed(bk) == (both and bb >= ba)
    assert np.isnan(book_mid(bk)) if not both else book_mid(bk) == 0.5 * (bb + ba)


# An update: (side, distance kind, offset, qty). Prices are a moving centre plus an offset
# that is near (inside the spread or a few ticks), one window away, or many windows away.
_update = st.tuples(
    st.sampled_from([BID, ASK]),
    st.sampled_from(["near", "mid", "far", "best"]),
    st.integers(-(10**6), 10**6),
    st.one_of(st.just(0), st.integers(1, 9)),
)
_op = st.one_of(
    st.tuples(st.just("set"), _update),
    st.tuples(st.just("move"), st.integers(-2000, 2000)),  # the market drifts
    st.tuples(st.just("clear"), st.sampled_from([BID, ASK, 0])),
    st.tuples(st.just("bbo"), st.tuples(st.integers(-5, 5), st.integers(0, 3))),
    st.tuples(
        st.just("snapshot"),
        st.lists(st.tuples(st.sampled_from([BID, ASK]), st.integers(0, 3000)), max_size=40),
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    window=st.sampled_from([64, 128, 256]),
    centre=st.sampled_from([100_000, 52_341, 6_200_000, 10**12, 3_000]),
    ops=st.lists(_op, max_size=120),
)
def test_matches_dict_far_and_near(window: int, centre: int, ops: list) -> None:
    b = OrderBook(capacity=4096, window=window)
    ref = Ref()
    touched: list[int] = []
    for i, (what, arg) in enumerate(ops):
        if what == "set":
            side, dist, off, qty = arg
            if dist == "near":
                p = centre + side * (off % 12 - 10)  # some cross the spread
            elif dist == "mid":
                p = centre - side * (off % (2 * window))
            elif dist == "far":
                p = centre - side * (off % (300 * window)) + off // 7
            else:  # remove or change the best level, the hard case
                p = ref.best(side)[0] if ref.d[side] else centre
            assert b.apply(side, p, qty) == ref.apply(side, p, qty)
            touched.append(p)
        elif what == "move":
            centre += arg * (window // 64)
        elif what == "clear":
            b.clear(arg)
            ref.clear(arg)
        elif what == "bbo":
            spread, size = arg
            bp, ap = centre - 1 + min(spread, 0), centre + 1 + max(spread, 0)
            book_set_bbo(b.array, bp, size, ap, size + 1)
            ref.clear(0)
            if size:
                ref.apply(BID, bp, size)
            ref.apply(ASK, ap, size + 1)
            touched += [bp, ap]
        else:  # a snapshot: a clear, then levels in any order (venues send best first)
            b.clear(0)
            ref.clear(0)
            for side, off in arg:
                p = centre - side * (1 + off * window // 64)
                assert b.apply(side, p, 1 + off % 5) == ref.apply(side, p, 1 + off % 5)
        _check(b, ref, touched[-6:], full=i % 10 == 0)
    _check(b, ref, touched, full=True)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([BID, ASK]), st.integers(0, 10**7), st.integers(0, 3)),
        max_size=400,
    )
)
def test_wide_sparse_prices_match_reference(seq: list[tuple[int, int, int]]) -> None:
    """Prices spread over ten million ticks: most levels in the overflow, the window moving
    up at every better level and down when the touch empties."""
    b = OrderBook(capacity=1024, window=64)
    ref = Ref()
    for side, price, qty in seq:
        assert b.apply(side, price, qty) == ref.apply(side, price, qty)
        assert b.best_bid == ref.best(BID) and b.best_ask == ref.best(ASK)
    for s in (BID, ASK):
        assert b.to_dict(s) == ref.d[s]
        assert b.depth(s, 10**4)[0].tolist() == [p for p, _ in ref.depth(s)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(1, 9)), min_size=1, max_size=200),
    st.lists(st.integers(0, 200), max_size=200),
)
def test_emptying_the_touch_walks_down_through_the_overflow(
    levels: list[tuple[int, int]], removals: list[int]
) -> None:
    """Remove the best again and again: each new best comes from the bitmap or, once the
    window is empty, from the overflow (the window moves down to it)."""
    b = OrderBook(capacity=1024, window=64)
    ref = Ref()
    for off, q in levels:
        p = 1_000_000 - 97 * off  # 97 ticks apart: at most one level per window
        b.apply(BID, p, q)
        ref.apply(BID, p, q)
    moves0 = book_stats(b.array, BID)[3]
    refills = 0  # removals of the best that left the window empty and the side not
    for k in removals:
        if not ref.d[BID]:
            break
        p = ref.best(BID)[0] if k % 3 else sorted(ref.d[BID])[k % len(ref.d[BID])]
        refills += p == ref.best(BID)[0] and len(ref.d[BID]) > 1
        assert b.apply(BID, p, 0) == ref.apply(BID, p, 0)
        assert b.best_bid == ref.best(BID)
        assert b.to_dict(BID) == ref.d[BID]
    assert book_stats(b.array, BID)[3] - moves0 == refills


def test_window_moves_with_the_touch_and_keeps_every_level() -> None:
    """A market trending up through many windows: the windows follow, the bids it leaves
    behind stay in the overflow, and nothing is lost."""
    b = OrderBook(capacity=8192, window=256)
    ref = Ref()
    rng = np.random.default_rng(5)
    mid = 50_000
    for _ in range(20_000):
        mid += int(rng.integers(-2, 4))
        side = BID if rng.random() < 0.5 else ASK
        p = mid - side * int(rng.geometric(0.02))
        q = int(rng.integers(0, 5))
        assert b.apply(side, p, q) == ref.apply(side, p, q)
        # As on a venue, the touch follows the market: levels the mid moved through go.
        while b.levels(ASK) and b.best_ask[0] <= mid:
            p = b.best_ask[0]
            assert b.apply(ASK, p, 0) == ref.apply(ASK, p, 0)
        while b.levels(BID) and b.best_bid[0] >= mid + 1:
            p = b.best_bid[0]
            assert b.apply(BID, p, 0) == ref.apply(BID, p, 0)
    for s in (BID, ASK):
        assert b.to_dict(s) == ref.d[s]
        win, over, far, moves, dropped = book_stats(b.array, s)
        assert win + over == len(ref.d[s]) and dropped == 0
        assert moves > 10  # up for the bids, down for the asks (the touch keys fall)
        if s == BID:  # the bids the market left behind are deep: in the overflow
            assert over > 0 and far > 0
    assert b.best_bid == ref.best(BID) and b.best_ask == ref.best(ASK)


def test_stack_kernel_is_the_single_book_kernel() -> None:
    """book_apply_at on book b of a stack (the simulator's layout) touches that book only."""
    size = book_side_size(64, 16)
    stack = np.zeros((3, 2, size), np.int64)
    for bk in stack:
        book_init(bk, 64, 16)
    one = book_new(16, 64)
    rng = np.random.default_rng(2)
    for _ in range(2000):
        side = 1 if rng.random() < 0.5 else -1
        p = 1000 - side * int(rng.integers(-3, 400))
        q = int(rng.integers(0, 4))
        assert book_apply_at(stack, 1, side, p, q) == book_apply(one, side, p, q)
    assert np.array_equal(stack[1], one)
    assert book_levels(stack[0], 1) == book_levels(stack[2], -1) == 0


def test_extreme_prices() -> None:
    b = OrderBook(capacity=64, window=64)
    for p in (1, 2, 10**15, 10**15 - 10**9):
        b.apply(ASK, p, 3)
        b.apply(BID, p, 4)
    assert b.best_ask == (1, 3) and b.best_bid == (10**15, 4)
    assert b.to_dict(ASK) == {1: 3, 2: 3, 10**15: 3, 10**15 - 10**9: 3}


@pytest.mark.parametrize(("window", "capacity"), [(63, 16), (100, 16), (64, 0)])
def test_bad_dimensions_are_refused(window: int, capacity: int) -> None:
    with pytest.raises(ValueError, match=r"window|capacity"):
        OrderBook(capacity=capacity, window=window)
