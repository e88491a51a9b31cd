"""Compiled L2 book kernels over one plain ``int64`` array (see :mod:`hftlab.book`).

Layout of a book ``bk`` (``shape == (2, 2, cap + 1)``):

* axis 0 is the side: 0 bids, 1 asks;
* axis 1 is the field: 0 key, 1 quantity (lots);
* slot 0 of the last axis is a header: ``bk[s, 0, 0]`` the level count ``n``,
  ``bk[s, 1, 0]`` the number of levels dropped because the side was full;
* levels sit in slots ``1..n`` sorted by ascending *key*, the best level last (slot ``n``).
  The key is the price in ticks for bids and minus the price for asks, so "better" is "greater"
  on both sides and one code path serves both.

Updates search from the best end (a few linear steps, then binary search) and shift only the
levels between the insertion point and the touch, so updates at or near the touch are O(1),
deep updates O(distance in levels), and memory is proportional to the levels held whatever the
price range (BTCUSDT at 0.01 or ETHBTC at 1e-6 are the same to it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Best bid reported for an empty bid side and best ask for an empty ask side, chosen so that
#: ``bid >= ask`` (crossed) is never true when a side is empty.
EMPTY_BID = np.iinfo(np.int64).min
EMPTY_ASK = np.iinfo(np.int64).max

_LINEAR_STEPS = 8  # levels scanned from the touch before falling back to binary search


@njit(cache=True)
def _sidx(side: int) -> int:
    return 0 if side > 0 else 1


@njit(cache=True)
def _key(side: int, price: int) -> int:
    return price if side > 0 else -price


@njit(cache=True, inline="always")
def _find_at(books: np.ndarray, b: int, s: int, key: int) -> int:
    """Slot of the first level with key >= ``key`` (``n + 1`` if none) in book ``books[b]``,
    searching from the best."""
    n = books[b, s, 0, 0]
    if n > _LINEAR_STEPS:
        # The common case, an update near the touch: count the top levels at or above the key
        # without branching (no mispredictions; the loop vectorises), else binary search.
        c = 0
        for j in range(_LINEAR_STEPS):
            c += books[b, s, 0, n - j] >= key
        if c < _LINEAR_STEPS:
            return n - c + 1
        lo, hi = 1, n - _LINEAR_STEPS + 1  # answer in [lo, hi]; keys[hi] >= key
        while lo < hi:
            mid = (lo + hi) >> 1
            if books[b, s, 0, mid] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo
    i = n
    while i >= 1:
        if books[b, s, 0, i] < key:
            return i + 1
        i -= 1
    return 1


@njit(cache=True)
def book_new(capacity: int) -> np.ndarray:
    """An empty book holding up to ``capacity`` levels a side."""
    return np.zeros((2, 2, capacity + 1), dtype=np.int64)


@njit(cache=True, inline="always")
def book_apply_at(books: np.ndarray, b: int, side: int, price: int, qty: int) -> int:
    """:func:`book_apply` on book ``books[b]`` of a stack of books (shape ``(m, 2, 2, cap+1)``).

    Indexes the stack directly: taking the view ``books[b]`` costs two atomic reference-count
    updates in numba, more than the update itself in a loop over millions of rows.
    """
    s = _sidx(side)
    key = _key(side, price)
    n = books[b, s, 0, 0]
    i = _find_at(books, b, s, key)
    if i <= n and books[b, s, 0, i] == key:
        old = books[b, s, 1, i]
        if qty > 0:
            books[b, s, 1, i] = qty
        else:  # remove: close the gap towards the worst end
            for j in range(i, n):
                books[b, s, 0, j] = books[b, s, 0, j + 1]
                books[b, s, 1, j] = books[b, s, 1, j + 1]
            books[b, s, 0, 0] = n - 1
        return old
    if qty <= 0:
        return 0  # deleting a level not held is normal (outside our depth or already gone)
    cap = books.shape[3] - 1
    if n == cap:
        # Full: drop the worst level to make room, unless the new level is itself the worst.
        books[b, s, 1, 0] += 1
        if i == 1:
            return 0
        for j in range(1, i - 1):
            books[b, s, 0, j] = books[b, s, 0, j + 1]
            books[b, s, 1, j] = books[b, s, 1, j + 1]
        books[b, s, 0, i - 1] = key
        books[b, s, 1, i - 1] = qty
        return 0
    for j in range(n, i - 1, -1):  # shift the better levels up by one
        books[b, s, 0, j + 1] = books[b, s, 0, j]
        books[b, s, 1, j + 1] = books[b, s, 1, j]
    books[b, s, 0, i] = key
    books[b, s, 1, i] = qty
    books[b, s, 0, 0] = n + 1
    return 0


@njit(cache=True, inline="always")
def _stack(bk: np.ndarray) -> np.ndarray:
    """``bk`` as a stack of one book (for the ``*_at`` kernels)."""
    return bk.reshape((1, 2, 2, bk.shape[2]))


@njit(cache=True, inline="always")
def book_apply(bk: np.ndarray, side: int, price: int, qty: int) -> int:
    """Set the level ``price`` of ``side`` to ``qty`` lots (0 removes); return the previous qty."""
    return book_apply_at(_stack(bk), 0, side, price, qty)


@njit(cache=True)
def book_clear(bk: np.ndarray, side: int) -> None:
    """Remove every level of ``side`` (+1 bids, -1 asks, 0 both)."""
    if side >= 0:
        bk[0, 0, 0] = 0
    if side <= 0:
        bk[1, 0, 0] = 0


@njit(cache=True, inline="always")
def book_set_bbo(
    bk: np.ndarray, bid_price: int, bid_qty: int, ask_price: int, ask_qty: int
) -> None:
    """Make the book one best bid and one best ask (a BBO row); a side with qty 0 stays empty.

    Inlined: the sim core calls it per BBO row of a book built from quotes.
    """
    book_clear(bk, 0)
    if bid_qty > 0:
        book_apply(bk, 1, bid_price, bid_qty)
    if ask_qty > 0:
        book_apply(bk, -1, ask_price, ask_qty)


@njit(cache=True)
def book_best_bid(bk: np.ndarray) -> tuple[int, int]:
    """``(price, qty)`` of the best bid; ``(EMPTY_BID, 0)`` when there are no bids."""
    n = bk[0, 0, 0]
    if n == 0:
        return EMPTY_BID, 0
    return bk[0, 0, n], bk[0, 1, n]


@njit(cache=True)
def book_best_ask(bk: np.ndarray) -> tuple[int, int]:
    """``(price, qty)`` of the best ask; ``(EMPTY_ASK, 0)`` when there are no asks."""
    n = bk[1, 0, 0]
    if n == 0:
        return EMPTY_ASK, 0
    return -bk[1, 0, n], bk[1, 1, n]


@njit(cache=True)
def book_best(bk: np.ndarray, side: int) -> tuple[int, int]:
    """``(price, qty)`` of the best level of ``side`` (+1 bid, -1 ask)."""
    if side > 0:
        return book_best_bid(bk)
    return book_best_ask(bk)


@njit(cache=True)
def book_qty_at(bk: np.ndarray, side: int, price: int) -> int:
    """Lots at ``price`` on ``side`` (0 if no such level)."""
    s = _sidx(side)
    key = _key(side, price)
    i = _find_at(_stack(bk), 0, s, key)
    if i <= bk[s, 0, 0] and bk[s, 0, i] == key:
        return bk[s, 1, i]
    return 0


@njit(cache=True)
def book_levels(bk: np.ndarray, side: int) -> int:
    """Number of levels held on ``side``."""
    return bk[_sidx(side), 0, 0]


@njit(cache=True)
def book_dropped(bk: np.ndarray, side: int) -> int:
    """Levels dropped on ``side`` because it was at capacity (worst levels go first)."""
    return bk[_sidx(side), 1, 0]


@njit(cache=True)
def book_depth(bk: np.ndarray, side: int, out_prices: np.ndarray, out_qtys: np.ndarray) -> int:
    """Write the best ``len(out_prices)`` levels of ``side``, best first; return how many."""
    s = _sidx(side)
    n = bk[s, 0, 0]
    m = min(n, out_prices.shape[0], out_qtys.shape[0])
    sign = 1 if side > 0 else -1
    for k in range(m):
        out_prices[k] = sign * bk[s, 0, n - k]
        out_qtys[k] = bk[s, 1, n - k]
    return m


@njit(cache=True)
def book_is_crossed(bk: np.ndarray) -> bool:
    """True if both sides are non-empty and best bid >= best ask."""
    if bk[0, 0, 0] == 0 or bk[1, 0, 0] == 0:
        return False
    return bk[0, 0, bk[0, 0, 0]] >= -bk[1, 0, bk[1, 0, 0]]


@njit(cache=True)
def book_mid(bk: np.ndarray) -> float:
    """Mid price in ticks (float); NaN if a side is empty."""
    nb = bk[0, 0, 0]
    na = bk[1, 0, 0]
    if nb == 0 or na == 0:
        return np.nan
    return 0.5 * (bk[0, 0, nb] - bk[1, 0, na])


@njit(cache=True)
def book_micro_price(bk: np.ndarray) -> float:
    """Size-weighted micro-price in ticks: ``(bid*ask_qty + ask*bid_qty) / (bid_qty + ask_qty)``.

    NaN if a side is empty. The weighting leans towards the side with less size (the side more
    likely to be consumed next).
    """
    nb = bk[0, 0, 0]
    na = bk[1, 0, 0]
    if nb == 0 or na == 0:
        return np.nan
    bid = float(bk[0, 0, nb])
    ask = float(-bk[1, 0, na])
    bq = float(bk[0, 1, nb])
    aq = float(bk[1, 1, na])
    if bq + aq <= 0.0:
        return 0.5 * (bid + ask)
    return (bid * aq + ask * bq) / (bq + aq)


@njit(cache=True)
def book_imbalance(bk: np.ndarray) -> float:
    """Top-of-book imbalance ``(bid_qty - ask_qty) / (bid_qty + ask_qty)``; NaN if empty."""
    nb = bk[0, 0, 0]
    na = bk[1, 0, 0]
    if nb == 0 or na == 0:
        return np.nan
    bq = float(bk[0, 1, nb])
    aq = float(bk[1, 1, na])
    return (bq - aq) / (bq + aq)


@njit(cache=True)
def book_apply_events(
    bk: np.ndarray, kinds: np.ndarray, sides: np.ndarray, prices: np.ndarray, qtys: np.ndarray
) -> int:
    """Apply DEPTH/SNAPSHOT/CLEAR rows in order (other kinds skipped); return rows applied.

    For validators replaying one instrument's depth stream without the simulator.
    """
    applied = 0
    for i in range(kinds.shape[0]):
        k = kinds[i]
        if k == 1 or k == 2:  # EventKind.DEPTH, EventKind.SNAPSHOT
            book_apply(bk, sides[i], prices[i], qtys[i])
            applied += 1
        elif k == 3:  # EventKind.CLEAR
            book_clear(bk, sides[i])
            applied += 1
    return applied
