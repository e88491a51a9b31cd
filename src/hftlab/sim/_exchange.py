"""Compiled exchange side: market rows applied to the exchange books at exchange time.

:func:`_exchange_rows` is the loop's inner loop over exchange rows: each row is classified
against the price ranges of our open orders (:func:`_row_effect`), and a row that can only
change the book, or only our queue positions, is applied inline; any other row goes through
:func:`_exchange_event`, which lets our resting orders react (queue updates, fills from trades
at or through our price, fills from a book that reaches our price, the L1 model). See
``docs/sim-core.md``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftlab.book._core import (
    book_apply,
    book_apply_at,
    book_best_ask,
    book_best_bid,
    book_clear,
    book_qty_at,
    book_set_bbo,
)
from hftlab.events import EventKind
from hftlab.sim._layout import (
    AI_AHI,
    AI_ALO,
    AI_BHI,
    AI_BLO,
    AI_OPEN,
    AI_XGAPS,
    AI_XSKIP,
    AI_XUNS,
    AI_XUNS_NS,
    AI_XUNS_T0,
    C_ERROR,
    C_FMASK,
    C_NSLOT,
    C_QMODEL,
    C_RS_TAIL,
    C_XUNS,
    CF_QPOW,
    F_STALE,
    F_UNSYNCED,
    IP_BOOKSRC,
    LIQ_MAKER,
    O_ACTIVE,
    O_FILLED,
    O_INST,
    O_PRICE,
    O_QTY,
    O_SIDE,
    Q_CUMTRADE,
    Q_FRONT,
    QM_L1,
)
from hftlab.sim._matching import _fill, _fill_rest
from hftlab.sim._queue import _l1_fills, _queue_at_level, queue_on_depth

# The row kinds as plain ints (numba freezes them as constants); `_row_effect` and the loops
# rely on DEPTH and SNAPSHOT being the two lowest (`kind <= _K_SNAPSHOT`).
_K_DEPTH = int(EventKind.DEPTH)
_K_SNAPSHOT = int(EventKind.SNAPSHOT)
_K_CLEAR = int(EventKind.CLEAR)
_K_TRADE = int(EventKind.TRADE)
_K_BBO = int(EventKind.BBO)


@njit(cache=True)
def _exchange_event(
    r: np.void,
    t: int,
    books: np.ndarray,
    ords: np.ndarray,
    oqf: np.ndarray,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    cfg: np.ndarray,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> None:
    """Apply market event row ``r`` at exchange time ``t`` and let our resting orders react."""
    inst = r.instrument
    kind = r.kind
    bk = books[inst]
    depth_book = ip[inst, IP_BOOKSRC] == 0.0
    has_orders = acci[inst, AI_OPEN] > 0
    if kind in (_K_DEPTH, _K_SNAPSHOT):
        if not depth_book:
            return
        old = book_apply(bk, r.side, r.price, r.qty)
        if not has_orders:
            return
        _queue_at_level(inst, r.side, r.price, old, r.qty, ords, oqf, cfg, ctl)
    elif kind == _K_CLEAR:
        if not depth_book:
            return
        book_clear(bk, r.side)
        if not has_orders:
            return
    elif kind == _K_BBO:
        if depth_book:
            return
        if not has_orders:
            book_set_bbo(bk, r.price, r.qty, r.price2, r.qty2)
            return
        # Each order's level size before the quote, to feed the queue model the change.
        before = np.zeros(ords.shape[0], dtype=np.int64)
        for s in range(ctl[C_NSLOT]):
            if ords[s, O_ACTIVE] == 1 and ords[s, O_INST] == inst:
                before[s] = book_qty_at(bk, ords[s, O_SIDE], ords[s, O_PRICE])
        book_set_bbo(bk, r.price, r.qty, r.price2, r.qty2)
        model = ctl[C_QMODEL]
        pw = cfg[CF_QPOW]
        for s in range(ctl[C_NSLOT]):
            if ords[s, O_ACTIVE] == 1 and ords[s, O_INST] == inst:
                new = book_qty_at(bk, ords[s, O_SIDE], ords[s, O_PRICE])
                if before[s] != new:
                    oqf[s, Q_FRONT] = queue_on_depth(
                        model, pw, oqf[s, Q_FRONT], oqf[s, Q_CUMTRADE], before[s], new
                    )
                    oqf[s, Q_CUMTRADE] = 0.0
    elif kind == _K_TRADE:
        if not has_orders:
            return
        agg = r.side
        for s in range(ctl[C_NSLOT]):
            if ords[s, O_ACTIVE] == 0 or ords[s, O_INST] != inst:
                continue
            oside = ords[s, O_SIDE]
            if agg == oside:
                continue  # a buyer lifting offers does not touch our bids
            op = ords[s, O_PRICE]
            through = (oside > 0 and r.price < op) or (oside < 0 and r.price > op)
            if through:
                # The aggressor swept our whole level to trade beyond it.
                _fill_rest(t, ords, s, acci, accf, ip, resps, respf, lat_r, rng, ctl)
            elif r.price == op:
                front = oqf[s, Q_FRONT]
                oqf[s, Q_FRONT] = max(0.0, front - r.qty)
                oqf[s, Q_CUMTRADE] += r.qty
                excess = int(r.qty - front) if r.qty > front else 0
                if excess > 0:
                    leaves = ords[s, O_QTY] - ords[s, O_FILLED]
                    if excess >= leaves:
                        _fill_rest(t, ords, s, acci, accf, ip, resps, respf, lat_r, rng, ctl)
                    else:
                        _fill(
                            t,
                            ords,
                            s,
                            excess,
                            op,
                            LIQ_MAKER,
                            acci,
                            accf,
                            ip,
                            resps,
                            respf,
                            lat_r,
                            rng,
                            ctl,
                        )
    if acci[inst, AI_OPEN] == 0 or acci[inst, AI_XUNS] != 0:
        return  # (no fill from a book out of sync: its levels are not the venue's)
    # The displayed book reached through one of our orders: it would have been hit.
    bid_p = book_best_bid(bk)[0]
    ask_p = book_best_ask(bk)[0]
    for s in range(ctl[C_NSLOT]):
        if ords[s, O_ACTIVE] == 0 or ords[s, O_INST] != inst:
            continue
        op = ords[s, O_PRICE]
        if (ords[s, O_SIDE] > 0 and ask_p <= op) or (ords[s, O_SIDE] < 0 and bid_p >= op):
            _fill_rest(t, ords, s, acci, accf, ip, resps, respf, lat_r, rng, ctl)
    if ctl[C_QMODEL] == QM_L1:
        _l1_fills(t, inst, bk, ords, acci, accf, ip, cfg, resps, respf, lat_r, rng, ctl)


# ===================================================================== book sync
@njit(cache=True)
def _exchange_sync(
    r: np.void, t: int, books: np.ndarray, acci: np.ndarray, ip: np.ndarray, ctl: np.ndarray
) -> bool:
    """Book sync at the exchange for depth-channel row ``r`` (depth, snapshot or clear) at
    exchange time ``t``; True if the row is not to be applied.

    A row flagged ``FLAG_UNSYNCED`` was received while the recorder's book was out of sync (a
    gap in the depth data, or before its first snapshot): it is never applied, and unless it is
    only stale (``FLAG_STALE``: already in the book) the book is out of sync from it on. The
    next depth-channel row not so flagged (the importer's ``FLAG_RESYNC`` snapshot) applies and
    puts the book back in sync. Called only for flagged rows and while some book is out of sync,
    so the rows of a clean feed never come here.
    """
    inst = r.instrument
    if ip[inst, IP_BOOKSRC] != 0.0:
        return False  # a book built from BBO rows: depth rows are not applied anyway
    if r.flags & F_UNSYNCED:
        acci[inst, AI_XSKIP] += 1
        if (r.flags & F_STALE) == 0 and acci[inst, AI_XUNS] == 0:
            acci[inst, AI_XUNS] = 1
            acci[inst, AI_XUNS_T0] = t
            ctl[C_XUNS] += 1
            # A book holding levels was in sync until now: a gap. An empty one is only waiting
            # for its first snapshot (a capture's first diffs arrive before it).
            bk = books[inst]
            if book_best_bid(bk)[1] > 0 or book_best_ask(bk)[1] > 0:
                acci[inst, AI_XGAPS] += 1
        return True
    if acci[inst, AI_XUNS] != 0:
        acci[inst, AI_XUNS] = 0
        acci[inst, AI_XUNS_NS] += t - acci[inst, AI_XUNS_T0]
        ctl[C_XUNS] -= 1
    return False


# ===================================================================== the exchange rows
_ROW_BOOK_ONLY = 0  # the row only changes the book
_ROW_QUEUE = 1  # a depth row at one of our prices: the book and our queue positions change
_ROW_FULL = 2  # anything else that may touch our orders (fills, crosses, BBO books, clears)
_ROW_SKIP = 3  # a depth row flagged unsynced: not applied (see _exchange_sync)


@njit(cache=True, inline="always")
def _row_effect(
    r: np.void, k: int, blo: int, bhi: int, alo: int, ahi: int, depth_book: bool
) -> int:
    # Scalars, not the account array: an array argument costs a reference-count pair (two
    # atomic calls) per row inside the big loop, where numba cannot prune them.
    """What market row ``r`` (kind ``k``) can do to our open orders on its instrument, whose
    bids span ``[blo, bhi]`` and asks ``[alo, ahi]``: one of the ``_ROW_*`` codes.

    A depth row matters at our prices (queue position) or when it adds liquidity at or through
    our opposite price (we would be hit); a trade matters if it reaches our prices.
    """
    if k <= _K_SNAPSHOT:
        if not depth_book:
            return _ROW_BOOK_ONLY
        p = r.price
        if r.side > 0:
            if r.qty > 0 and p >= alo:
                return _ROW_FULL
            return _ROW_QUEUE if blo <= p <= bhi else _ROW_BOOK_ONLY
        if r.qty > 0 and p <= bhi:
            return _ROW_FULL
        return _ROW_QUEUE if alo <= p <= ahi else _ROW_BOOK_ONLY
    if k == _K_TRADE:
        # A buyer lifts asks up to its price; a seller hits bids down to its price.
        if r.side > 0:
            return _ROW_BOOK_ONLY if alo > r.price else _ROW_FULL
        return _ROW_BOOK_ONLY if bhi < r.price else _ROW_FULL
    if k == _K_BBO and depth_book:  # BBO rows do not build a depth book
        return _ROW_BOOK_ONLY
    return _ROW_FULL


@njit(cache=True)
def _exchange_rows(
    ev0: np.ndarray,
    ev1: np.ndarray,
    xi: np.ndarray,
    xt: np.ndarray,
    ix: int,
    lim: int,
    lim2: int,
    l1: bool,
    books: np.ndarray,
    ords: np.ndarray,
    oqf: np.ndarray,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    cfg: np.ndarray,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> int:
    """Apply exchange rows from ``xi[ix]`` on until one at ``> lim`` or ``>= lim2``, or one
    that created a response; return the next ``ix``.

    A function of its own, not part of :func:`run`: in run's large body numba cannot prune the
    reference-count updates of the arrays the inlined book kernels use (two atomic calls a row,
    a third of the loop's time); here they happen once per call.
    """
    n0 = ev0.shape[0]
    nx = xi.shape[0]
    xuns = ctl[C_XUNS]  # books out of sync: while none is, only flagged rows need a look
    fmask = ctl[C_FMASK]  # F_UNSYNCED, or 0 when flagged rows are applied (book_gaps="apply")
    while True:
        r = ev1[xi[ix] - n0] if xi[ix] >= n0 else ev0[xi[ix]]
        inst = r.instrument
        k = r.kind
        effect = _ROW_BOOK_ONLY
        if k <= _K_CLEAR and ((r.flags & fmask) != 0 or xuns != 0):
            if _exchange_sync(r, xt[ix], books, acci, ip, ctl):
                effect = _ROW_SKIP
            xuns = ctl[C_XUNS]
        if effect != _ROW_SKIP and acci[inst, AI_OPEN] != 0:
            effect = (
                _ROW_FULL
                if l1
                else _row_effect(
                    r,
                    k,
                    acci[inst, AI_BLO],
                    acci[inst, AI_BHI],
                    acci[inst, AI_ALO],
                    acci[inst, AI_AHI],
                    ip[inst, IP_BOOKSRC] == 0.0,
                )
            )
        slow = False
        if effect == _ROW_QUEUE:
            # Our level changed size: only queue estimates move (no fill can follow).
            old = book_apply_at(books, inst, r.side, r.price, r.qty)
            _queue_at_level(inst, r.side, r.price, old, r.qty, ords, oqf, cfg, ctl)
        elif effect == _ROW_BOOK_ONLY:
            # Calls with many array arguments cost more than the book update itself.
            if ip[inst, IP_BOOKSRC] == 0.0:
                if k <= _K_SNAPSHOT:
                    book_apply_at(books, inst, r.side, r.price, r.qty)
                elif k == _K_CLEAR:
                    book_clear(books[inst], r.side)
            elif k == _K_BBO:
                bk = books[inst]
                book_set_bbo(bk, r.price, r.qty, r.price2, r.qty2)
        elif effect == _ROW_FULL:  # (a _ROW_SKIP row changes nothing)
            tail = ctl[C_RS_TAIL]
            _exchange_event(
                r, xt[ix], books, ords, oqf, acci, accf, ip, cfg, resps, respf,
                lat_r, rng, ctl,
            )  # fmt: skip
            # A response (a fill) changes what is due next: re-plan.
            slow = ctl[C_RS_TAIL] != tail or ctl[C_ERROR] != 0
        ix += 1
        if slow or ix >= nx:
            break
        tn = xt[ix]
        if tn > lim or tn >= lim2:
            break
    return ix
