"""The compiled simulation loop: interleaves the exchange and local clocks over the rows, our
requests and their responses, and returns to Python when the strategy must wake up.

The compiled core is split along its seams (``docs/sim-core.md``, "Files"):
:mod:`~hftlab.sim._latency` (latency models, RNG), :mod:`~hftlab.sim._queue` (queue models),
:mod:`~hftlab.sim._matching` (requests, fills, fees, responses), :mod:`~hftlab.sim._exchange`
(market rows at exchange time), :mod:`~hftlab.sim._local` (the strategy's view, state samples)
and this module, the loop: :func:`run` and :func:`run_packed` (what ``SimCore`` calls).
Everything is ``@njit(cache=True)`` over plain arrays whose columns are named in
:mod:`hftlab.sim._layout`. numba keys a cached kernel on its own file only; the cache folder
is keyed on all the kernel modules' sources (:mod:`hftlab._numba_cache`), so an edit to any of
them, or to the layout, compiles afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit
from numba.core import cgutils
from numba.extending import intrinsic

from hftlab.book._core import book_apply_at
from hftlab.sim._exchange import _K_BBO, _K_CLEAR, _K_SNAPSHOT, _K_TRADE, _exchange_rows
from hftlab.sim._latency import latency_at
from hftlab.sim._layout import (
    AF_NF,
    AI_LPOS,
    AI_LTSL,
    AI_LTSX,
    AI_NF,
    C_END_T,
    C_ERROR,
    C_EVENTS,
    C_FINAL,
    C_FLAGGED,
    C_FMASK,
    C_HORIZON,
    C_IL,
    C_IX,
    C_LAST_ARR,
    C_LAT_E,
    C_LOCAL,
    C_LUNS,
    C_NEXT_REC,
    C_NF,
    C_NOW,
    C_QMODEL,
    C_R_IDX,
    C_R_INST,
    C_REASON,
    C_REC_INT,
    C_RQ_ASSIGNED,
    C_RQ_HEAD,
    C_RQ_TAIL,
    C_RS_DELIV,
    C_RS_DRAIN,
    C_RS_TAIL,
    C_SL_N,
    C_SUB_BOOK,
    C_SUB_ORDER,
    C_SUB_QUOTE,
    C_SUB_STATUS,
    C_SUB_TRADE,
    C_TIMER,
    CF_NF,
    E_EVENT,
    E_INST,
    E_LAST_QTY,
    E_NF,
    E_SIDE,
    E_TS_LOCAL,
    EF_NF,
    EV_FILL,
    INF,
    IP_BOOKSRC,
    IP_NF,
    O_NF,
    Q_NF,
    QM_L1,
    R_ARRIVE,
    R_INST,
    R_NF,
    R_SENT,
    S_NF,
    W_END,
    W_ERROR,
    W_LOG_FULL,
    W_NEED_DATA,
    W_NEW_RESPONSES,
    W_ORDER,
    W_TIMER,
)
from hftlab.sim._local import (  # _record: SimCore's final state sample
    _local_event,
    _local_sync,
    _record,
)
from hftlab.sim._matching import _bounds, _process_request
from hftlab.sim._queue import queue_on_depth as queue_on_depth  # re-export: callers of _core


@intrinsic
def _borrowed(typingctx: Any, arr: Any) -> tuple[Any, Callable[..., Any]]:
    """A view of ``arr`` outside numba's reference counting (no meminfo).

    numba counts references to arrays with atomic calls: at every function entry and exit for
    each array argument, and for each inlined kernel's array argument (``book_apply_at``),
    which it fails to prune inside loops as branchy as the core's. That was a fifth of the
    core's time. On a borrowed view (and any view taken of it) those calls do nothing. Valid
    while ``arr`` is alive, i.e. within the call that borrows it: never return or keep one.
    """

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        src = context.make_array(sig.args[0])(context, builder, value=args[0])
        out = context.make_array(sig.return_type)(context, builder)
        for name in ("parent", "nitems", "itemsize", "data", "shape", "strides"):
            setattr(out, name, getattr(src, name))
        out.meminfo = cgutils.get_null_value(out.meminfo.type)
        return out._getvalue()

    return arr(arr), codegen


# Row ``j`` of ``ev0 + ev1`` (the carried rows, then the chunk fed last) is written out inline
# as ``ev1[j - n0] if j >= n0 else ev0[j]`` at every use: a helper function returning the
# record (or the array and index) runs 8x slower in numba (the record is copied, or the array
# reference-counted, at every row).


# ===================================================================== the loop
@njit(cache=True)
def _assign_arrivals(reqs: np.ndarray, lat_e: np.ndarray, rng: np.ndarray, ctl: np.ndarray) -> None:
    cap = reqs.shape[0]
    for k in range(ctl[C_RQ_ASSIGNED], ctl[C_RQ_TAIL]):
        j = k % cap
        sent = reqs[j, R_SENT]
        arrive = sent + latency_at(ctl[C_LAT_E], lat_e, sent, rng)
        # Requests travel one connection: they arrive in the order they were sent.
        if arrive < ctl[C_LAST_ARR]:
            arrive = ctl[C_LAST_ARR]
        ctl[C_LAST_ARR] = arrive
        reqs[j, R_ARRIVE] = arrive
    ctl[C_RQ_ASSIGNED] = ctl[C_RQ_TAIL]


@njit(cache=True)
def run(
    ev0: np.ndarray,
    ev1: np.ndarray,
    xi: np.ndarray,
    xt: np.ndarray,
    books: np.ndarray,
    lbooks: np.ndarray,
    ords: np.ndarray,
    oqf: np.ndarray,
    reqs: np.ndarray,
    resps: np.ndarray,
    respf: np.ndarray,
    slog_ts: np.ndarray,
    slog: np.ndarray,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    cfg: np.ndarray,
    lat_e: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> int:
    """Advance the simulation over the rows ``ev0 + ev1`` until the strategy must wake up.

    The rows are those of ``ev0`` (carried over from the previous chunk) followed by those of
    ``ev1`` (the current chunk, never copied); an index ``j`` into them is ``ev0[j]`` below
    ``len(ev0)``, else ``ev1[j - len(ev0)]``. The exchange cursor applies rows ``xi`` at times
    ``xt`` (sorted); the local cursor applies rows in index order at ``ts_local``. Requests
    arrive at the exchange, and responses at the strategy, at times given by the latency
    models. The earliest pending happening is processed next; ties go exchange data, request,
    response, local data, timer.
    Nothing at or beyond ``ctl[C_HORIZON]`` is processed before more data is fed (rows still
    to come may have earlier exchange times). Returns the wake-up reason (also in
    ``ctl[C_REASON]``).
    """
    _assign_arrivals(reqs, lat_e, rng, ctl)
    n0 = ev0.shape[0]
    n = n0 + ev1.shape[0]
    nx = xi.shape[0]
    local = ctl[C_LOCAL] != 0
    # Local events that never wake the strategy take a fast path (book update only).
    quiet_depth = ctl[C_SUB_QUOTE] == 0 and ctl[C_SUB_BOOK] == 0
    quiet_trade = ctl[C_SUB_TRADE] == 0
    # Then local rows never wake the strategy, so requests can only appear at a timer or a
    # response: the exchange and local cursors each run up to that, not in lockstep. A book
    # going out of sync or back in may wake it (if subscribed): only possible while a book is
    # out of sync or the rows held include one flagged unsynced.
    luns = ctl[C_LUNS]  # local books out of sync (or back in, the strategy not yet told)
    fmask = ctl[C_FMASK]  # F_UNSYNCED, or 0 when flagged rows are applied (book_gaps="apply")
    quiet = (
        quiet_depth
        and quiet_trade
        and (ctl[C_SUB_STATUS] == 0 or (ctl[C_FLAGGED] == 0 and luns == 0))
    )
    rcap = reqs.shape[0]
    pcap = resps.shape[0]
    scap = slog.shape[0]
    n_inst = acci.shape[0]
    rec_int = ctl[C_REC_INT]
    il = ctl[C_IL]
    ix = ctl[C_IX]
    final = ctl[C_FINAL] != 0
    # Nothing at or after `stop` is processed in this call: the horizon (rows still to come
    # may precede it) or, with the data complete, just after its last local time.
    stop = ctl[C_END_T] + 1 if final else ctl[C_HORIZON]
    n_events = ctl[C_EVENTS]
    l1 = ctl[C_QMODEL] == QM_L1  # fills by intensity at every row: no fast path
    single = n_inst == 1
    reason = 0
    while True:
        t_x = xt[ix] if ix < nx else INF
        t_l = INF
        if local and il < n:
            t_l = ev1[il - n0].ts_local if il >= n0 else ev0[il].ts_local
        rh = ctl[C_RQ_HEAD]
        t_q = reqs[rh % rcap, R_ARRIVE] if rh < ctl[C_RQ_TAIL] else INF
        rd = ctl[C_RS_DELIV]
        t_r = resps[rd % pcap, E_TS_LOCAL] if rd < ctl[C_RS_TAIL] else INF
        t_tm = ctl[C_TIMER]
        t = min(t_x, t_q, t_r, t_l, t_tm)
        if t >= stop:
            reason = W_END if final else W_NEED_DATA
            break
        next_rec = INF
        if rec_int > 0:
            if ctl[C_NEXT_REC] == INF:
                ctl[C_NEXT_REC] = (t // rec_int + 1) * rec_int
            if ctl[C_NEXT_REC] <= t:
                if ctl[C_SL_N] + n_inst > scap:
                    reason = W_LOG_FULL
                    break
                _record(ctl[C_NEXT_REC], books, ords, acci, accf, ip, slog_ts, slog, ctl)
                ctl[C_NEXT_REC] += rec_int
                continue
            next_rec = ctl[C_NEXT_REC]
        if t_x == t:
            # Exchange rows win ties with everything: run them until another happening (or a
            # state sample, or the stop) is due. Rows of instruments without our orders only
            # change the book; any other row may create responses, so re-plan after it.
            # rows at exactly `lim` still go first
            lim = min(t_q, t_r, t_tm) if quiet else min(t_q, t_r, t_l, t_tm)
            lim2 = min(next_rec, stop)  # rows at or after `lim2` wait
            ix0 = ix
            ix = _exchange_rows(
                ev0, ev1, xi, xt, ix, lim, lim2, l1, books, ords, oqf, acci, accf, ip, cfg,
                resps, respf, lat_r, rng, ctl,
            )  # fmt: skip
            n_events += ix - ix0
            if ctl[C_ERROR] != 0:
                reason = W_ERROR
                break
            continue
        if t_q == t:
            _process_request(
                rh, reqs, books, ords, oqf, acci, accf, ip, resps, respf, lat_r, rng, ctl
            )
            _bounds(reqs[rh % rcap, R_INST], ords, acci, ctl)
            ctl[C_RQ_HEAD] = rh + 1
            if ctl[C_ERROR] != 0:
                reason = W_ERROR
                break
            continue
        if t_r == t:
            # Deliver every response due now in one wake-up.
            any_fill = False
            while ctl[C_RS_DELIV] < ctl[C_RS_TAIL]:
                j = ctl[C_RS_DELIV] % pcap
                if resps[j, E_TS_LOCAL] != t:
                    break
                if resps[j, E_EVENT] == EV_FILL:
                    acci[resps[j, E_INST], AI_LPOS] += resps[j, E_SIDE] * resps[j, E_LAST_QTY]
                    any_fill = True
                ctl[C_RS_DELIV] += 1
            ctl[C_NOW] = t
            # SUB_ORDER: 0 never wake, 1 wake for fills, 2 wake for every order event.
            sub = ctl[C_SUB_ORDER]
            if sub == 2 or (sub == 1 and any_fill):
                reason = W_ORDER
                break
            continue
        if t_l == t:
            # Local rows lose ties with exchange rows, requests and responses, win them with
            # timers; run them until one wakes the strategy or something else is due.
            lim = min(t_q, t_r) if quiet else min(t_x, t_q, t_r)  # rows at `lim` wait
            lim2 = min(t_tm + 1 if t_tm < INF else INF, next_rec, stop)  # these wait
            lim = min(lim, lim2)
            w = 0
            while True:
                r = ev1[il - n0] if il >= n0 else ev0[il]
                inst = r.instrument
                k = r.kind
                if not single:  # else stamped once, after the loop
                    acci[inst, AI_LTSX] = r.ts_exchange
                    acci[inst, AI_LTSL] = r.ts_local
                depth_book = ip[inst, IP_BOOKSRC] == 0.0
                if k <= _K_CLEAR and ((r.flags & fmask) != 0 or luns != 0):
                    # Flagged, or some book out of sync: the row may change a book's sync.
                    w = _local_sync(il, ev0, ev1, lbooks, acci, ip, ctl)
                    luns = ctl[C_LUNS]
                elif k <= _K_SNAPSHOT and quiet_depth and depth_book:
                    book_apply_at(lbooks, inst, r.side, r.price, r.qty)
                elif k == _K_BBO and depth_book:
                    pass  # changes nothing and wakes nobody (see _local_event)
                elif not (k == _K_TRADE and quiet_trade):
                    w = _local_event(il, ev0, ev1, lbooks, acci, ip, ctl)
                il += 1
                if w != 0 or il >= n:
                    break
                tn = ev1[il - n0].ts_local if il >= n0 else ev0[il].ts_local
                if tn >= lim:
                    break
            last = ev1[il - 1 - n0] if il - 1 >= n0 else ev0[il - 1]
            if single:
                acci[0, AI_LTSX] = last.ts_exchange
                acci[0, AI_LTSL] = last.ts_local
            ctl[C_R_INST] = last.instrument
            ctl[C_R_IDX] = il - 1
            ctl[C_NOW] = last.ts_local
            if w != 0:
                reason = w
                break
            continue
        # timer
        ctl[C_TIMER] = INF
        ctl[C_NOW] = t
        reason = W_TIMER
        break
    ctl[C_EVENTS] = n_events
    ctl[C_IL] = il
    ctl[C_IX] = ix
    ctl[C_REASON] = reason
    if ctl[C_RS_DELIV] != ctl[C_RS_DRAIN]:
        return reason + W_NEW_RESPONSES  # saves the caller a check per wake-up
    return reason


@njit(cache=True, nogil=True)  # releases the GIL: the next chunk is prepared meanwhile
def run_packed(
    ev0: np.ndarray,
    ev1: np.ndarray,
    xi: np.ndarray,
    xt: np.ndarray,
    ibuf: np.ndarray,
    fbuf: np.ndarray,
    dims: np.ndarray,
    rng: np.ndarray,
) -> int:
    """:func:`run` over the views of :class:`~hftlab.sim.core.SimCore`'s two buffers.

    ``dims``: instruments, words of a book side, local-book instruments and words of their
    sides, order slots, request, response and state-log capacities, entry and response latency
    table rows. The order of the views matches ``SimCore.__init__``.
    """
    # Borrowed views (see _borrowed): every array below, and every view taken of them inside
    # the core, skips numba's atomic reference counting. They all live as long as this call.
    ev0 = _borrowed(ev0)
    ev1 = _borrowed(ev1)
    xi = _borrowed(xi)
    xt = _borrowed(xt)
    ibuf = _borrowed(ibuf)
    fbuf = _borrowed(fbuf)
    rng = _borrowed(rng)
    n, c1, nl, cl1, m, rc, pc, sc, ke, kr = (
        dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], dims[7], dims[8], dims[9]
    )  # fmt: skip
    o = 0
    books = ibuf[o : o + n * 2 * c1].reshape((n, 2, c1))
    o += n * 2 * c1
    lbooks = ibuf[o : o + nl * 2 * cl1].reshape((nl, 2, cl1))
    o += nl * 2 * cl1
    ords = ibuf[o : o + m * O_NF].reshape((m, O_NF))
    o += m * O_NF
    reqs = ibuf[o : o + rc * R_NF].reshape((rc, R_NF))
    o += rc * R_NF
    resps = ibuf[o : o + pc * E_NF].reshape((pc, E_NF))
    o += pc * E_NF
    slog_ts = ibuf[o : o + sc]
    o += sc
    acci = ibuf[o : o + n * AI_NF].reshape((n, AI_NF))
    o += n * AI_NF
    ctl = ibuf[o : o + C_NF]
    o = 0
    oqf = fbuf[o : o + m * Q_NF].reshape((m, Q_NF))
    o += m * Q_NF
    respf = fbuf[o : o + pc * EF_NF].reshape((pc, EF_NF))
    o += pc * EF_NF
    slog = fbuf[o : o + sc * S_NF].reshape((sc, S_NF))
    o += sc * S_NF
    accf = fbuf[o : o + n * AF_NF].reshape((n, AF_NF))
    o += n * AF_NF
    ip = fbuf[o : o + n * IP_NF].reshape((n, IP_NF))
    o += n * IP_NF
    cfg = fbuf[o : o + CF_NF]
    o += CF_NF
    lat_e = fbuf[o : o + ke * 2].reshape((ke, 2))
    o += ke * 2
    lat_r = fbuf[o : o + kr * 2].reshape((kr, 2))
    return run(
        ev0, ev1, xi, xt, books, lbooks, ords, oqf, reqs, resps, respf, slog_ts, slog, acci, accf,
        ip, cfg, lat_e, lat_r, rng, ctl,
    )  # fmt: skip
