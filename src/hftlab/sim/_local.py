"""Compiled local side: what the strategy sees, at local time, and the state samples.

:func:`_local_event` applies a market row to the strategy's own copy of the books and says
whether it wakes the strategy (a trade, a changed best bid/offer, a changed book, as
subscribed; never in the middle of a snapshot). :func:`_record` appends one state sample per
instrument (mid, position, cash, fees, equity, our best quotes) to the state log. See
``docs/sim-core.md``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftlab.book._core import (
    book_apply,
    book_best_ask,
    book_best_bid,
    book_clear,
    book_mid,
    book_set_bbo,
)
from hftlab.sim._exchange import _K_BBO, _K_CLEAR, _K_DEPTH, _K_SNAPSHOT, _K_TRADE
from hftlab.sim._layout import (
    AF_CASH,
    AF_FEES,
    AF_NOTIONAL,
    AI_LBA,
    AI_LBAQ,
    AI_LBB,
    AI_LBBQ,
    AI_LUNS,
    AI_OPEN,
    AI_POS,
    C_LUNS,
    C_NSLOT,
    C_R_NEXT,
    C_SL_N,
    C_SUB_BOOK,
    C_SUB_QUOTE,
    C_SUB_STATUS,
    C_SUB_TRADE,
    CT_INVERSE,
    F_STALE,
    F_UNSYNCED,
    INF,
    IP_BOOKSRC,
    IP_CSIZE,
    IP_CTYPE,
    IP_LDEN,
    IP_LNUM,
    IP_TDEN,
    IP_TNUM,
    O_ACTIVE,
    O_FILLED,
    O_INST,
    O_PRICE,
    O_QTY,
    O_SIDE,
    S_ASK,
    S_ASK_QTY,
    S_BID,
    S_BID_QTY,
    S_CASH,
    S_EQUITY,
    S_FEES,
    S_INST,
    S_MID,
    S_NOTIONAL,
    S_POS,
    W_BOOK,
    W_BOOK_STATUS,
    W_QUOTE,
    W_TRADE,
)


# ===================================================================== state samples
@njit(cache=True)
def _record(
    t: int,
    books: np.ndarray,
    ords: np.ndarray,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    slog_ts: np.ndarray,
    slog: np.ndarray,
    ctl: np.ndarray,
) -> None:
    n_inst = acci.shape[0]
    for inst in range(n_inst):
        k = ctl[C_SL_N]
        slog_ts[k] = t
        row = slog[k]
        tick = ip[inst, IP_TNUM] / ip[inst, IP_TDEN]
        lot = ip[inst, IP_LNUM] / ip[inst, IP_LDEN]
        mid = book_mid(books[inst]) * tick
        pos = acci[inst, AI_POS] * lot
        cash = accf[inst, AF_CASH]
        row[S_INST] = inst
        row[S_MID] = mid
        row[S_POS] = pos
        row[S_CASH] = cash
        row[S_FEES] = accf[inst, AF_FEES]
        row[S_NOTIONAL] = accf[inst, AF_NOTIONAL]
        if pos == 0.0:
            row[S_EQUITY] = cash
        elif ip[inst, IP_CTYPE] == CT_INVERSE:
            row[S_EQUITY] = cash - pos * ip[inst, IP_CSIZE] / mid
        else:
            row[S_EQUITY] = cash + pos * mid * ip[inst, IP_CSIZE]
        best_b = -INF
        best_a = INF
        bq = 0
        aq = 0
        if acci[inst, AI_OPEN] > 0:
            for s in range(ctl[C_NSLOT]):
                if ords[s, O_ACTIVE] == 0 or ords[s, O_INST] != inst:
                    continue
                p = ords[s, O_PRICE]
                lv = ords[s, O_QTY] - ords[s, O_FILLED]
                if ords[s, O_SIDE] > 0:
                    if p > best_b:
                        best_b = p
                        bq = lv
                    elif p == best_b:
                        bq += lv
                else:
                    if p < best_a:
                        best_a = p
                        aq = lv
                    elif p == best_a:
                        aq += lv
        row[S_BID] = best_b * tick if bq > 0 else np.nan
        row[S_ASK] = best_a * tick if aq > 0 else np.nan
        row[S_BID_QTY] = bq * lot
        row[S_ASK_QTY] = aq * lot
        ctl[C_SL_N] = k + 1


# ===================================================================== local side
@njit(cache=True)
def _local_event(
    i: int,
    ev0: np.ndarray,
    ev1: np.ndarray,
    lbooks: np.ndarray,
    acci: np.ndarray,
    ip: np.ndarray,
    ctl: np.ndarray,
) -> int:
    """Apply event ``i`` to the strategy's view; return the wake-up reason (0: none)."""
    n0 = ev0.shape[0]
    r = ev1[i - n0] if i >= n0 else ev0[i]
    inst = r.instrument
    kind = r.kind
    lb = lbooks[inst]
    depth_book = ip[inst, IP_BOOKSRC] == 0.0
    if kind == _K_TRADE:
        return W_TRADE if ctl[C_SUB_TRADE] != 0 else 0
    changed = False
    if kind in (_K_DEPTH, _K_SNAPSHOT):
        if depth_book:
            book_apply(lb, r.side, r.price, r.qty)
            changed = True
    elif kind == _K_CLEAR:
        if depth_book:
            book_clear(lb, r.side)
            changed = True
    elif kind == _K_BBO and not depth_book:
        book_set_bbo(lb, r.price, r.qty, r.price2, r.qty2)
        changed = True
    if not changed:
        return 0
    # Hold wake-ups while a snapshot is still being rebuilt (its next row is of the same book).
    if i + 1 < n0 + ev1.shape[0]:
        nr = ev1[i + 1 - n0] if i + 1 >= n0 else ev0[i + 1]
        if (kind in (_K_CLEAR, _K_SNAPSHOT)) and nr.kind == _K_SNAPSHOT and nr.instrument == inst:
            return 0
    if ctl[C_SUB_QUOTE] != 0:
        bp, bq = book_best_bid(lb)
        ap, aq = book_best_ask(lb)
        if (
            bp != acci[inst, AI_LBB]
            or bq != acci[inst, AI_LBBQ]
            or ap != acci[inst, AI_LBA]
            or aq != acci[inst, AI_LBAQ]
        ):
            acci[inst, AI_LBB] = bp
            acci[inst, AI_LBBQ] = bq
            acci[inst, AI_LBA] = ap
            acci[inst, AI_LBAQ] = aq
            return W_QUOTE
    if ctl[C_SUB_BOOK] != 0:
        return W_BOOK
    return 0


