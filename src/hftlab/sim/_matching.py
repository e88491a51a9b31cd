"""Compiled matching: our requests at the exchange, fills, fees and the response ring.

:func:`_process_request` handles a new order, cancel or modify when it arrives (checks, then
taking liquidity with :func:`_take` and resting the rest); :func:`_fill` books a fill's cash,
fee and position (:func:`fill_value` for linear and inverse contracts) and emits its response;
:func:`_fill_rest` fills an order's whole remaining size as maker. Responses go into the ring
with their delivery time from the response latency model (:func:`_emit_raw`). The order table
keeps its active slots below a high-water mark and, per instrument, the price ranges of our open
bids and asks (:func:`_bounds`), which the loop's fast paths read. See ``docs/sim-core.md``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftlab.book._core import book_apply, book_best_ask, book_best_bid, book_qty_at
from hftlab.sim._latency import latency_at
from hftlab.sim._layout import (
    AF_CASH,
    AF_FEES,
    AF_NOTIONAL,
    AI_AHI,
    AI_ALO,
    AI_BHI,
    AI_BLO,
    AI_NFILLS,
    AI_OPEN,
    AI_POS,
    AI_VOL,
    AI_XUNS,
    C_ERROR,
    C_LAST_DELIV,
    C_LAT_R,
    C_NSLOT,
    C_RS_DRAIN,
    C_RS_TAIL,
    C_SEQ,
    CT_INVERSE,
    E_EVENT,
    E_FILLED,
    E_ID,
    E_INST,
    E_LAST_PRICE,
    E_LAST_QTY,
    E_LIQ,
    E_PRICE,
    E_QTY,
    E_REASON,
    E_SIDE,
    E_STATUS,
    E_TS_EXCH,
    E_TS_LOCAL,
    EF_CASH_DELTA,
    EF_FEE,
    ERR_RESP_RING_FULL,
    EV_ACCEPTED,
    EV_CANCEL_REJECTED,
    EV_CANCELED,
    EV_EXPIRED,
    EV_FILL,
    EV_MODIFIED,
    EV_MODIFY_REJECTED,
    EV_REJECTED,
    INF,
    IP_CSIZE,
    IP_CTYPE,
    IP_LDEN,
    IP_LNUM,
    IP_MAKER,
    IP_MODX,
    IP_TAKER,
    IP_TDEN,
    IP_TNUM,
    LIQ_MAKER,
    LIQ_NONE,
    LIQ_TAKER,
    O_ACTIVE,
    O_FILLED,
    O_ID,
    O_INST,
    O_L1T,
    O_PRICE,
    O_QTY,
    O_SEQ,
    O_SIDE,
    O_STATUS,
    O_TIF,
    Q_CUMTRADE,
    Q_FRONT,
    R_ARRIVE,
    R_ID,
    R_INST,
    R_KIND,
    R_PRICE,
    R_QTY,
    R_SIDE,
    R_TIF,
    RJ_BAD_PRICE,
    RJ_BAD_QTY,
    RJ_BOOK_UNSYNCED,
    RJ_NONE,
    RJ_POST_ONLY,
    RJ_SELF_TRADE,
    RJ_TOO_MANY_ORDERS,
    RJ_UNKNOWN_ORDER,
    RJ_WOULD_CROSS,
    RQ_CANCEL,
    RQ_MODIFY,
    RQ_NEW,
    ST_CANCELED,
    ST_EXPIRED,
    ST_FILLED,
    ST_NEW,
    ST_PARTIAL,
    ST_REJECTED,
    TIF_IOC,
    TIF_MARKET,
    TIF_POST_ONLY,
)


# ===================================================================== responses and fills
@njit(cache=True)
def _emit_raw(
    t: int,
    oid: int,
    inst: int,
    side: int,
    price: int,
    qty: int,
    filled: int,
    status: int,
    evk: int,
    last_qty: int,
    last_price: int,
    liq: int,
    reason: int,
    fee: float,
    cash_delta: float,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> None:
    cap = resps.shape[0]
    k = ctl[C_RS_TAIL]
    if k - ctl[C_RS_DRAIN] >= cap:
        ctl[C_ERROR] = ERR_RESP_RING_FULL
        return
    # Responses travel one connection: delivery times never reorder.
    deliver = t + latency_at(ctl[C_LAT_R], lat_r, t, rng)
    if deliver < ctl[C_LAST_DELIV]:
        deliver = ctl[C_LAST_DELIV]
    ctl[C_LAST_DELIV] = deliver
    j = k % cap
    resps[j, E_TS_EXCH] = t
    resps[j, E_TS_LOCAL] = deliver
    resps[j, E_ID] = oid
    resps[j, E_INST] = inst
    resps[j, E_SIDE] = side
    resps[j, E_PRICE] = price
    resps[j, E_QTY] = qty
    resps[j, E_FILLED] = filled
    resps[j, E_STATUS] = status
    resps[j, E_EVENT] = evk
    resps[j, E_LAST_QTY] = last_qty
    resps[j, E_LAST_PRICE] = last_price
    resps[j, E_LIQ] = liq
    resps[j, E_REASON] = reason
    respf[j, EF_FEE] = fee
    respf[j, EF_CASH_DELTA] = cash_delta
    ctl[C_RS_TAIL] = k + 1


@njit(cache=True)
def _emit(
    t: int,
    ords: np.ndarray,
    slot: int,
    evk: int,
    last_qty: int,
    last_price: int,
    liq: int,
    reason: int,
    fee: float,
    cash_delta: float,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> None:
    _emit_raw(
        t,
        ords[slot, O_ID],
        ords[slot, O_INST],
        ords[slot, O_SIDE],
        ords[slot, O_PRICE],
        ords[slot, O_QTY],
        ords[slot, O_FILLED],
        ords[slot, O_STATUS],
        evk,
        last_qty,
        last_price,
        liq,
        reason,
        fee,
        cash_delta,
        resps,
        respf,
        lat_r,
        rng,
        ctl,
    )


@njit(cache=True)
def fill_value(ip: np.ndarray, inst: int, side: int, qty: int, price: int) -> tuple[float, float]:
    """``(cash_delta, notional)`` of a fill, fee excluded.

    Spot and linear: notional ``qty * price * contract_size`` in quote; a buy pays it.
    Inverse: notional ``qty * contract_size / price`` in the coin; a buy *receives* it, so that
    a round trip earns ``qty * size * (1/entry - 1/exit)``.
    """
    p = float(price) * ip[inst, IP_TNUM] / ip[inst, IP_TDEN]
    q = float(qty) * ip[inst, IP_LNUM] / ip[inst, IP_LDEN]
    size = ip[inst, IP_CSIZE]
    if ip[inst, IP_CTYPE] == CT_INVERSE:
        notional = q * size / p
        return side * notional, notional
    notional = q * p * size
    return -side * notional, notional


@njit(cache=True)
def _bounds(inst: int, ords: np.ndarray, acci: np.ndarray, ctl: np.ndarray) -> None:
    """Recompute the price ranges of our open bids and asks on ``inst``.

    The driver's fast path lets market rows that cannot touch those ranges (queue or cross)
    update the book only.
    """
    blo, bhi, alo, ahi = INF, -INF, INF, -INF
    for s in range(ctl[C_NSLOT]):
        if ords[s, O_ACTIVE] == 1 and ords[s, O_INST] == inst:
            p = ords[s, O_PRICE]
            if ords[s, O_SIDE] > 0:
                blo = min(blo, p)
                bhi = max(bhi, p)
            else:
                alo = min(alo, p)
                ahi = max(ahi, p)
    acci[inst, AI_BLO] = blo
    acci[inst, AI_BHI] = bhi
    acci[inst, AI_ALO] = alo
    acci[inst, AI_AHI] = ahi


@njit(cache=True)
def _free(ords: np.ndarray, slot: int, acci: np.ndarray, ctl: np.ndarray) -> None:
    ords[slot, O_ACTIVE] = 0
    inst = ords[slot, O_INST]
    acci[inst, AI_OPEN] -= 1
    n = ctl[C_NSLOT]
    while n > 0 and ords[n - 1, O_ACTIVE] == 0:
        n -= 1
    ctl[C_NSLOT] = n
    _bounds(inst, ords, acci, ctl)


@njit(cache=True)
def _fill(
    t: int,
    ords: np.ndarray,
    slot: int,
    qty: int,
    price: int,
    liq: int,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> None:
    """Fill ``qty`` lots of the order in ``slot`` at ``price``; book cash, fees, position."""
    inst = ords[slot, O_INST]
    side = ords[slot, O_SIDE]
    cash_delta, notional = fill_value(ip, inst, side, qty, price)
    rate = ip[inst, IP_MAKER] if liq == LIQ_MAKER else ip[inst, IP_TAKER]
    fee = rate * notional  # negative rate: a rebate
    accf[inst, AF_CASH] += cash_delta - fee
    accf[inst, AF_FEES] += fee
    accf[inst, AF_NOTIONAL] += notional
    acci[inst, AI_POS] += side * qty
    acci[inst, AI_NFILLS] += 1
    acci[inst, AI_VOL] += qty
    ords[slot, O_FILLED] += qty
    ords[slot, O_STATUS] = ST_FILLED if ords[slot, O_FILLED] >= ords[slot, O_QTY] else ST_PARTIAL
    _emit(
        t,
        ords,
        slot,
        EV_FILL,
        qty,
        price,
        liq,
        RJ_NONE,
        fee,
        cash_delta,
        resps,
        respf,
        lat_r,
        rng,
        ctl,
    )


# ===================================================================== matching
@njit(cache=True)
def _find_order(ords: np.ndarray, oid: int, ctl: np.ndarray) -> int:
    for s in range(ctl[C_NSLOT]):
        if ords[s, O_ACTIVE] == 1 and ords[s, O_ID] == oid:
            return s
    return -1


@njit(cache=True)
def _free_slot(ords: np.ndarray, ctl: np.ndarray) -> int:
    for s in range(ords.shape[0]):
        if ords[s, O_ACTIVE] == 0:
            if s + 1 > ctl[C_NSLOT]:
                ctl[C_NSLOT] = s + 1
            return s
    return -1


@njit(cache=True)
def _crosses(bk: np.ndarray, side: int, price: int) -> bool:
    if side > 0:
        return book_best_ask(bk)[0] <= price
    return book_best_bid(bk)[0] >= price


@njit(cache=True)
def _self_cross(
    ords: np.ndarray, inst: int, side: int, price: int, skip: int, ctl: np.ndarray
) -> bool:
    """Would an order resting at ``price`` cross one of our own opposite resting orders?"""
    for s in range(ctl[C_NSLOT]):
        if s == skip or ords[s, O_ACTIVE] == 0 or ords[s, O_INST] != inst:
            continue
        if ords[s, O_SIDE] == -side:
            if side > 0 and ords[s, O_PRICE] <= price:
                return True
            if side < 0 and ords[s, O_PRICE] >= price:
                return True
    return False


@njit(cache=True)
def _take(
    t: int,
    ords: np.ndarray,
    slot: int,
    limit: int,
    books: np.ndarray,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> None:
    """Walk the displayed opposite side up to ``limit``, one taker fill per level.

    The displayed quantity we take is removed from the exchange book (until the feed next sets
    that level), so a second order in the same instant cannot take the same liquidity twice.
    """
    inst = ords[slot, O_INST]
    side = ords[slot, O_SIDE]
    bk = books[inst]
    while ords[slot, O_FILLED] < ords[slot, O_QTY]:
        if side > 0:
            p, q = book_best_ask(bk)
            if q == 0 or p > limit:
                break
        else:
            p, q = book_best_bid(bk)
            if q == 0 or p < limit:
                break
        leaves = ords[slot, O_QTY] - ords[slot, O_FILLED]
        take = min(leaves, q)
        book_apply(bk, -side, p, q - take)
        _fill(t, ords, slot, take, p, LIQ_TAKER, acci, accf, ip, resps, respf, lat_r, rng, ctl)


@njit(cache=True)
def _process_request(
    k: int,
    reqs: np.ndarray,
    books: np.ndarray,
    ords: np.ndarray,
    oqf: np.ndarray,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> None:
    j = k % reqs.shape[0]
    t = reqs[j, R_ARRIVE]
    kind = reqs[j, R_KIND]
    oid = reqs[j, R_ID]
    inst = reqs[j, R_INST]
    side = reqs[j, R_SIDE]
    price = reqs[j, R_PRICE]
    qty = reqs[j, R_QTY]
    tif = reqs[j, R_TIF]
    bk = books[inst]
    if kind == RQ_NEW:
        reason = RJ_NONE
        if qty <= 0:
            reason = RJ_BAD_QTY
        elif tif != TIF_MARKET and price <= 0:
            reason = RJ_BAD_PRICE
        elif acci[inst, AI_XUNS] != 0:
            # The book is out of sync (a gap in the depth data): what the order would take,
            # or where it would queue, cannot be known until the resync snapshot.
            reason = RJ_BOOK_UNSYNCED
        elif tif == TIF_POST_ONLY and _crosses(bk, side, price):
            reason = RJ_POST_ONLY
        elif (tif == 0 or tif == TIF_POST_ONLY) and _self_cross(ords, inst, side, price, -1, ctl):
            reason = RJ_SELF_TRADE
        slot = -1
        if reason == RJ_NONE:
            slot = _free_slot(ords, ctl)
            if slot < 0:
                reason = RJ_TOO_MANY_ORDERS
        if reason != RJ_NONE:
            _emit_raw(
                t,
                oid,
                inst,
                side,
                price,
                qty,
                0,
                ST_REJECTED,
                EV_REJECTED,
                0,
                0,
                LIQ_NONE,
                reason,
                0.0,
                0.0,
                resps,
                respf,
                lat_r,
                rng,
                ctl,
            )
            return
        ords[slot, O_ID] = oid
        ords[slot, O_INST] = inst
        ords[slot, O_SIDE] = side
        ords[slot, O_PRICE] = price if tif != TIF_MARKET else 0
        ords[slot, O_QTY] = qty
        ords[slot, O_FILLED] = 0
        ords[slot, O_STATUS] = ST_NEW
        ords[slot, O_TIF] = tif
        ords[slot, O_ACTIVE] = 1
        ords[slot, O_L1T] = t
        ords[slot, O_SEQ] = ctl[C_SEQ]
        ctl[C_SEQ] += 1
        acci[inst, AI_OPEN] += 1
        _emit(
            t,
            ords,
            slot,
            EV_ACCEPTED,
            0,
            0,
            LIQ_NONE,
            RJ_NONE,
            0.0,
            0.0,
            resps,
            respf,
            lat_r,
            rng,
            ctl,
        )
        if tif != TIF_POST_ONLY:
            limit = price
            if tif == TIF_MARKET:
                limit = INF if side > 0 else -INF
            _take(t, ords, slot, limit, books, acci, accf, ip, resps, respf, lat_r, rng, ctl)
        if ords[slot, O_FILLED] >= qty:
            _free(ords, slot, acci, ctl)
            return
        if tif in (TIF_IOC, TIF_MARKET):
            ords[slot, O_STATUS] = ST_EXPIRED
            _emit(
                t,
                ords,
                slot,
                EV_EXPIRED,
                0,
                0,
                LIQ_NONE,
                RJ_NONE,
                0.0,
                0.0,
                resps,
                respf,
                lat_r,
                rng,
                ctl,
            )
            _free(ords, slot, acci, ctl)
            return
        # Resting: everyone displayed at our price is ahead of us.
        oqf[slot, Q_FRONT] = float(book_qty_at(bk, side, price))
        oqf[slot, Q_CUMTRADE] = 0.0
        return
    slot = _find_order(ords, oid, ctl)
    if kind == RQ_CANCEL:
        if slot < 0:
            # Already filled, cancelled or never accepted: the cancel lost the race.
            _emit_raw(
                t,
                oid,
                inst,
                side,
                0,
                0,
                0,
                0,
                EV_CANCEL_REJECTED,
                0,
                0,
                LIQ_NONE,
                RJ_UNKNOWN_ORDER,
                0.0,
                0.0,
                resps,
                respf,
                lat_r,
                rng,
                ctl,
            )
            return
        ords[slot, O_STATUS] = ST_CANCELED
        _emit(
            t,
            ords,
            slot,
            EV_CANCELED,
            0,
            0,
            LIQ_NONE,
            RJ_NONE,
            0.0,
            0.0,
            resps,
            respf,
            lat_r,
            rng,
            ctl,
        )
        _free(ords, slot, acci, ctl)
        return
    if kind == RQ_MODIFY:
        reason = RJ_NONE
        # A modify the venue cannot apply either leaves the order as it was (rejected) or, where
        # the venue says so (IP_MODX, see SimConfig.modify_rule), cancels it: Binance cancels a
        # post-only order whose new price would take, and a partially filled order whose new
        # size is at or below the filled size. Invalid values are rejected on every venue.
        cancel = False
        if slot < 0:
            reason = RJ_UNKNOWN_ORDER
        elif qty <= 0:
            reason = RJ_BAD_QTY
        elif price <= 0:
            reason = RJ_BAD_PRICE
        elif qty <= ords[slot, O_FILLED]:
            reason = RJ_BAD_QTY
            cancel = ip[ords[slot, O_INST], IP_MODX] != 0.0
        elif acci[ords[slot, O_INST], AI_XUNS] != 0 and (
            price != ords[slot, O_PRICE] or qty > ords[slot, O_QTY]
        ):
            # A new price or a new place in the queue needs the book (as for a new order); a
            # size decrease keeps the order where it is and needs none.
            reason = RJ_BOOK_UNSYNCED
        else:
            oside = ords[slot, O_SIDE]
            if _crosses(bk, oside, price):
                if ords[slot, O_TIF] == TIF_POST_ONLY:
                    reason = RJ_POST_ONLY
                    cancel = ip[ords[slot, O_INST], IP_MODX] != 0.0
                else:
                    reason = RJ_WOULD_CROSS
            elif _self_cross(ords, inst, oside, price, slot, ctl):
                reason = RJ_SELF_TRADE
        if cancel:
            # The order as it stood, cancelled by the venue; the reason tells it from ours.
            ords[slot, O_STATUS] = ST_CANCELED
            _emit(
                t,
                ords,
                slot,
                EV_CANCELED,
                0,
                0,
                LIQ_NONE,
                reason,
                0.0,
                0.0,
                resps,
                respf,
                lat_r,
                rng,
                ctl,
            )
            _free(ords, slot, acci, ctl)
            return
        if reason != RJ_NONE:
            if slot >= 0:
                _emit(
                    t,
                    ords,
                    slot,
                    EV_MODIFY_REJECTED,
                    0,
                    0,
                    LIQ_NONE,
                    reason,
                    0.0,
                    0.0,
                    resps,
                    respf,
                    lat_r,
                    rng,
                    ctl,
                )
            else:
                _emit_raw(
                    t,
                    oid,
                    inst,
                    side,
                    price,
                    qty,
                    0,
                    0,
                    EV_MODIFY_REJECTED,
                    0,
                    0,
                    LIQ_NONE,
                    reason,
                    0.0,
                    0.0,
                    resps,
                    respf,
                    lat_r,
                    rng,
                    ctl,
                )
            return
        lose = price != ords[slot, O_PRICE] or qty > ords[slot, O_QTY]
        ords[slot, O_PRICE] = price
        ords[slot, O_QTY] = qty
        if lose:
            # Back of the queue at the (new) price, as a new order would be.
            oqf[slot, Q_FRONT] = float(book_qty_at(bk, ords[slot, O_SIDE], price))
            oqf[slot, Q_CUMTRADE] = 0.0
            ords[slot, O_SEQ] = ctl[C_SEQ]
            ctl[C_SEQ] += 1
        _emit(
            t,
            ords,
            slot,
            EV_MODIFIED,
            0,
            0,
            LIQ_NONE,
            RJ_NONE,
            0.0,
            0.0,
            resps,
            respf,
            lat_r,
            rng,
            ctl,
        )


@njit(cache=True)
def _fill_rest(
    t: int,
    ords: np.ndarray,
    slot: int,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> None:
    leaves = ords[slot, O_QTY] - ords[slot, O_FILLED]
    _fill(
        t,
        ords,
        slot,
        leaves,
        ords[slot, O_PRICE],
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
    _free(ords, slot, acci, ctl)
