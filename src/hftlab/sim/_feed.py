"""Compiled helpers of :meth:`hftlab.sim.core.SimCore.feed`: check a chunk, give each row its
exchange time, and queue the rows for the exchange side in exchange-time order.

Two steps. :func:`sort_chunk` orders one chunk's rows by exchange time; it depends on nothing
but the chunk and releases the GIL, so the engine runs it for the next chunk on another core
while the simulation works through the current one. :func:`merge_chunk` then merges the sorted
chunk with the rows held back from earlier chunks. Both are O(n) on the nearly sorted times
feeds produce (exchange times are out of order only by the feed-latency jitter), writing into
reused buffers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftlab.sim._layout import INF


@njit(cache=True, nogil=True)
def sort_chunk(
    chunk: np.ndarray,
    window: int,
    n_inst: int,
    out_i: np.ndarray,
    out_t: np.ndarray,
    scr_t: np.ndarray,
    counts: np.ndarray,
) -> tuple[int, int, int]:
    """Check ``chunk`` and write its rows in exchange order: row ``out_i[j]`` at ``out_t[j]``.

    A row's exchange time is ``min(ts_exchange, ts_local)`` (negative feed latency from unsynced
    clocks is clamped) raised to ``ts_local - window``; equal times keep the chunk's order.
    ``out_*`` and ``scr_t`` hold at least ``len(chunk)`` and ``counts`` one more.

    Returns
    -------
    (code, row, flags)
        ``(0, -1, flags)`` if valid; ``(1, row, 0)`` if ``row`` goes back in ``ts_local`` from
        the row before it; ``(2, row, 0)`` if ``row`` has an instrument index outside
        ``[0, n_inst)``. The caller checks row 0 against the previous chunk. ``flags`` is the
        bitwise or of every row's flags (``FLAG_UNSYNCED`` in it: the chunk has a data gap).
    """
    n = chunk.shape[0]
    if n == 0:
        return 0, -1, 0
    # One pass over the chunk (it is read from memory once): check it, compute the times.
    tmin = INF
    tmax = -INF
    flags = 0
    prev = chunk[0].ts_local
    for k in range(n):
        r = chunk[k]
        tl = r.ts_local
        if tl < prev:
            return 1, k, 0
        prev = tl
        inst = r.instrument
        if inst < 0 or inst >= n_inst:
            return 2, k, 0
        flags |= r.flags
        tx = r.ts_exchange
        t = tx if tx < tl else tl
        lo = tl - window
        if t < lo:
            t = lo
        scr_t[k] = t
        tmin = min(tmin, t)
        tmax = max(tmax, t)
    # Stable bucket sort on the time (buckets a power of two wide, about one row each), then an
    # insertion pass: O(n) here, where insertion alone costs O(n * displacement) and feed
    # jitter displaces rows by ~10 places.
    span = tmax - tmin
    sh = 0
    while (span >> sh) >= n:
        sh += 1
    nb = (span >> sh) + 1
    cnt = counts[: nb + 1]
    cnt[:] = 0
    for k in range(n):
        cnt[((scr_t[k] - tmin) >> sh) + 1] += 1
    for b in range(nb):
        cnt[b + 1] += cnt[b]
    for k in range(n):  # in chunk order: stable
        b = (scr_t[k] - tmin) >> sh
        p = cnt[b]
        cnt[b] += 1
        out_t[p] = scr_t[k]
        out_i[p] = k
    moves = 0
    budget = 16 * n + 64
    for a in range(1, n):
        v = out_t[a]
        if out_t[a - 1] <= v:
            continue
        vi = out_i[a]
        b = a - 1
        while b >= 0 and out_t[b] > v:
            out_t[b + 1] = out_t[b]
            out_i[b + 1] = out_i[b]
            b -= 1
        out_t[b + 1] = v
        out_i[b + 1] = vi
        moves += a - 1 - b
        if moves > budget:
            # Far from sorted (bursts of equal-bucket rows in reverse): one stable sort.
            order = np.argsort(scr_t[:n], kind="mergesort")
            for j in range(n):
                out_i[j] = order[j]
                out_t[j] = scr_t[order[j]]
            break
    return 0, -1, flags


@njit(cache=True)
def merge_chunk(
    xi: np.ndarray,
    xt: np.ndarray,
    ix: int,
    pend_i: np.ndarray,
    pend_t: np.ndarray,
    k0: int,
    base: int,
    new_i: np.ndarray,
    new_t: np.ndarray,
    horizon: int,
    out_i: np.ndarray,
    out_t: np.ndarray,
) -> tuple[int, int]:
    """Build the exchange queue for the next stretch of data.

    ``out_*`` receive, in order: the rows the exchange cursor has not reached (``xi[ix:]``,
    sorted, all before the previous horizon), then the held rows ``pend_*`` merged by time
    with a chunk sorted by :func:`sort_chunk` (``new_*``, row ``j`` of the chunk at index
    ``base + j``), ties in arrival order (held rows arrived first). Indices are shifted down
    by ``k0`` (the rows dropped from the front of the buffer). Returns ``(cut, m)``:
    ``out_*[:cut]`` go to the exchange (times ``< horizon``), ``out_*[cut:m]`` are held.
    """
    c = 0
    for j in range(ix, xi.shape[0]):
        out_i[c] = xi[j] - k0
        out_t[c] = xt[j]
        c += 1
    # Every new time is >= the previous horizon > any carried exchange row: the carried part
    # stays first.
    m = c
    a = 0
    b = 0
    na = pend_i.shape[0]
    nb = new_i.shape[0]
    while a < na and b < nb:
        if pend_t[a] <= new_t[b]:
            out_i[m] = pend_i[a] - k0
            out_t[m] = pend_t[a]
            a += 1
        else:
            out_i[m] = base + new_i[b]
            out_t[m] = new_t[b]
            b += 1
        m += 1
    while a < na:
        out_i[m] = pend_i[a] - k0
        out_t[m] = pend_t[a]
        a += 1
        m += 1
    while b < nb:
        out_i[m] = base + new_i[b]
        out_t[m] = new_t[b]
        b += 1
        m += 1
    cut = c + np.searchsorted(out_t[c:m], horizon, side="left")
    return cut, m