@njit(cache=True)
def _local_sync(
    i: int,
    ev0: np.ndarray,
    ev1: np.ndarray,
    lbooks: np.ndarray,
    acci: np.ndarray,
    ip: np.ndarray,
    ctl: np.ndarray,
) -> int:
    """Depth-channel row ``i`` (depth, snapshot or clear) on the strategy's side while it is
    flagged unsynced or a local book is out of sync: the row is applied (through
    :func:`_local_event`) unless flagged, and the book's sync state follows the flags as at the
    exchange (:func:`hftlab.sim._exchange._exchange_sync`). Returns the wake-up reason.

    A strategy subscribed to book status (``C_SUB_STATUS``) is woken (``W_BOOK_STATUS``) at the
    first row that puts its book out of sync, and once the snapshot that puts it back in sync
    is complete; a quote or book wake-up of that last row is handed on in ``C_R_NEXT``.
    """
    n0 = ev0.shape[0]
    r = ev1[i - n0] if i >= n0 else ev0[i]
    inst = r.instrument
    if ip[inst, IP_BOOKSRC] != 0.0:
        return _local_event(i, ev0, ev1, lbooks, acci, ip, ctl)  # BBO rows build this book
    state = acci[inst, AI_LUNS]
    if r.flags & F_UNSYNCED:
        if (r.flags & F_STALE) != 0 or state == 1:
            return 0  # not applied; nothing changes
        acci[inst, AI_LUNS] = 1
        if state == 2:
            return 0  # out of sync again before the strategy heard it was back: no news
        ctl[C_LUNS] += 1
        if ctl[C_SUB_STATUS] != 0:
            ctl[C_R_NEXT] = 0
            return W_BOOK_STATUS
        return 0
    if state == 1:
        # The first row to apply after a gap (the resync snapshot's clear): back in sync,
        # told once the snapshot is complete.
        state = 2
        acci[inst, AI_LUNS] = 2
    w = _local_event(i, ev0, ev1, lbooks, acci, ip, ctl)
    if state == 2:
        kind = r.kind
        if kind in (_K_CLEAR, _K_SNAPSHOT) and i + 1 < n0 + ev1.shape[0]:
            nr = ev1[i + 1 - n0] if i + 1 >= n0 else ev0[i + 1]
            if nr.kind == _K_SNAPSHOT and nr.instrument == inst:
                return w  # the snapshot goes on (w is 0: _local_event holds it too)
        acci[inst, AI_LUNS] = 0
        ctl[C_LUNS] -= 1
        if ctl[C_SUB_STATUS] != 0:
            ctl[C_R_NEXT] = w
            return W_BOOK_STATUS
    return w
