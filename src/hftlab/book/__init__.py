"""The L2 order book: integer ticks and lots, compiled kernels over one plain array.

A book is an ``int64`` array made by :func:`book_new`; every ``book_*`` function is a numba
``@njit(cache=True)`` kernel, callable from Python and from other compiled code (no jitclass,
whose compilations are not cached). Sides are ``+1`` bids and ``-1`` asks
(:class:`hftlab.events.Side`).

Representation
--------------
Each side keeps a *window* of ``window`` consecutive ticks (a quantity per tick, a ring, with a
bitmap of the occupied ticks) placed around its best level, and an *overflow* hash table for
the levels below the window. Updates are O(1) wherever they land: a few stores in the window,
a hash operation below it. The best level and its quantity sit in the side's header (reads are
one load); removing it finds the next level through the bitmap, 64 ticks a word. The window is
relative (its base moves with the touch: re-placed when a better level lands above it or the
best falls below its middle), so prices can be anywhere: BTCUSDT at 0.1, ETHBTC at 1e-6.
Nothing is dropped silently: an insertion into a full overflow (``capacity`` levels below the
window, a side) is refused and counted by :func:`book_dropped`, which the simulator reports.
Memory is ``8 * book_side_size(window, capacity)`` bytes a side (0.8 MiB with the defaults).

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

import numpy as np

from hftlab.book._core import (
    DEFAULT_CAPACITY,
    DEFAULT_WINDOW,
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
    book_init,
    book_is_crossed,
    book_levels,
    book_micro_price,
    book_mid,
    book_new,
    book_qty_at,
    book_side_size,
    book_stats,
)
from hftlab.book._core import H_KEY as BOOK_BEST_KEY
from hftlab.book._core import H_N as BOOK_LEVELS
from hftlab.book._core import H_QTY as BOOK_BEST_QTY

# BOOK_LEVELS, BOOK_BEST_KEY, BOOK_BEST_QTY: offsets in each side's row (``bk[s]``) of its
# level count, best key (price for bids, minus price for asks; the empty price when empty)
# and best quantity, for readers that bypass the kernels (``strategy.BookView``).

__all__ = [
    "BOOK_BEST_KEY",
    "BOOK_BEST_QTY",
    "BOOK_LEVELS",
    "DEFAULT_CAPACITY",
    "DEFAULT_WINDOW",
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
    "book_init",
    "book_is_crossed",
    "book_levels",
    "book_micro_price",
    "book_mid",
    "book_new",
    "book_qty_at",
    "book_side_size",
    "book_stats",
]


class OrderBook:
    """A convenience wrapper for Python callers; ``.array`` is the book for compiled code.

    Parameters
    ----------
    capacity
        Levels a side can hold below its window (the overflow).
    window
        Ticks a side's window spans (a power of two >= 64).
    array
        Wrap an existing book array instead of creating one (no copy).
    """

    __slots__ = ("array",)

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        window: int = DEFAULT_WINDOW,
        *,
        array: np.ndarray | None = None,
    ) -> None:
        if array is None:
            book_side_size(window, capacity)  # checks both (a readable error, not numba's)
            array = book_new(capacity, window)
        self.array = array

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

    def dropped(self, side: int) -> int:
        """Insertions refused on ``side`` because its overflow was full (see module doc)."""
        return int(book_dropped(self.array, side))

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
