"""Compiled helpers of :meth:`hftlab.sim.core.SimCore.feed`: check a chunk, give each row its
exchange time, and queue the rows for the exchange side in exchange-time order.

One pass, O(n) on the nearly sorted data feeds produce (exchange times are out of order only
by the feed-latency jitter), writing straight into reused buffers, so feeding costs a few ns
per event.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftlab.sim._layout import INF


@njit(cache=True)
def merge_chunk(
    chunk: np.ndarray,
    last_local: int,
    window: int,
    n_inst: int,
    xi: np.ndarray,
    xt: np.ndarray,
    ix: int,
    pend_i: np.ndarray,
    pend_t: np.ndarray,
    k0: int,
    base: int,
    horizon: int,
    out_i: np.ndarray,
    out_t: np.ndarray,
    scr_i: np.ndarray,
    scr_t: np.ndarray,
    counts: np.ndarray,
) -> tuple[int, int, int]:
    """Check ``chunk`` and build the exchange queue for the next stretch of data.

    Each row's exchange time is ``min(ts_exchange, ts_local)`` (negative feed latency from
    unsynced clocks is clamped) raised to ``ts_local - window``. ``out_i/out_t`` receive, in
    order: the rows the exchange cursor has not reached (``xi[ix:]``, already sorted, all
    before the previous horizon), then the held rows ``pend_*`` merged with the chunk's rows
    (indices ``base + k``) by time, ties in arrival order. Indices are shifted down by ``k0``
    (the rows dropped from the front of the buffer).

    Returns
    -------
    (code, a, b)
        ``code == 0``: ``out_*[:a]`` go to the exchange (times ``< horizon``) and
        ``out_*[a:b]`` are held for the next chunk. ``code == 1``: row ``a`` goes back in
        ``ts_local`` (row 0: before ``last_local``); ``code == 2``: row ``a`` has an
        instrument index outside ``[0, n_inst)``; the outputs are then untouched.

    ``scr_i``, ``scr_t`` (at least ``len(pend_i) + len(chunk)`` long) and ``counts`` (one
    more) are scratch space.
    """
    n = chunk.shape[0]
    np_ = pend_i.shape[0]
    total = np_ + n
    # One pass over the chunk (it is read from memory once): check it and write each row's
    # time to the scratch; the outputs are written only once the chunk proved valid.
    tmin = INF
    tmax = -INF
    prev = last_local
    for k in range(n):
        r = chunk[k]
        tl = r.ts_local
        if tl < prev:
            return 1, k, 0
        prev = tl
        inst = r.instrument
        if inst < 0 or inst >= n_inst:
            return 2, k, 0
        tx = r.ts_exchange
        t = tx if tx < tl else tl
        lo = tl - window
        if t < lo:
            t = lo
        scr_i[np_ + k] = base + k
        scr_t[np_ + k] = t
        tmin = min(tmin, t)
        tmax = max(tmax, t)
    c = 0
    for j in range(ix, xi.shape[0]):
        out_i[c] = xi[j] - k0
        out_t[c] = xt[j]
        c += 1
    # The rest is the held rows (sorted, arrived first) then the chunk's rows. Every new time
    # is >= the previous horizon > any carried exchange row, so the carried part never moves.
    # Stable bucket sort on the time (buckets a power of two wide, about one row each), then an
    # insertion pass: O(n) on the nearly sorted times feeds produce (insertion alone costs
    # O(n * displacement), and feed jitter displaces rows by ~10 places).
    if total == 0:
        return 0, c, c
    for j in range(np_):
        t = pend_t[j]
        scr_i[j] = pend_i[j] - k0
        scr_t[j] = t
        tmin = min(tmin, t)
        tmax = max(tmax, t)
    span = tmax - tmin
    sh = 0
    while (span >> sh) >= total:
        sh += 1
    nb = (span >> sh) + 1
    cnt = counts[: nb + 1]
    cnt[:] = 0
    for j in range(total):
        cnt[((scr_t[j] - tmin) >> sh) + 1] += 1
    for b in range(nb):
        cnt[b + 1] += cnt[b]
    for j in range(total):  # in arrival order: stable
        b = (scr_t[j] - tmin) >> sh
        p = c + cnt[b]
        cnt[b] += 1
        out_t[p] = scr_t[j]
        out_i[p] = scr_i[j]
    m = c + total
    moves = 0
    budget = 16 * total + 64
    for a in range(c + 1, m):
        v = out_t[a]
        if out_t[a - 1] <= v:
            continue
        vi = out_i[a]
        b = a - 1
        while b >= c and out_t[b] > v:
            out_t[b + 1] = out_t[b]
            out_i[b + 1] = out_i[b]
            b -= 1
        out_t[b + 1] = v
        out_i[b + 1] = vi
        moves += a - 1 - b
        if moves > budget:
            # Far from sorted (bursts of equal-bucket rows in reverse): one stable sort. Equal
            # times keep arrival order, which is the index order.
            order = np.argsort(scr_t[:total], kind="mergesort")
            for j in range(total):
                out_t[c + j] = scr_t[order[j]]
                out_i[c + j] = scr_i[order[j]]
            break
    cut = c + np.searchsorted(out_t[c:m], horizon, side="left")
    return 0, cut, m
