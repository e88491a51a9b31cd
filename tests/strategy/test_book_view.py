"""The strategy's BookView reads the same numbers as the compiled book functions."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlab.book import (
    book_apply,
    book_best_ask,
    book_best_bid,
    book_imbalance,
    book_init,
    book_micro_price,
    book_mid,
    book_new,
    book_side_size,
)
from hftlab.events import Instrument
from hftlab.strategy.context import BookView

INST = Instrument(venue="t", symbol="X", tick_size=0.5, lot_size=0.001)

levels = st.lists(
    st.tuples(st.sampled_from([1, -1]), st.integers(90, 110), st.integers(0, 50)), max_size=60
)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=200, deadline=None)
@given(levels)
def test_book_view_matches_compiled_reads(updates: list[tuple[int, int, int]]) -> None:
    bk = book_new(32)
    view = BookView(bk, INST)
    for side, price, qty in updates:
        # Keep the book uncrossed as a venue's is: bids below 100, asks at or above.
        if (side > 0) == (price < 100):
            book_apply(bk, side, price, qty)
        # The view follows the array in place (no copy), after every update.
        assert view.best_bid_ticks == book_best_bid(bk)
        assert view.best_ask_ticks == book_best_ask(bk)
        assert _same(view.mid_ticks, book_mid(bk))
        assert _same(view.micro_price_ticks, book_micro_price(bk))
        assert _same(view.imbalance, book_imbalance(bk))
        (b, bq), (a, aq) = book_best_bid(bk), book_best_ask(bk)
        assert view.has_both_sides == (bq > 0 and aq > 0)
        assert view.touch_ticks == ((b, a) if bq and aq else None)
        assert view.spread_ticks == (a - b if bq and aq else 0)
        assert _same(view.best_bid, b * 0.5 if bq else math.nan)
        assert _same(view.best_ask, a * 0.5 if aq else math.nan)
        assert view.bid_qty == bq * 0.001 or math.isclose(view.bid_qty, bq * 0.001)
        assert math.isclose(view.ask_qty, aq * 0.001)


def test_book_view_on_a_row_of_a_multi_instrument_array() -> None:
    books = np.zeros((3, 2, book_side_size(64, 16)), dtype=np.int64)
    for bk in books:
        book_init(bk, 64, 16)
    book_apply(books[1], 1, 99, 5)
    book_apply(books[1], -1, 101, 7)
    view = BookView(books[1], INST)
    assert view.best_bid_ticks == (99, 5) and view.best_ask_ticks == (101, 7)
    assert BookView(books[0], INST).has_both_sides is False
