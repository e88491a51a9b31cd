"""Compiled L2 book kernels over one plain ``int64`` array (see :mod:`hftlab.book`).

Layout of a book ``bk`` (``shape == (2, S)``): row 0 the bids, row 1 the asks, each side a
vector of ``S = book_side_size(window, capacity)`` int64 words:

* ``[0, HDR)``: the header (``H_*`` offsets below): levels held, the best level's key and
  quantity, the window's base key and width, and the counters;
* a bitmap of the window's occupied ticks (``window / 64`` words);
* the window: the quantity (lots) at each of ``window`` consecutive ticks, a ring indexed by
  ``key & (window - 1)``;
* the overflow: an open-addressing hash table (linear probing, ``slots`` keys then ``slots``
  quantities; quantity 0 marks a free slot) holding the levels below the window.

Keys: the price in ticks for bids, minus the price for asks, so "better" is "greater" on both
sides and one code path serves both.

Invariant of a non-empty side: the window covers the keys ``[base, base + window)``, the best
level is in it, and every overflow level is below ``base`` (worse than every window level).
So an update inside the window is a few array writes; one below it is a hash-table operation
(both O(1) whatever the distance from the touch); one above it (a new best beyond the window)
moves the window up first. Removing the best level finds the next one with the bitmap (64 ticks
per word). The window is re-placed with the best at 7/8 of it when a better level lands above
it, or when the best falls below its middle (hysteresis: the touch must move window/8 up or
3/8 down), and when a side is rebuilt from empty; those moves carry levels between window and
overflow and are rare (amortised O(1)).

An insertion into a full overflow (``capacity`` levels below the window, a side) is refused and
counted in ``H_DROP`` (:func:`book_dropped`), which the simulator reports; it never happens
silently, and with the defaults not on any real capture tried.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

#: Best bid reported for an empty bid side and best ask for an empty ask side, chosen so that
#: ``bid >= ask`` (crossed) is never true when a side is empty.
EMPTY_BID = np.iinfo(np.int64).min
EMPTY_ASK = np.iinfo(np.int64).max

#: Ticks a side's window spans by default (a power of two): 6,554 USD of BTCUSDT at tick 0.1,
#: 655 USD at tick 0.01; on the real Binance captures 90-99 % of the updates land in it.
DEFAULT_WINDOW = 1 << 16
#: Levels a side can hold below its window by default (Binance snapshots hold 1000 levels a
#: side, spot up to 5000; the diffs add more, 5,400 a side at most on the captures tried).
DEFAULT_CAPACITY = 8192

# Header words of a side. The first six are read or written by every update (one cache line).
H_N = 0  # levels held (window + overflow)
H_KEY = 1  # key of the best level (_EMPTY_KEY of the side when empty)
H_QTY = 2  # quantity of the best level (0 when empty)
H_BASE = 3  # lowest key of the window (_NO_BASE when the side is empty)
H_WIN = 4  # window width in ticks (a power of two >= 64)
H_WN = 5  # levels in the window
H_WOFF = 6  # offset of the window's quantities (the bitmap starts at HDR)
H_ON = 7  # levels in the overflow
H_KOFF = 8  # offset of the overflow's keys (quantities follow, H_SLOTS further)
H_SLOTS = 9  # overflow hash slots (a power of two >= 2 * H_OCAP)
H_SHIFT = 10  # 64 - log2(slots): the hash keeps the product's top bits
H_OCAP = 11  # levels the overflow may hold
H_DROP = 12  # insertions refused because the overflow was full
H_MOVES = 13  # window moves (statistics)
H_FAR = 14  # updates that went to the overflow (statistics)
HDR = 16

# A side's empty best key: the bid's is EMPTY_BID and the ask's minus EMPTY_ASK, so the header
# reads as the empty prices without a branch (best ask = -key).
_EMPTY_KEY_BID = EMPTY_BID
_EMPTY_KEY_ASK = -EMPTY_ASK
# Base of an empty side's window: far above every key, so any update takes the slow path (which
# places the window around the first level) without a test in the fast path.
_NO_BASE = 1 << 62
_HASH_MUL = -7046029254386353131  # 0x9E3779B97F4A7C15 (Fibonacci hashing) as int64


def book_side_size(window: int = DEFAULT_WINDOW, capacity: int = DEFAULT_CAPACITY) -> int:
    """int64 words of one side of a book with this window (ticks) and overflow capacity."""
    _check_dims(window, capacity)
    return HDR + (window >> 6) + window + 2 * _slots(capacity)


def _check_dims(window: int, capacity: int) -> None:
    if window < 64 or window & (window - 1):
        raise ValueError(f"book window must be a power of two >= 64 ticks, got {window}")
    if capacity < 1:
        raise ValueError(f"book capacity must be >= 1 level, got {capacity}")


@njit(cache=True)
def _slots(capacity: int) -> int:
    """Hash slots for ``capacity`` levels: load at most 1/2 keeps probes short."""
    s = 2
    while s < 2 * capacity:
        s <<= 1
    return s


@njit(cache=True)
def book_init(bk: np.ndarray, window: int, capacity: int) -> None:
    """Make ``bk`` (shape ``(2, S)``, any content) an empty book of this window and capacity.

    ``S`` must be :func:`book_side_size` ``(window, capacity)``. For books allocated inside a
    larger buffer (the simulator's); :func:`book_new` allocates and initialises one.
    """
    if window < 64 or window & (window - 1) or capacity < 1:
        raise ValueError("book window must be a power of two >= 64 and capacity >= 1")
    slots = _slots(capacity)
    size = HDR + (window >> 6) + window + 2 * slots
    if bk.shape[1] != size:
        raise ValueError("book array size does not match its window and capacity")
    lg = 0
    while (1 << lg) < slots:
        lg += 1
    for s in range(2):
        bk[s, :] = 0
        bk[s, H_KEY] = _EMPTY_KEY_BID if s == 0 else _EMPTY_KEY_ASK
        bk[s, H_BASE] = _NO_BASE
        bk[s, H_WIN] = window
        bk[s, H_WOFF] = HDR + (window >> 6)
        bk[s, H_KOFF] = HDR + (window >> 6) + window
        bk[s, H_SLOTS] = slots
        bk[s, H_SHIFT] = 64 - lg
        bk[s, H_OCAP] = capacity


@njit(cache=True)
def book_new(capacity: int = DEFAULT_CAPACITY, window: int = DEFAULT_WINDOW) -> np.ndarray:
    """An empty book: a ``window``-tick window a side plus room for ``capacity`` levels a side
    below it."""
    slots = _slots(capacity)
    bk = np.empty((2, HDR + (window >> 6) + window + 2 * slots), dtype=np.int64)
    book_init(bk, window, capacity)
    return bk


# ===================================================================== window
@njit(cache=True, inline="always")
def _win_set(books: np.ndarray, b: int, s: int, key: int, qty: int) -> int:
    """Set window level ``key`` to ``qty`` (> 0); return the previous quantity."""
    w = books[b, s, H_WIN]
    j = key & (w - 1)
    i = books[b, s, H_WOFF] + j
    old = books[b, s, i]
    books[b, s, i] = qty
    if old == 0:
        books[b, s, HDR + (j >> 6)] |= 1 << (j & 63)
        books[b, s, H_WN] += 1
        books[b, s, H_N] += 1
    if key >= books[b, s, H_KEY]:
        books[b, s, H_KEY] = key
        books[b, s, H_QTY] = qty
    return old


@njit(cache=True)
def _next_below(books: np.ndarray, b: int, s: int, key: int) -> int:
    """The greatest window key below ``key``; the caller knows there is one.

    Scans the bitmap a word (64 ticks) at a time. Bits of the ring below ``base`` in the word
    holding it stand for keys at the top of the window, above the best, so they are clear.
    """
    w = books[b, s, H_WIN]
    mask = w - 1
    k = key - 1
    j = k & mask
    bit = j & 63
    m = books[b, s, HDR + (j >> 6)] & ((2 << bit) - 1)  # bits 0..bit (2 << 63 == 0: all)
    guard = (w >> 6) + 1
    while m == 0 and guard > 0:
        k -= bit + 1  # the last key of the word below
        j = k & mask
        bit = 63
        m = books[b, s, HDR + (j >> 6)]
        guard -= 1
    return k - (bit - (63 - leading_zeros(m)))


@njit(cache=True)
def _evict_below(books: np.ndarray, b: int, s: int, hi: int) -> None:
    """Move every window level with key ``< hi`` to the overflow (the window moves up)."""
    w = books[b, s, H_WIN]
    mask = w - 1
    woff = books[b, s, H_WOFF]
    k = books[b, s, H_BASE]
    hi = min(hi, k + w)
    while k < hi and books[b, s, H_WN] > 0:
        j = k & mask
        bit = j & 63
        nb = min(64 - bit, hi - k)  # keys of this word in [k, hi)
        word = HDR + (j >> 6)
        m = books[b, s, word] >> bit
        if nb < 64:
            m &= (1 << nb) - 1  # also drops the arithmetic shift's sign bits
        while m != 0:
            t = trailing_zeros(m)
            jj = j + t
            q = books[b, s, woff + jj]
            books[b, s, woff + jj] = 0
            books[b, s, word] &= ~(1 << (bit + t))
            books[b, s, H_WN] -= 1
            books[b, s, H_N] -= 1
            _over_set(books, b, s, k + t, q)
            m &= m - 1
        k += nb


@njit(cache=True)
def _place(books: np.ndarray, b: int, s: int, best: int) -> None:
    """Move the window so that key ``best`` sits at 7/8 of it: levels leaving the bottom go to
    the overflow, overflow levels it now covers come in. ``best`` is the best key of the side
    after the move (held or about to be inserted)."""
    w = books[b, s, H_WIN]
    new = best - w + (w >> 3)
    old = books[b, s, H_BASE]
    if new == old:
        return
    books[b, s, H_MOVES] += 1
    if new > old:
        _evict_below(books, b, s, new)
        books[b, s, H_BASE] = new
        return
    # Down: every window level stays (all are <= best < new + w); pull in the overflow's
    # levels at or above the new base.
    books[b, s, H_BASE] = new
    n = books[b, s, H_ON]
    if n == 0:
        return
    keys, qtys = _over_take(books, b, s, new)
    for i in range(keys.shape[0]):
        _win_set(books, b, s, keys[i], qtys[i])


@njit(cache=True)
def _rescan(books: np.ndarray, b: int, s: int, key: int) -> None:
    """The best level ``key`` was removed: find the next best, re-placing the window if the
    touch fell below its middle."""
    if books[b, s, H_WN] > 0:
        k = _next_below(books, b, s, key)
        books[b, s, H_KEY] = k
        books[b, s, H_QTY] = books[b, s, books[b, s, H_WOFF] + (k & (books[b, s, H_WIN] - 1))]
        if k - books[b, s, H_BASE] < books[b, s, H_WIN] >> 1:
            _place(books, b, s, k)
        return
    if books[b, s, H_ON] > 0:
        # The window is empty: the best is the overflow's greatest key.
        k = _over_max(books, b, s)
        books[b, s, H_KEY] = _EMPTY_KEY_BID  # below every key: the pull-in sets the best
        _place(books, b, s, k)
        return
    books[b, s, H_KEY] = _EMPTY_KEY_BID if s == 0 else _EMPTY_KEY_ASK
    books[b, s, H_QTY] = 0
    books[b, s, H_BASE] = _NO_BASE


# ===================================================================== overflow (hash table)
@njit(cache=True, inline="always")
def _home(books: np.ndarray, b: int, s: int, key: int) -> int:
    # int64 products wrap; the arithmetic shift's sign bits fall outside the mask.
    return ((key * _HASH_MUL) >> books[b, s, H_SHIFT]) & (books[b, s, H_SLOTS] - 1)


@njit(cache=True)
def _over_find(books: np.ndarray, b: int, s: int, key: int) -> int:
    """Slot holding ``key``, or the free slot where it would go (load <= 1/2: one exists)."""
    ko = books[b, s, H_KOFF]
    slots = books[b, s, H_SLOTS]
    qo = ko + slots
    i = _home(books, b, s, key)
    while books[b, s, qo + i] != 0:
        if books[b, s, ko + i] == key:
            return i
        i = (i + 1) & (slots - 1)
    return i


@njit(cache=True)
def _over_delete(books: np.ndarray, b: int, s: int, i: int) -> None:
    """Free slot ``i``, moving later entries of its probe run back (no tombstones)."""
    ko = books[b, s, H_KOFF]
    slots = books[b, s, H_SLOTS]
    qo = ko + slots
    mask = slots - 1
    j = i
    while True:
        j = (j + 1) & mask
        if books[b, s, qo + j] == 0:
            break
        h = _home(books, b, s, books[b, s, ko + j])
        # The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
        if (i <= j and (h <= i or h > j)) or (i > j and h <= i and h > j):
            books[b, s, ko + i] = books[b, s, ko + j]
            books[b, s, qo + i] = books[b, s, qo + j]
            i = j
    books[b, s, qo + i] = 0


@njit(cache=True)
def _over_set(books: np.ndarray, b: int, s: int, key: int, qty: int) -> int:
    """Set overflow level ``key`` to ``qty`` (<= 0 removes); return the previous quantity."""
    ko = books[b, s, H_KOFF]
    qo = ko + books[b, s, H_SLOTS]
    i = _over_find(books, b, s, key)
    old = books[b, s, qo + i]
    if old != 0:
        if qty > 0:
            books[b, s, qo + i] = qty
        else:
            _over_delete(books, b, s, i)
            books[b, s, H_ON] -= 1
            books[b, s, H_N] -= 1
        return old
    if qty <= 0:
        return 0
    if books[b, s, H_ON] >= books[b, s, H_OCAP]:
        books[b, s, H_DROP] += 1  # full: refused, counted, reported by the simulator
        return 0
    books[b, s, ko + i] = key
    books[b, s, qo + i] = qty
    books[b, s, H_ON] += 1
    books[b, s, H_N] += 1
    return 0


@njit(cache=True)
def _over_max(books: np.ndarray, b: int, s: int) -> int:
    ko = books[b, s, H_KOFF]
    slots = books[b, s, H_SLOTS]
    best = _EMPTY_KEY_BID
    for i in range(slots):
        if books[b, s, ko + slots + i] != 0 and books[b, s, ko + i] > best:
            best = books[b, s, ko + i]
    return best


@njit(cache=True)
def _over_items(books: np.ndarray, b: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """The overflow's levels, best first."""
    ko = books[b, s, H_KOFF]
    slots = books[b, s, H_SLOTS]
    n = books[b, s, H_ON]
    keys = np.empty(n, np.int64)
    qtys = np.empty(n, np.int64)
    k = 0
    for i in range(slots):
        if books[b, s, ko + slots + i] != 0:
            keys[k] = books[b, s, ko + i]
            qtys[k] = books[b, s, ko + slots + i]
            k += 1
    order = np.argsort(-keys[:k])
    return keys[order], qtys[order]


@njit(cache=True)
def _over_take(books: np.ndarray, b: int, s: int, lo: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove and return the overflow's levels with key ``>= lo``; rebuild the table of the
    rest (a window move down, rare)."""
    ko = books[b, s, H_KOFF]
    slots = books[b, s, H_SLOTS]
    qo = ko + slots
    n = books[b, s, H_ON]
    keys = np.empty(n, np.int64)
    qtys = np.empty(n, np.int64)
    k = 0
    for i in range(slots):
        if books[b, s, qo + i] != 0:
            keys[k] = books[b, s, ko + i]
            qtys[k] = books[b, s, qo + i]
            books[b, s, qo + i] = 0
            k += 1
    books[b, s, H_ON] = 0
    books[b, s, H_N] -= k
    up = 0
    for i in range(k):
        if keys[i] >= lo:
            keys[up], keys[i] = keys[i], keys[up]
            qtys[up], qtys[i] = qtys[i], qtys[up]
            up += 1
        else:
            _over_set(books, b, s, keys[i], qtys[i])
    return keys[:up], qtys[:up]


# ===================================================================== updates
@njit(cache=True)
def _apply_slow(books: np.ndarray, b: int, s: int, key: int, qty: int) -> int:
    """:func:`book_apply_at` outside the window: an empty side, a new best above the window, or
    a level below it (the overflow)."""
    if books[b, s, H_N] == 0:
        if qty <= 0:
            return 0
        w = books[b, s, H_WIN]
        books[b, s, H_BASE] = key - w + (w >> 3)
        _win_set(books, b, s, key, qty)
        return 0
    if key >= books[b, s, H_BASE] + books[b, s, H_WIN]:
        if qty <= 0:
            return 0  # above the window: above the best, no level there
        _place(books, b, s, key)
        _win_set(books, b, s, key, qty)
        return 0
    books[b, s, H_FAR] += 1
    return _over_set(books, b, s, key, qty)


@njit(cache=True, inline="always")
def book_apply_at(books: np.ndarray, b: int, side: int, price: int, qty: int) -> int:
    """:func:`book_apply` on book ``books[b]`` of a stack of books (shape ``(m, 2, S)``).

    Indexes the stack directly: taking the view ``books[b]`` costs two atomic reference-count
    updates in numba, more than the update itself in a loop over millions of rows. Inlined:
    the window case is a few loads and stores; the rest is a call.
    """
    s = 0 if side > 0 else 1
    key = price if side > 0 else -price
    w = books[b, s, H_WIN]
    rel = key - books[b, s, H_BASE]
    if rel >= 0 and rel < w:
        if qty > 0:
            return _win_set(books, b, s, key, qty)
        j = key & (w - 1)
        i = books[b, s, H_WOFF] + j
        old = books[b, s, i]
        if old != 0:
            books[b, s, i] = 0
            books[b, s, HDR + (j >> 6)] &= ~(1 << (j & 63))
            books[b, s, H_WN] -= 1
            books[b, s, H_N] -= 1
            if key == books[b, s, H_KEY]:
                _rescan(books, b, s, key)
        return old
    return _apply_slow(books, b, s, key, qty)


@njit(cache=True, inline="always")
def _stack(bk: np.ndarray) -> np.ndarray:
    """``bk`` as a stack of one book (for the ``*_at`` kernels)."""
    return bk.reshape((1, 2, bk.shape[1]))


@njit(cache=True, inline="always")
def book_apply(bk: np.ndarray, side: int, price: int, qty: int) -> int:
    """Set the level ``price`` of ``side`` to ``qty`` lots (0 removes); return the previous qty."""
    return book_apply_at(_stack(bk), 0, side, price, qty)


@njit(cache=True)
def _clear_side(bk: np.ndarray, s: int) -> None:
    if bk[s, H_N] == 0:
        return
    woff = bk[s, H_WOFF]
    last = (bk[s, H_WIN] >> 6) - 1
    # Walk the bitmap words from the best's down, zeroing the held levels: O(levels + words
    # between them), so a book of one quote a side (built from BBO rows, cleared at every row)
    # clears in O(1).
    wi = (bk[s, H_KEY] & (bk[s, H_WIN] - 1)) >> 6
    left = bk[s, H_WN]
    while left > 0:
        m = bk[s, HDR + wi]
        if m != 0:
            bk[s, HDR + wi] = 0
            while m != 0:
                bk[s, woff + (wi << 6) + trailing_zeros(m)] = 0
                m &= m - 1
                left -= 1
        wi = (wi - 1) & last
    bk[s, H_WN] = 0
    if bk[s, H_ON] > 0:
        qo = bk[s, H_KOFF] + bk[s, H_SLOTS]
        bk[s, qo : qo + bk[s, H_SLOTS]] = 0
        bk[s, H_ON] = 0
    bk[s, H_N] = 0
    bk[s, H_KEY] = _EMPTY_KEY_BID if s == 0 else _EMPTY_KEY_ASK
    bk[s, H_QTY] = 0
    bk[s, H_BASE] = _NO_BASE


@njit(cache=True)
def book_clear(bk: np.ndarray, side: int) -> None:
    """Remove every level of ``side`` (+1 bids, -1 asks, 0 both)."""
    if side >= 0:
        _clear_side(bk, 0)
    if side <= 0:
        _clear_side(bk, 1)


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


# ===================================================================== queries
@njit(cache=True)
def book_best_bid(bk: np.ndarray) -> tuple[int, int]:
    """``(price, qty)`` of the best bid; ``(EMPTY_BID, 0)`` when there are no bids."""
    return bk[0, H_KEY], bk[0, H_QTY]


@njit(cache=True)
def book_best_ask(bk: np.ndarray) -> tuple[int, int]:
    """``(price, qty)`` of the best ask; ``(EMPTY_ASK, 0)`` when there are no asks."""
    return -bk[1, H_KEY], bk[1, H_QTY]


@njit(cache=True)
def book_best(bk: np.ndarray, side: int) -> tuple[int, int]:
    """``(price, qty)`` of the best level of ``side`` (+1 bid, -1 ask)."""
    if side > 0:
        return book_best_bid(bk)
    return book_best_ask(bk)


@njit(cache=True)
def book_qty_at(bk: np.ndarray, side: int, price: int) -> int:
    """Lots at ``price`` on ``side`` (0 if no such level)."""
    s = 0 if side > 0 else 1
    key = price if side > 0 else -price
    w = bk[s, H_WIN]
    rel = key - bk[s, H_BASE]
    if rel >= 0 and rel < w:
        return bk[s, bk[s, H_WOFF] + (key & (w - 1))]
    if rel >= w or bk[s, H_ON] == 0:
        return 0
    i = _over_find(_stack(bk), 0, s, key)
    return bk[s, bk[s, H_KOFF] + bk[s, H_SLOTS] + i]


@njit(cache=True)
def book_levels(bk: np.ndarray, side: int) -> int:
    """Number of levels held on ``side``."""
    return bk[0 if side > 0 else 1, H_N]


@njit(cache=True)
def book_dropped(bk: np.ndarray, side: int) -> int:
    """Level insertions refused on ``side`` because its overflow (the levels below the window)
    was full. The simulator reports any in the backtest summary and the log."""
    return bk[0 if side > 0 else 1, H_DROP]


@njit(cache=True)
def book_stats(bk: np.ndarray, side: int) -> tuple[int, int, int, int, int]:
    """``(levels in the window, levels in the overflow, updates that went to the overflow,
    window moves, refused insertions)`` of ``side``: how well the window fits the data."""
    s = 0 if side > 0 else 1
    return bk[s, H_WN], bk[s, H_ON], bk[s, H_FAR], bk[s, H_MOVES], bk[s, H_DROP]


@njit(cache=True, inline="always")
def book_depth(bk: np.ndarray, side: int, out_prices: np.ndarray, out_qtys: np.ndarray) -> int:
    """Write the best ``len(out_prices)`` levels of ``side``, best first; return how many.

    The window's levels come from its bitmap, O(levels + 64-tick words between them); levels
    beyond it (below the window) are sorted out of the overflow, only when asked for.
    Inlined into compiled callers: as a call (three array arguments) it cost ~12 ns more than
    the walk itself for depth(10).
    """
    s = 0 if side > 0 else 1
    v = bk[s]  # one side's row: single-index reads (2x faster here than bk[s, i])
    m = min(v[H_N], out_prices.shape[0], out_qtys.shape[0])
    if m == 0:
        return 0
    sign = 1 if side > 0 else -1
    woff = v[H_WOFF]
    w = v[H_WIN]
    last = (w >> 6) - 1
    mw = min(m, v[H_WN])
    # Walk the bitmap from the best down, a word (64 ticks) at a time, highest bit first.
    k = v[H_KEY]
    j = k & (w - 1)
    wi = j >> 6
    wkey = k - (j & 63)  # key of bit 0 of word wi
    bits = v[HDR + wi] & ((2 << (j & 63)) - 1)  # the best and below (2 << 63 == 0: all)
    for c in range(mw):
        while bits == 0:
            wi = (wi - 1) & last
            wkey -= 64
            bits = v[HDR + wi]
        top = 63 - leading_zeros(bits)
        bits ^= 1 << top
        out_prices[c] = sign * (wkey + top)
        out_qtys[c] = v[woff + (wi << 6) + top]
    if m > mw:
        _depth_below(bk, s, mw, m, out_prices, out_qtys)
    return m


@njit(cache=True)
def _depth_below(
    bk: np.ndarray, s: int, c0: int, m: int, out_prices: np.ndarray, out_qtys: np.ndarray
) -> None:
    """Levels ``c0..m-1`` of :func:`book_depth`: the overflow's, sorted. A function of its own:
    its temporary arrays in book_depth's body would slow the window walk down 2x."""
    keys, qtys = _over_items(_stack(bk), 0, s)
    sign = 1 if s == 0 else -1
    for c in range(m - c0):
        out_prices[c0 + c] = sign * keys[c]
        out_qtys[c0 + c] = qtys[c]


@njit(cache=True)
def book_is_crossed(bk: np.ndarray) -> bool:
    """True if both sides are non-empty and best bid >= best ask."""
    if bk[0, H_N] == 0 or bk[1, H_N] == 0:
        return False
    return bk[0, H_KEY] >= -bk[1, H_KEY]


@njit(cache=True)
def book_mid(bk: np.ndarray) -> float:
    """Mid price in ticks (float); NaN if a side is empty."""
    if bk[0, H_N] == 0 or bk[1, H_N] == 0:
        return np.nan
    return 0.5 * (bk[0, H_KEY] - bk[1, H_KEY])


@njit(cache=True)
def book_micro_price(bk: np.ndarray) -> float:
    """Size-weighted micro-price in ticks: ``(bid*ask_qty + ask*bid_qty) / (bid_qty + ask_qty)``.

    NaN if a side is empty. The weighting leans towards the side with less size (the side more
    likely to be consumed next).
    """
    if bk[0, H_N] == 0 or bk[1, H_N] == 0:
        return np.nan
    bid = float(bk[0, H_KEY])
    ask = float(-bk[1, H_KEY])
    bq = float(bk[0, H_QTY])
    aq = float(bk[1, H_QTY])
    if bq + aq <= 0.0:
        return 0.5 * (bid + ask)
    return (bid * aq + ask * bq) / (bq + aq)


@njit(cache=True)
def book_imbalance(bk: np.ndarray) -> float:
    """Top-of-book imbalance ``(bid_qty - ask_qty) / (bid_qty + ask_qty)``; NaN if empty."""
    if bk[0, H_N] == 0 or bk[1, H_N] == 0:
        return np.nan
    bq = float(bk[0, H_QTY])
    aq = float(bk[1, H_QTY])
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
