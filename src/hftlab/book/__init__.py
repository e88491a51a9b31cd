"""The L2 order book: integer ticks and lots, compiled kernels over one plain array.

A book is an ``int64`` array made by :func:`book_new`; every ``book_*`` function is a numba
``@njit(cache=True)`` kernel, callable from Python and from other compiled code (no jitclass,
whose compilations are not cached). Sides are ``+1`` bids and ``-1`` asks
(:class:`hftlab.events.Side`).

Representation
--------------
Each side keeps its levels in a sorted array, best level at the end. Updates at or near the
touch touch O(1) slots; a deep update shifts only the levels between it and the touch; lookups
away from the touch use binary search. Memory is ``capacity`` levels a side whatever the price
range, so a 1000-level Binance BTCUSDT snapshot spanning ±10 % (≈1.2 M ticks at 0.01) costs the
same as an ETHBTC book at a 1e-6 tick. A side at capacity drops its worst level (counted by
:func:`book_dropped`): deep levels beyond the capacity do not matter to matching near the touch.

Example
-------
>>> bk = book_new(1024)
>>> book_apply(bk, 1, 6_200_000, 3)   # bid 62000.00 x 3 lots; returns the previous qty
0
>>> book_apply(bk, -1, 6_200_001, 5)
0
>>> book_best_bid(bk), book_best_ask(bk)
((6200000, 3), (6200001, 5))
"""

from __future__ import annotations

from typing import Final

import numpy as np

from hftlab.book._core import (
    EMPTY_ASK,
    EMPTY_BID,
    book_apply,
    book_apply_events,
    book_best,
    book_best_ask,
    book_best_bid,
    book_clear,
    book_depth,
    book_dropped,
    book_imbalance,
    book_is_crossed,
    book_levels,
    book_micro_price,
    book_mid,
    book_new,
    book_qty_at,
)

#: Default levels a side: Binance snapshots hold 1000 (spot 5000 at most), diffs add a few more.
DEFAULT_CAPACITY: Final = 8192

__all__ = [
    "DEFAULT_CAPACITY",
    "EMPTY_ASK",
    "EMPTY_BID",
    "OrderBook",
    "book_apply",
    "book_apply_events",
    "book_best",
    "book_best_ask",
    "book_best_bid",
    "book_clear",
    "book_depth",
    "book_dropped",
    "book_imbalance",
    "book_is_crossed",
    "book_levels",
    "book_micro_price",
    "book_mid",
    "book_new",
    "book_qty_at",
]


class OrderBook:
    """A convenience wrapper for Python callers; ``.array`` is the book for compiled code.

    Parameters
    ----------
    capacity
        Levels held per side.
    array
        Wrap an existing book array instead of creating one (no copy).
    """

    __slots__ = ("array",)

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, array: np.ndarray | None = None):
        self.array = book_new(capacity) if array is None else array

    def apply(self, side: int, price: int, qty: int) -> int:
        """Set a level to an absolute quantity (0 removes); return the previous quantity."""
        return int(book_apply(self.array, side, price, qty))

    def clear(self, side: int = 0) -> None:
        """Clear bids (+1), asks (-1) or both (0)."""
        book_clear(self.array, side)

    @property
    def best_bid(self) -> tuple[int, int]:
        """``(price, qty)``; ``(EMPTY_BID, 0)`` if empty."""
        p, q = book_best_bid(self.array)
        return int(p), int(q)

    @property
    def best_ask(self) -> tuple[int, int]:
        """``(price, qty)``; ``(EMPTY_ASK, 0)`` if empty."""
        p, q = book_best_ask(self.array)
        return int(p), int(q)

    def qty_at(self, side: int, price: int) -> int:
        return int(book_qty_at(self.array, side, price))

    def levels(self, side: int) -> int:
        return int(book_levels(self.array, side))

    def depth(self, side: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Best ``n`` levels of ``side`` as (prices, qtys), best first."""
        prices = np.empty(n, dtype=np.int64)
        qtys = np.empty(n, dtype=np.int64)
        m = book_depth(self.array, side, prices, qtys)
        return prices[:m], qtys[:m]

    @property
    def crossed(self) -> bool:
        return bool(book_is_crossed(self.array))

    @property
    def mid(self) -> float:
        return float(book_mid(self.array))

    @property
    def micro_price(self) -> float:
        return float(book_micro_price(self.array))

    def to_dict(self, side: int) -> dict[int, int]:
        """All levels of a side as ``{price: qty}`` (for tests and debugging)."""
        prices, qtys = self.depth(side, self.levels(side))
        return dict(zip(prices.tolist(), qtys.tolist(), strict=True))
