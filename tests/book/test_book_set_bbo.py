"""book_set_bbo: a BBO row replaces the whole book by one bid and one ask level."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from hftlab.book._core import (
    EMPTY_ASK,
    EMPTY_BID,
    book_apply,
    book_best_ask,
    book_best_bid,
    book_levels,
    book_new,
    book_set_bbo,
)


@njit(cache=False)
def _set_in_compiled_code(bk, bp, bq, ap, aq):  # type: ignore[no-untyped-def]
    book_set_bbo(bk, bp, bq, ap, aq)  # inlined into a caller, as in the sim core


@settings(deadline=None)  # the first example compiles
@given(
    levels=st.lists(
        st.tuples(st.sampled_from([1, -1]), st.integers(1, 500), st.integers(1, 9)), max_size=30
    ),
    bp=st.integers(1, 500),
    bq=st.integers(0, 9),
    ap=st.integers(1, 500),
    aq=st.integers(0, 9),
    compiled=st.booleans(),
)
def test_book_is_exactly_the_quote(
    levels: list[tuple[int, int, int]], bp: int, bq: int, ap: int, aq: int, compiled: bool
) -> None:
    bk = book_new(16)
    for side, price, qty in levels:  # whatever the book held before
        book_apply(bk, side, price, qty)
    (_set_in_compiled_code if compiled else book_set_bbo)(bk, bp, bq, ap, aq)
    assert book_levels(bk, 1) == (1 if bq > 0 else 0)
    assert book_levels(bk, -1) == (1 if aq > 0 else 0)
    assert book_best_bid(bk) == ((bp, bq) if bq > 0 else (EMPTY_BID, 0))
    assert book_best_ask(bk) == ((ap, aq) if aq > 0 else (EMPTY_ASK, 0))
