"""Compiled helpers of :meth:`hftlab.sim.core.SimCore.feed`: check a chunk, give each row its
exchange time, and release rows to the exchange side in exchange-time order.

One pass each, O(n) on the nearly sorted data feeds produce (exchange times are out of order
only by the feed-latency jitter), so feeding costs a few ns per event.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def prepare_chunk(
    chunk: np.ndarray, last_local: int, window: int, n_inst: int, out_t: np.ndarray
) -> tuple[int, int]:
    """Check ``chunk`` and write each row's exchange time into ``out_t``.

    The exchange time is ``min(ts_exchange, ts_local)`` (negative feed latency from unsynced
    clocks is clamped) raised to ``ts_local - window``.

    Returns
    -------
    (code, row)
        ``(0, -1)`` if the chunk is valid; ``(1, row)`` if ``row`` goes back in ``ts_local``
        (row 0: before ``last_local``); ``(2, row)`` if ``row`` has an instrument index outside
        ``[0, n_inst)``.
    """
    prev = last_local
    for k in range(chunk.shape[0]):
        r = chunk[k]
        tl = r.ts_local
        if tl < prev:
            return 1, k
        prev = tl
        inst = r.instrument
        if inst < 0 or inst >= n_inst:
            return 2, k
        tx = r.ts_exchange
        t = tx if tx < tl else tl
        lo = tl - window
        out_t[k] = t if t > lo else lo
    return 0, -1


@njit(cache=True)
def _stable_order(t: np.ndarray) -> np.ndarray:
    """Stable argsort of ``t``: insertion sort while the data is nearly sorted, else merge sort.

    Sorts a copy of the keys alongside the indices (no indirect loads in the inner loop).
    """
    n = t.shape[0]
    idx = np.arange(n)
    key = t.copy()
    budget = 16 * n + 64  # element moves allowed before giving up on insertion sort
    moves = 0
    for a in range(1, n):
        v = key[a]
        if key[a - 1] <= v:
            continue
        b = a - 1
        while b >= 0 and key[b] > v:
            key[b + 1] = key[b]
            idx[b + 1] = idx[b]
            b -= 1
        moves += a - 1 - b
        key[b + 1] = v
        idx[b + 1] = a
        if moves > budget:
            return np.argsort(t, kind="mergesort")
    return idx


@njit(cache=True)
def release(
    pend_i: np.ndarray,
    pend_t: np.ndarray,
    new_t: np.ndarray,
    base: int,
    horizon: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge the rows held back (``pend_*``, sorted by time then index) with a new chunk.

    ``new_t`` are the new rows' exchange times; their indices are ``base + k``. Rows sort by
    time, ties in arrival order (held rows arrived first). Returns ``(out_i, out_t, keep_i,
    keep_t)``: the rows with time ``< horizon``, released to the exchange, and the rest, held.
    """
    order = _stable_order(new_t)
    np_ = pend_i.shape[0]
    nn = new_t.shape[0]
    m_i = np.empty(np_ + nn, dtype=np.int64)
    m_t = np.empty(np_ + nn, dtype=np.int64)
    a = 0
    b = 0
    k = 0
    while a < np_ or b < nn:
        if b >= nn or (a < np_ and pend_t[a] <= new_t[order[b]]):
            m_i[k] = pend_i[a]
            m_t[k] = pend_t[a]
            a += 1
        else:
            j = order[b]
            m_i[k] = base + j
            m_t[k] = new_t[j]
            b += 1
        k += 1
    cut = np.searchsorted(m_t, horizon, side="left")
    return m_i[:cut], m_t[:cut], m_i[cut:].copy(), m_t[cut:].copy()
