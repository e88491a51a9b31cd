"""L2 book: scenarios and hypothesis properties against a dict-based reference model."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from hftlab.book import (
    EMPTY_ASK,
    EMPTY_BID,
    OrderBook,
    book_apply,
    book_apply_events,
    book_best_ask,
    book_best_bid,
    book_clear,
    book_depth,
    book_imbalance,
    book_is_crossed,
    book_levels,
    book_micro_price,
    book_mid,
    book_new,
    book_qty_at,
    book_stats,
)
from hftlab.events import EventKind

BID, ASK = 1, -1


class RefBook:
    """The obvious model: one dict per side."""

    def __init__(self) -> None:
        self.sides: dict[int, dict[int, int]] = {BID: {}, ASK: {}}

    def apply(self, side: int, price: int, qty: int) -> int:
        old = self.sides[side].get(price, 0)
        if qty > 0:
            self.sides[side][price] = qty
        else:
            self.sides[side].pop(price, None)
        return old

    def clear(self, side: int) -> None:
        for s in (BID, ASK):
            if side in (0, s):
                self.sides[s].clear()

    def best(self, side: int) -> tuple[int, int]:
        d = self.sides[side]
        if not d:
            return (EMPTY_BID, 0) if side == BID else (EMPTY_ASK, 0)
        p = max(d) if side == BID else min(d)
        return p, d[p]

    def depth(self, side: int, n: int) -> list[tuple[int, int]]:
        d = self.sides[side]
        keys = sorted(d, reverse=(side == BID))[:n]
        return [(p, d[p]) for p in keys]


def test_empty_book() -> None:
    bk = book_new(16)
    assert book_best_bid(bk) == (EMPTY_BID, 0)
    assert book_best_ask(bk) == (EMPTY_ASK, 0)
    assert not book_is_crossed(bk)
    assert np.isnan(book_mid(bk)) and np.isnan(book_micro_price(bk))
    assert book_apply(bk, BID, 100, 0) == 0  # deleting a level not held is normal
    assert book_levels(bk, BID) == 0


def test_basic_levels_and_queries() -> None:
    b = OrderBook(16)
    for p, q in [(100, 5), (99, 7), (101, 2)]:
        b.apply(BID, p, q)
    for p, q in [(103, 4), (102, 1), (110, 9)]:
        b.apply(ASK, p, q)
    assert b.best_bid == (101, 2)
    assert b.best_ask == (102, 1)
    assert b.apply(BID, 101, 0) == 2
    assert b.best_bid == (100, 5)
    assert b.qty_at(ASK, 110) == 9 and b.qty_at(ASK, 111) == 0
    prices, qtys = b.depth(ASK, 2)
    assert prices.tolist() == [102, 103] and qtys.tolist() == [1, 4]
    assert b.mid == 101.0
    # micro-price: (100*1 + 102*5) / 6
    assert abs(b.micro_price - (100 * 1 + 102 * 5) / 6) < 1e-12
    assert abs(book_imbalance(b.array) - (5 - 1) / 6) < 1e-12
    assert not b.crossed
    b.apply(BID, 102, 3)
    assert b.crossed
    b.clear(BID)
    assert b.levels(BID) == 0 and b.levels(ASK) == 3
    b.clear(0)
    assert b.levels(ASK) == 0


def test_btcusdt_snapshot_spanning_20_percent() -> None:
    """1000 levels a side, ±10 % around 62000.00 at tick 0.01 (≈6.2 M ticks)."""
    rng = np.random.default_rng(1)
    mid = 6_200_000
    bids = mid - 1 - np.sort(rng.choice(620_000, 1000, replace=False))
    asks = mid + 1 + np.sort(rng.choice(620_000, 1000, replace=False))
    b = OrderBook(2048)
    ref = RefBook()
    for p in bids:  # snapshots arrive best first
        b.apply(BID, int(p), 3)
        ref.apply(BID, int(p), 3)
    for p in asks:
        b.apply(ASK, int(p), 4)
        ref.apply(ASK, int(p), 4)
    assert b.best_bid == ref.best(BID) and b.best_ask == ref.best(ASK)
    assert b.to_dict(BID) == ref.sides[BID] and b.to_dict(ASK) == ref.sides[ASK]
    assert b.levels(BID) == 1000


def test_ethbtc_tiny_prices() -> None:
    """ETHBTC at tick 1e-6: price 0.052341 is 52341 ticks; dense levels."""
    b = OrderBook(64)
    for k in range(20):
        b.apply(BID, 52_341 - k, k + 1)
        b.apply(ASK, 52_342 + k, k + 1)
    assert b.best_bid == (52_341, 1) and b.best_ask == (52_342, 1)
    assert b.depth(BID, 3)[0].tolist() == [52_341, 52_340, 52_339]


def test_full_overflow_refuses_and_counts() -> None:
    """Levels below the window go to the overflow; a full overflow refuses (and counts) the
    insertion: never a silent loss, never a level near the touch."""
    b = OrderBook(capacity=3, window=64)
    b.apply(BID, 10_000, 1)  # the window: [10_000 - 56, 10_000 + 8)
    for p in (9_000, 8_000, 7_000):
        b.apply(BID, p, 2)
    assert b.dropped(BID) == 0 and book_stats(b.array, BID)[:2] == (1, 3)
    b.apply(BID, 6_000, 2)  # a fourth level below the window: refused
    b.apply(BID, 9_000, 5)  # an update of a held overflow level is not an insertion
    assert b.dropped(BID) == 1
    assert b.to_dict(BID) == {10_000: 1, 9_000: 5, 8_000: 2, 7_000: 2}
    b.apply(BID, 9_990, 4)  # the window still takes any number of levels
    assert b.levels(BID) == 5 and b.dropped(BID) == 1
    b.apply(BID, 8_000, 0)  # room again
    b.apply(BID, 6_000, 2)
    assert b.dropped(BID) == 1 and b.qty_at(BID, 6_000) == 2


def test_apply_events_kernel() -> None:
    kinds = np.array(
        [EventKind.CLEAR, EventKind.SNAPSHOT, EventKind.SNAPSHOT, EventKind.TRADE, EventKind.DEPTH],
        dtype=np.uint8,
    )
    sides = np.array([0, 1, -1, 1, 1], dtype=np.int8)
    prices = np.array([0, 100, 101, 100, 100], dtype=np.int64)
    qtys = np.array([0, 5, 6, 1, 0], dtype=np.int64)
    bk = book_new(8)
    book_apply(bk, BID, 50, 1)
    assert book_apply_events(bk, kinds, sides, prices, qtys) == 4
    assert book_best_bid(bk) == (EMPTY_BID, 0) and book_best_ask(bk) == (101, 6)


@njit(cache=True)
def _from_njit(bk: np.ndarray) -> int:
    book_apply(bk, 1, 7, 2)
    p, q = book_best_bid(bk)
    return p * 10 + q


def test_callable_from_njit() -> None:
    bk = book_new(8)
    assert _from_njit(bk) == 72
    book_clear(bk, 1)
    assert book_levels(bk, 1) == 0


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.sampled_from([BID, ASK]),
            # a narrow price range makes collisions (updates, deletes of held levels) frequent
            st.integers(990, 1010),
            st.one_of(st.just(0), st.integers(1, 50)),
        ),
        st.tuples(st.just("clear"), st.sampled_from([BID, ASK, 0]), st.just(0), st.just(0)),
    ),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_matches_reference_model(seq: list[tuple[str, int, int, int]]) -> None:
    b = OrderBook(64)
    ref = RefBook()
    out_p = np.empty(5, np.int64)
    out_q = np.empty(5, np.int64)
    for op, side, price, qty in seq:
        if op == "set":
            assert b.apply(side, price, qty) == ref.apply(side, price, qty)
        else:
            b.clear(side)
            ref.clear(side)
        for s in (BID, ASK):
            assert b.best_bid == ref.best(BID) and b.best_ask == ref.best(ASK)
            m = book_depth(b.array, s, out_p, out_q)
            assert list(zip(out_p[:m].tolist(), out_q[:m].tolist(), strict=True)) == ref.depth(s, 5)
            assert book_qty_at(b.array, s, price) == ref.sides[s].get(price, 0)
        bb, ba = ref.best(BID)[0], ref.best(ASK)[0]
        assert b.crossed == (bool(ref.sides[BID]) and bool(ref.sides[ASK]) and bb >= ba)
    assert b.to_dict(BID) == ref.sides[BID] and b.to_dict(ASK) == ref.sides[ASK]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([BID, ASK]), st.integers(0, 10**7), st.integers(0, 3)),
        max_size=400,
    )
)
def test_wide_sparse_prices_match_reference(seq: list[tuple[int, int, int]]) -> None:
    """Prices spread over millions of ticks exercise the binary-search path."""
    b = OrderBook(1024)
    ref = RefBook()
    for side, price, qty in seq:
        assert b.apply(side, price, qty) == ref.apply(side, price, qty)
    for s in (BID, ASK):
        assert b.to_dict(s) == ref.sides[s]
