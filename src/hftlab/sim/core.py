"""``SimCore``: the arrays of one simulation and the Python side of the compiled loop.

The same object drives a backtest (chunks from the store) and the live paper engine (chunks
from the bus): feed chunks with :meth:`feed`, call :meth:`step` until it asks for data or
reports a wake-up, submit requests in between.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Final, NamedTuple

import numpy as np

from hftlab.book import book_dropped, book_init, book_side_size
from hftlab.errors import EngineError
from hftlab.events import EVENT_DTYPE, FLAG_UNSYNCED, ContractType, Instrument
from hftlab.sim import _core, _feed
from hftlab.sim import _layout as L
from hftlab.sim.config import SimConfig

log = logging.getLogger(__name__)


_CTYPE = {
    ContractType.SPOT: L.CT_SPOT,
    ContractType.LINEAR: L.CT_LINEAR,
    ContractType.INVERSE: L.CT_INVERSE,
}

_REQ_CAP = 4096
_RESP_CAP = 1 << 16
_SLOG_CAP = 1 << 15


class SimCore:
    """One simulated exchange session over ``instruments``.

    Parameters
    ----------
    instruments
        In the order of the events' ``instrument`` column.
    config
        Simulator settings.
    book_from_bbo
        Per instrument: True if its book is built from BBO events (quote-only data), False if
        from depth events. BBO rows of a depth-built instrument only wake the strategy.
    local
        Maintain the strategy's (local-time) books and wake-ups. False for raw replay.
    """

    def __init__(
        self,
        instruments: Sequence[Instrument],
        config: SimConfig | None = None,
        *,
        book_from_bbo: Sequence[bool] | None = None,
        local: bool = True,
    ) -> None:
        self.instruments = list(instruments)
        self.config = config = config or SimConfig()
        n = len(self.instruments)
        if n == 0:
            raise EngineError("no instruments to simulate")
        win, cap = config.book_window, config.book_capacity
        m = config.max_open_orders
        lat_e = config.entry_latency.table()
        lat_r = config.response_latency.table()
        # Without a strategy the local books are never used: one minimal book.
        nl, winl, capl = (n, win, cap) if local else (1, 64, 16)
        side, sidel = book_side_size(win, cap), book_side_size(winl, capl)
        # Every array the core works on is a view into one int64 and one float64 buffer, so a
        # step hands numba 7 arguments instead of 20 (each costs ~0.1 us of dispatch).
        self.dims = np.array(
            [n, side, nl, sidel, m, _REQ_CAP, _RESP_CAP, _SLOG_CAP, len(lat_e), len(lat_r)],
            dtype=np.int64,
        )
        ishapes = [
            (n, 2, side),
            (nl, 2, sidel),
            (m, L.O_NF),
            (_REQ_CAP, L.R_NF),
            (_RESP_CAP, L.E_NF),
            (_SLOG_CAP,),
            (n, L.AI_NF),
            (L.C_NF,),
        ]
        fshapes = [
            (m, L.Q_NF),
            (_RESP_CAP, L.EF_NF),
            (_SLOG_CAP, L.S_NF),
            (n, L.AF_NF),
            (n, L.IP_NF),
            (L.CF_NF,),
            lat_e.shape,
            lat_r.shape,
        ]
        self.ibuf = np.zeros(sum(math.prod(sh) for sh in ishapes), dtype=np.int64)
        self.fbuf = np.zeros(sum(math.prod(sh) for sh in fshapes), dtype=np.float64)
        (
            self.books,
            self.lbooks,
            self.ords,
            self.reqs,
            self.resps,
            self.slog_ts,
            self.acci,
            self.ctl,
        ) = _views(self.ibuf, ishapes)
        (
            self.oqf,
            self.respf,
            self.slog,
            self.accf,
            self.ip,
            self.cfg,
            self.lat_e,
            self.lat_r,
        ) = _views(self.fbuf, fshapes)
        self.lat_e[:] = lat_e
        self.lat_r[:] = lat_r
        for bk in self.books:
            book_init(bk, win, cap)
        for bk in self.lbooks:
            book_init(bk, winl, capl)
        # Flat views for the Python side's scalar reads and writes at every wake-up.
        self._cm = memoryview(self.ctl)
        self._rm = memoryview(self.reqs.reshape(-1))
        self._am = memoryview(self.acci.reshape(-1))
        bbo = list(book_from_bbo) if book_from_bbo is not None else [False] * n
        for i, inst in enumerate(self.instruments):
            tn, td = inst.tick_ratio
            ln, ld = inst.lot_ratio
            fees = config.fees_for(inst.venue, inst.symbol)
            self.ip[i] = 0.0
            self.ip[i, L.IP_TNUM], self.ip[i, L.IP_TDEN] = tn, td
            self.ip[i, L.IP_LNUM], self.ip[i, L.IP_LDEN] = ln, ld
            self.ip[i, L.IP_CSIZE] = inst.contract_size
            self.ip[i, L.IP_CTYPE] = _CTYPE[ContractType(inst.contract_type)]
            self.ip[i, L.IP_MAKER] = fees.maker
            self.ip[i, L.IP_TAKER] = fees.taker
            self.ip[i, L.IP_BOOKSRC] = 1.0 if bbo[i] else 0.0
            self.ip[i, L.IP_MODX] = 1.0 if config.modify_rule_for(inst.venue) == "cancel" else 0.0
        self.cfg[L.CF_QPOW] = config.queue_power
        self.cfg[L.CF_L1_A] = config.l1_a
        self.cfg[L.CF_L1_K] = config.l1_k
        # xorshift state must be nonzero; mix the seed so that nearby seeds differ at once.
        seed = (int(config.seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64)
        self.rng = np.array([seed or 1], dtype=np.uint64)
        ctl = self.ctl
        ctl[L.C_TIMER] = L.INF
        ctl[L.C_NEXT_REC] = L.INF
        ctl[L.C_REC_INT] = round(config.record_interval_ms * 1e6)
        ctl[L.C_LOCAL] = 1 if local else 0
        ctl[L.C_QMODEL] = config.queue_model_code
        ctl[L.C_LAT_E] = config.entry_latency.kind_code()
        ctl[L.C_LAT_R] = config.response_latency.kind_code()
        ctl[L.C_LAST_ARR] = -L.INF
        ctl[L.C_LAST_DELIV] = -L.INF
        ctl[L.C_NEXT_ID] = 1
        ctl[L.C_END_T] = -L.INF
        ctl[L.C_FMASK] = L.F_UNSYNCED if config.book_gaps == "hold" else 0
        self.acci[:, L.AI_LBB] = -1
        self.acci[:, L.AI_LTSX] = -L.INF
        self.acci[:, L.AI_LTSL] = -L.INF
        self.acci[:, [L.AI_BLO, L.AI_ALO]] = L.INF
        self.acci[:, [L.AI_BHI, L.AI_AHI]] = -L.INF
        self.window = round(config.reorder_window_ms * 1e6)
        # The rows the core works on: ev0 (carried from earlier chunks) then ev1 (the last
        # chunk, not copied); indices below run over ev0 + ev1.
        self.ev0 = _EMPTY_EV
        self.ev1 = _EMPTY_EV
        self.xi = np.zeros(0, dtype=np.int64)  # exchange order: row indices...
        self.xt = np.zeros(0, dtype=np.int64)  # ...and their exchange times (sorted)
        self._pend_i = np.zeros(0, dtype=np.int64)  # rows not yet released to the exchange
        self._pend_t = np.zeros(0, dtype=np.int64)
        self._last_local = -L.INF
        self._flag_ev0 = self._flag_ev1 = False  # ev0 / ev1 may hold rows flagged unsynced
        self._xbufs = [(self.xi, self.xt), (self.xi, self.xt)]  # see feed
        self._xq = 0
        # Buffers of prepare(), handed back by feed(); list append/pop are atomic, so a
        # prepare on another thread can take one.
        self._sort_bufs: list[tuple[np.ndarray, ...]] = []
        self._gbufs: list[np.ndarray | None] = [None, None]  # see _gather
        self._gq = 0
        ctl[L.C_HORIZON] = -L.INF
        #: The arguments of one compiled step (``_core.run_packed(*args)``), kept current by
        #: :meth:`feed`; drivers on a hot path call it directly (see ``backtest.engine``).
        self.args = (self.ev0, self.ev1, self.xi, self.xt, self.ibuf, self.fbuf, self.dims)
        self.args += (self.rng,)

    # Flat int views for the hot scalar reads of drivers and the strategy Context (a
    # memoryview read is ~25 ns; a property ~60 ns): :attr:`control` at these offsets...
    NOW: ClassVar[int] = L.C_NOW  # the local clock
    TIMER: ClassVar[int] = L.C_TIMER  # the next timer, INF if none
    # ...and :attr:`accounts` at ``inst * ACCOUNT_STRIDE + LOCAL_POSITION``: the position in
    # lots as the strategy knows it (from the fills delivered); at ``+ LOCAL_SYNC``: 1 while
    # the strategy's book is out of sync (a gap in the depth data), else 0 or 2 (in sync).
    ACCOUNT_STRIDE: ClassVar[int] = L.AI_NF
    LOCAL_POSITION: ClassVar[int] = L.AI_LPOS
    LOCAL_SYNC: ClassVar[int] = L.AI_LUNS

    @property
    def control(self) -> memoryview:
        """Flat int64 memoryview of the control block (offsets :attr:`NOW`, :attr:`TIMER`)."""
        return self._cm

    @property
    def accounts(self) -> memoryview:
        """Flat int64 memoryview of the accounts (see :attr:`LOCAL_POSITION`)."""
        return self._am

    def local_book(self, inst: int) -> np.ndarray:
        """The strategy's (local-time) book of ``inst``: the array layout of :mod:`hftlab.book`."""
        return self.lbooks[inst]

    # ------------------------------------------------------------------ data
    def prepare(self, chunk: np.ndarray) -> PreparedChunk:
        """Check ``chunk`` and sort its rows into exchange order, ready for :meth:`feed`.

        Depends on nothing but the chunk and the config, and runs compiled without the GIL:
        a driver may prepare the next chunk on another thread while :meth:`step` works
        through the current one (see ``backtest.engine``). :meth:`feed` prepares the chunk
        itself if not given.
        """
        if chunk.dtype != EVENT_DTYPE:
            raise EngineError(f"chunk dtype {chunk.dtype} is not EVENT_DTYPE")
        chunk = np.ascontiguousarray(chunk)
        n = len(chunk)
        bufs = self._sort_bufs.pop() if self._sort_bufs else None
        if bufs is None or len(bufs[0]) < n:
            size = max(n, 65_536)
            bufs = tuple(np.empty(size + (k == 3), dtype=np.int64) for k in range(4))
        out_i, out_t, scr_t, counts = bufs
        code, row, flags = _feed.sort_chunk(
            chunk, self.window, len(self.instruments), out_i, out_t, scr_t, counts
        )
        return PreparedChunk(chunk, int(code), int(row), bufs, bool(flags & FLAG_UNSYNCED))

    def feed(self, chunk: np.ndarray | None, prepared: PreparedChunk | None = None) -> None:
        """Append a chunk of :data:`EVENT_DTYPE` rows (ts_local order); ``None`` ends the data.

        ``prepared``: the chunk as returned by :meth:`prepare` (then ``chunk`` is ignored).

        Exchange order: each row's exchange time is ``min(ts_exchange, ts_local)`` (negative
        feed latency from unsynced clocks is clamped), raised to ``ts_local - W`` if the feed
        latency exceeds the reorder window ``W``. Rows go to the exchange sorted by that time
        (ties in arrival order), released once no later row can precede them: a later row has
        ``ts_local >= last`` hence exchange time ``>= last - W``. The result does not depend
        on how the data is chunked.

        The core reads the chunk in place (no copy) until the next chunk or two are fed: do
        not modify a chunk after feeding it.
        """
        ctl = self.ctl
        if prepared is None and chunk is not None:
            if chunk.dtype != EVENT_DTYPE:
                raise EngineError(f"chunk dtype {chunk.dtype} is not EVENT_DTYPE")
            if len(chunk) == 0:
                return
            prepared = self.prepare(chunk)
        flagged = False
        if prepared is None:
            ctl[L.C_FINAL] = 1
            ctl[L.C_END_T] = self._last_local
            horizon = L.INF
            chunk = _EMPTY_EV
            new_i = new_t = _EMPTY_I
        else:
            chunk = prepared.chunk
            if len(chunk) == 0:
                self._sort_bufs.append(prepared.buffers)
                return
            code, row = prepared.code, prepared.row
            if code == 0 and int(chunk["ts_local"][0]) < self._last_local:
                code, row = 1, 0
            if code:
                self._sort_bufs.append(prepared.buffers)
                self._chunk_error(chunk, code, row)
            horizon = int(chunk["ts_local"][-1]) - self.window
            new_i = prepared.buffers[0][: len(chunk)]
            new_t = prepared.buffers[1][: len(chunk)]
            flagged = prepared.unsynced
        self._merge(chunk, new_i, new_t, horizon, prepared, flagged)

    def _merge(
        self,
        chunk: np.ndarray,
        new_i: np.ndarray,
        new_t: np.ndarray,
        horizon: int,
        prepared: PreparedChunk | None,
        flagged: bool = False,
    ) -> None:
        """Queue ``chunk``'s rows (sorted as ``new_*``) for the exchange, releasing those
        before ``horizon``; carry the rows a cursor has not reached. ``flagged``: the chunk
        has rows flagged unsynced."""
        ctl = self.ctl
        il = int(ctl[L.C_IL])
        ix = int(ctl[L.C_IX])
        ev0, ev1 = self.ev0, self.ev1
        n0 = len(ev0)
        n_old = n0 + len(ev1)
        # Keep the rows either cursor has not reached (the carried part spans about W).
        k0 = n_old
        if ix < len(self.xi):
            k0 = min(k0, int(self.xi[ix:].min()))
        if self._pend_i.size:
            k0 = min(k0, int(self._pend_i.min()))
        if ctl[L.C_LOCAL]:
            k0 = min(k0, il)
        base = n_old - k0
        need = len(self.xi) - ix + len(self._pend_i) + len(chunk)
        # Two reused queue buffers, alternating (the current queue is read while writing).
        self._xq = 1 - self._xq
        out_i, out_t = self._xbufs[self._xq]
        if len(out_i) < need:
            out_i = np.empty(max(need, 2 * len(chunk)), dtype=np.int64)
            out_t = np.empty(len(out_i), dtype=np.int64)
            self._xbufs[self._xq] = (out_i, out_t)
        cut, m = _feed.merge_chunk(
            self.xi,
            self.xt,
            ix,
            self._pend_i,
            self._pend_t,
            k0,
            base,
            new_i,
            new_t,
            horizon,
            out_i,
            out_t,
        )
        if prepared is not None:
            self._sort_bufs.append(prepared.buffers)  # free for the next prepare
        if len(chunk):
            self._last_local = int(chunk["ts_local"][-1])
        # The carried rows become ev0: a view of the last chunk when they all lie in it (the
        # common case: chunks longer than the window), else one copy.
        # Whether the carried rows may hold a row flagged unsynced follows where they come
        # from (ctl[C_FLAGGED] lets the loop keep its quiet mode on clean data).
        if base == 0:
            ev0 = _EMPTY_EV
            flag0 = False
        elif k0 >= n0:
            ev0 = ev1[k0 - n0 :]
            flag0 = self._flag_ev1
        else:
            ev0 = self._gather(ev0[k0:], ev1)
            flag0 = self._flag_ev0 or self._flag_ev1
        self._flag_ev0, self._flag_ev1 = flag0, flagged
        ctl[L.C_FLAGGED] = int(flag0 or flagged) if ctl[L.C_FMASK] else 0
        self.ev0, self.ev1 = ev0, chunk
        self.xi, self.xt = out_i[:cut], out_t[:cut]
        self._pend_i, self._pend_t = out_i[cut:m].copy(), out_t[cut:m].copy()
        ctl[L.C_IX] = 0
        ctl[L.C_IL] = max(il - k0, 0)
        ctl[L.C_HORIZON] = horizon
        self.args = (ev0, chunk, self.xi, self.xt, self.ibuf, self.fbuf, self.dims, self.rng)

    def advance(self, now: int) -> None:
        """Promise that no row with ``ts_local < now`` will be fed: time moves on without data.

        Rows held back for the reorder window are released to the exchange up to
        ``now - W``, and timers, responses and requests due before that horizon become due,
        as if an empty chunk stamped ``now`` had arrived. A live driver calls it on the wall
        clock (or on event time, deterministically) so timers keep firing through a quiet
        feed; a later chunk must then start at ``ts_local >= now``. Does nothing once the
        data has ended or if ``now`` is not past the last time fed.
        """
        now = int(now)
        ctl = self.ctl
        if ctl[L.C_FINAL] or now <= self._last_local:
            return
        self._last_local = now
        self._merge(_EMPTY_EV, _EMPTY_I, _EMPTY_I, now - self.window, None)

    @property
    def horizon(self) -> int:
        """Nothing at or after this time is processed before more data (or time) arrives."""
        return int(self.ctl[L.C_HORIZON])

    @property
    def last_fed(self) -> int:
        """The latest ``ts_local`` fed or advanced to (``-(2**63 - 1)`` before any)."""
        return self._last_local

    def _gather(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a + b`` in one of two reused buffers (``a`` may be a view of the other).

        Only for chunks shorter than the reorder window (the live engine's small batches).
        """
        n = len(a) + len(b)
        self._gq = 1 - self._gq
        buf = self._gbufs[self._gq]
        if buf is None or len(buf) < n:
            buf = np.empty(2 * n, dtype=EVENT_DTYPE)
            self._gbufs[self._gq] = buf
        out = buf[:n]
        raw = out.view(np.uint8)
        na = len(a) * EVENT_DTYPE.itemsize
        raw[:na] = np.ascontiguousarray(a).view(np.uint8)
        raw[na:] = b.view(np.uint8)
        return out

    def _chunk_error(self, chunk: np.ndarray, code: int, bad: int) -> None:
        if code == 1:
            tl = chunk["ts_local"]
            before = self._last_local if bad == 0 else int(tl[bad - 1])
            raise EngineError(
                f"events out of ts_local order at row {bad} of a chunk "
                f"({int(tl[bad])} after {before})"
            )
        raise EngineError(
            f"event instrument index {int(chunk['instrument'][bad])} at row {bad} of a chunk is "
            f"outside the {len(self.instruments)} instruments of the run"
        )

    def row(self, index: int) -> np.void:
        """The event row at ``index`` of the rows the core works on (e.g. ``ctl[C_R_IDX]``)."""
        n0 = len(self.ev0)
        return self.ev0[index] if index < n0 else self.ev1[index - n0]

    def step(self) -> int:
        """Run until the next wake-up; returns its reason (``W_*`` in :mod:`._layout`)."""
        reason = _core.run_packed(*self.args) & 255
        if reason == L.W_ERROR:
            self.raise_error()
        return reason

    def raise_error(self) -> None:
        """Raise the engine failure the core reported (``W_ERROR``)."""
        code = int(self.ctl[L.C_ERROR])
        what = {
            L.ERR_RESP_RING_FULL: "the response ring overflowed (responses not drained)",
            L.ERR_ORDER_TABLE_FULL: "the order table is full",
        }.get(code, f"error code {code}")
        raise EngineError(f"simulation core failed: {what}")

    # ------------------------------------------------------------ driving
    #: The compiled step: ``step_kernel(*core.args)`` runs until the next wake-up and returns
    #: its :class:`~hftlab.vocab.WakeReason`, plus :data:`NEW_RESPONSES` when responses were
    #: delivered since the last drain. For drivers on a hot path (``engine.Session``); others
    #: call :meth:`step`.
    step_kernel = staticmethod(_core.run_packed)

    def subscribe(
        self, *, quotes: bool, trades: bool, book: bool, orders: int, status: bool = False
    ) -> None:
        """What wakes the strategy: best bid/ask changes, trades, any book change, order
        responses (``orders``: 0 never, 1 when a fill is delivered, 2 every response), and a
        local book going out of sync or back in (``status``, :data:`WakeReason.BOOK_STATUS`).

        Read at every step: a change applies from the next one. Unsubscribed local rows take
        the core's fast path (book update only).
        """
        if orders not in (0, 1, 2):
            raise EngineError(f"orders subscription must be 0, 1 or 2, got {orders!r}")
        ctl = self.ctl
        ctl[L.C_SUB_QUOTE] = int(bool(quotes))
        ctl[L.C_SUB_TRADE] = int(bool(trades))
        ctl[L.C_SUB_BOOK] = int(bool(book))
        ctl[L.C_SUB_ORDER] = int(orders)
        ctl[L.C_SUB_STATUS] = int(bool(status))

    def start(self, t0: int) -> None:
        """Set the local clock to ``t0`` (the strategy's ``now`` in ``on_start``)."""
        self.ctl[L.C_NOW] = int(t0)

    def flush_in_flight(self) -> None:
        """Count every response still travelling to the strategy as delivered (without
        updating the strategy's view): at the end of the data, so that the next
        :meth:`drain_responses` logs every fill the exchange made."""
        self.ctl[L.C_RS_DELIV] = self.ctl[L.C_RS_TAIL]

    @property
    def wake_instrument(self) -> int:
        """The instrument of the local row that caused the last quote/book/trade/status
        wake-up."""
        return self._cm[L.C_R_INST]

    @property
    def wake_also(self) -> int:
        """At a ``BOOK_STATUS`` wake-up: the ``QUOTE`` or ``BOOK`` wake-up the same row made
        too (the resync snapshot changed the book), to deliver after it; 0 if none."""
        return self._cm[L.C_R_NEXT]

    def book_synced(self, inst: int) -> bool:
        """Whether the strategy's book of ``inst`` is in sync (no gap in the depth data since
        its last snapshot, as far as the rows seen locally tell)."""
        return self._am[inst * L.AI_NF + L.AI_LUNS] != 1

    def exchange_synced(self, inst: int) -> bool:
        """Whether the exchange side's book of ``inst`` is in sync (else new orders and
        modifies on it are rejected ``book_unsynced``)."""
        return self._am[inst * L.AI_NF + L.AI_XUNS] == 0

    def sync_stats(self, inst: int) -> SyncStats:
        """How the depth data of ``inst`` kept its book in sync, at the exchange side (see
        :class:`SyncStats`); a stretch still open counts up to the end of the data (or the
        latest time fed)."""
        a = self.acci[inst]
        ns = int(a[L.AI_XUNS_NS])
        synced = int(a[L.AI_XUNS]) == 0
        if not synced:
            end = self.end_time
            end = self._last_local if end is None else end
            ns += max(0, end - int(a[L.AI_XUNS_T0]))
        return SyncStats(
            unsynced_rows=int(a[L.AI_XSKIP]),
            gaps=int(a[L.AI_XGAPS]),
            unsynced_ns=ns,
            synced=synced,
        )

    def wake_trade(self) -> tuple[int, int, int, int, int, int]:
        """The trade behind the last trade wake-up: ``(instrument, aggressor side, price
        ticks, qty lots, ts_exchange, ts_local)``."""
        r = self.row(self._cm[L.C_R_IDX])
        return (
            int(r["instrument"]),
            int(r["side"]),
            int(r["price"]),
            int(r["qty"]),
            int(r["ts_exchange"]),
            int(r["ts_local"]),
        )

    @property
    def end_time(self) -> int | None:
        """The last ``ts_local`` of the data once it has ended, else None."""
        t = int(self.ctl[L.C_END_T])
        return t if t > -L.INF else None

    @property
    def recording(self) -> bool:
        """True if state samples are recorded (``record_interval_ms > 0``)."""
        return int(self.ctl[L.C_REC_INT]) > 0

    def dropped_levels(self) -> dict[str, dict[str, int]]:
        """Book levels refused because a side's overflow was full (see :mod:`hftlab.book`), by
        instrument key: ``{"exchange_bids": n, "exchange_asks": n, "local_bids": n,
        "local_asks": n}``, only for instruments with any (empty: the books are complete).

        Each count is an insertion of a level below a side's window that found its
        ``SimConfig.book_capacity`` levels taken. Never silent: the backtest summary has them
        (``book_dropped``) and the session logs a warning.
        """
        out: dict[str, dict[str, int]] = {}
        local = int(self.ctl[L.C_LOCAL]) != 0
        for i, inst in enumerate(self.instruments):
            counts = {
                "exchange_bids": int(book_dropped(self.books[i], 1)),
                "exchange_asks": int(book_dropped(self.books[i], -1)),
                "local_bids": int(book_dropped(self.lbooks[i], 1)) if local else 0,
                "local_asks": int(book_dropped(self.lbooks[i], -1)) if local else 0,
            }
            if any(counts.values()):
                out[inst.key] = counts
        return out

    def account(self, inst: int) -> Account:
        """Exchange-side account of ``inst`` (the truth, not the strategy's view)."""
        a, f = self.acci[inst], self.accf[inst]
        return Account(
            position_lots=int(a[L.AI_POS]),
            fills=int(a[L.AI_NFILLS]),
            volume_lots=int(a[L.AI_VOL]),
            cash=float(f[L.AF_CASH]),
            fees=float(f[L.AF_FEES]),
            notional=float(f[L.AF_NOTIONAL]),
        )

    def data_times(self, inst: int) -> tuple[int, int]:
        """``(ts_exchange, ts_local)`` of the last row the strategy's view applied on
        ``inst`` (``-(2**63 - 1)`` both before any)."""
        a = self.acci
        return int(a[inst, L.AI_LTSX]), int(a[inst, L.AI_LTSL])

    @staticmethod
    def is_compiled() -> bool:
        """True if the compiled loop is in numba's on-disk cache (a run will not compile)."""
        try:
            cache_path = Path(_core.run._cache._cache_path)  # type: ignore[attr-defined]
            line = _core.run.py_func.__code__.co_firstlineno
        except AttributeError:  # pragma: no cover - numba internals moved
            return True
        # numba names the index after the function and its line; it must be newer than the
        # source.
        source = Path(_core.__file__).stat().st_mtime
        return any(p.stat().st_mtime >= source for p in cache_path.glob(f"_core.run-{line}.*.nbi"))

    # -------------------------------------------------------------- requests
    @property
    def now(self) -> int:
        return self._cm[L.C_NOW]

    def _push(
        self, kind: int, oid: int, inst: int, side: int, price: int, qty: int, tif: int
    ) -> None:
        cm = self._cm
        tail = cm[L.C_RQ_TAIL]
        if tail - cm[L.C_RQ_HEAD] >= _REQ_CAP:
            raise EngineError(f"more than {_REQ_CAP} requests in flight")
        # Python ints into a memoryview: several times cheaper than a numpy row assignment.
        rm, o = self._rm, (tail % _REQ_CAP) * L.R_NF
        rm[o + L.R_KIND] = kind
        rm[o + L.R_ID] = oid
        rm[o + L.R_INST] = inst
        rm[o + L.R_SIDE] = side
        rm[o + L.R_PRICE] = price
        rm[o + L.R_QTY] = qty
        rm[o + L.R_TIF] = tif
        rm[o + L.R_SENT] = cm[L.C_NOW]
        rm[o + L.R_ARRIVE] = L.INF
        cm[L.C_RQ_TAIL] = tail + 1

    def submit(self, inst: int, side: int, price: int, qty: int, tif: int) -> int:
        """Send a new order now (local time); returns its id."""
        cm = self._cm
        oid = cm[L.C_NEXT_ID]
        cm[L.C_NEXT_ID] = oid + 1
        self._push(L.RQ_NEW, oid, inst, side, price, qty, tif)
        return oid

    def cancel(self, oid: int, inst: int, side: int) -> None:
        self._push(L.RQ_CANCEL, oid, inst, side, 0, 0, 0)

    def modify(self, oid: int, inst: int, side: int, price: int, qty: int) -> None:
        """Change price and/or total quantity (priority lost if the price changes or size grows)."""
        self._push(L.RQ_MODIFY, oid, inst, side, price, qty, 0)

    def set_timer(self, at: int) -> None:
        self._cm[L.C_TIMER] = max(int(at), self._cm[L.C_NOW])

    # -------------------------------------------------------------- outputs
    def drain_responses(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the responses delivered since the last drain (int and float columns).

        Runs at most wake-ups of a quoting strategy: scalars go through the memoryview.
        """
        cm = self._cm
        lo, hi = cm[L.C_RS_DRAIN], cm[L.C_RS_DELIV]
        cm[L.C_RS_DRAIN] = hi
        if lo == hi:
            return _EMPTY_RI, _EMPTY_RF
        a, b = lo % _RESP_CAP, hi % _RESP_CAP
        if a < b:  # the usual case: one contiguous stretch of the ring
            return self.resps[a:b].copy(), self.respf[a:b].copy()
        idx = np.arange(lo, hi) % _RESP_CAP
        return self.resps[idx], self.respf[idx]

    def drain_states(self) -> tuple[np.ndarray, np.ndarray]:
        k = int(self.ctl[L.C_SL_N])
        self.ctl[L.C_SL_N] = 0
        return self.slog_ts[:k].copy(), self.slog[:k].copy()

    def record_now(self, t: int) -> None:
        """Append one state sample at ``t`` (the final sample of a run)."""
        if self.ctl[L.C_SL_N] + len(self.instruments) > _SLOG_CAP:
            raise EngineError("state log full: drain before recording")
        _core._record(
            t,
            self.books,
            self.ords,
            self.acci,
            self.accf,
            self.ip,
            self.slog_ts,
            self.slog,
            self.ctl,
        )

    @property
    def events_processed(self) -> int:
        return int(self.ctl[L.C_EVENTS])

    def position_lots(self, inst: int, *, local: bool = True) -> int:
        return self._am[inst * L.AI_NF + (L.AI_LPOS if local else L.AI_POS)]


def _views(buf: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    out, o = [], 0
    for sh in shapes:
        k = math.prod(sh)
        out.append(buf[o : o + k].reshape(sh))
        o += k
    return out


class SyncStats(NamedTuple):
    """Book sync of one instrument over a run (see :meth:`SimCore.sync_stats`)."""

    unsynced_rows: int  # depth rows not applied: flagged FLAG_UNSYNCED (stale ones included)
    gaps: int  # times a book holding levels went out of sync (the wait for a first snapshot
    #            is not one)
    unsynced_ns: int  # exchange time spent out of sync, the wait for a first snapshot included
    synced: bool  # in sync at the end


class Account(NamedTuple):
    """One instrument's exchange-side account (see :meth:`SimCore.account`)."""

    position_lots: int
    fills: int
    volume_lots: int  # traded lots, both sides
    cash: float  # quote currency (the coin for inverse contracts), fees included
    fees: float
    notional: float  # traded notional, quote currency


class ResponseField:
    """Column offsets of a response row, for code that reads rows one at a time (the
    strategy Context at every wake-up): ``ri, rf = core.drain_responses()``, then
    ``ri[k, ResponseField.ORDER_ID]`` … and ``rf[k, ResponseField.FEE]``. Prices are ticks,
    quantities lots; codes are :mod:`hftlab.vocab` enums. Whole columns by name:
    :func:`response_columns`."""

    TS_EXCHANGE: Final = L.E_TS_EXCH
    TS_LOCAL: Final = L.E_TS_LOCAL
    ORDER_ID: Final = L.E_ID
    INSTRUMENT: Final = L.E_INST
    SIDE: Final = L.E_SIDE
    PRICE: Final = L.E_PRICE
    QTY: Final = L.E_QTY
    FILLED: Final = L.E_FILLED
    STATUS: Final = L.E_STATUS  # OrderStatus
    EVENT: Final = L.E_EVENT  # OrderEvent
    LAST_QTY: Final = L.E_LAST_QTY
    LAST_PRICE: Final = L.E_LAST_PRICE
    LIQUIDITY: Final = L.E_LIQ  # Liquidity
    REASON: Final = L.E_REASON  # RejectReason
    # float part
    FEE: Final = L.EF_FEE
    CASH_DELTA: Final = L.EF_CASH_DELTA  # signed change of cash from a fill, fee excluded


_RESPONSE_INT_COLUMNS: Final = (
    ("ts_exchange", L.E_TS_EXCH),
    ("ts_local", L.E_TS_LOCAL),
    ("order_id", L.E_ID),
    ("instrument", L.E_INST),
    ("side", L.E_SIDE),
    ("price_ticks", L.E_PRICE),
    ("qty_lots", L.E_QTY),
    ("filled_lots", L.E_FILLED),
    ("status", L.E_STATUS),
    ("event", L.E_EVENT),
    ("last_qty_lots", L.E_LAST_QTY),
    ("last_price_ticks", L.E_LAST_PRICE),
    ("liquidity", L.E_LIQ),
    ("reason", L.E_REASON),
)
_STATE_COLUMNS: Final = (
    ("instrument", L.S_INST),
    ("mid", L.S_MID),
    ("position", L.S_POS),
    ("cash", L.S_CASH),
    ("fees", L.S_FEES),
    ("equity", L.S_EQUITY),
    ("bid", L.S_BID),  # our best resting bid (price), NaN if none
    ("ask", L.S_ASK),
    ("bid_qty", L.S_BID_QTY),  # our open size at that price
    ("ask_qty", L.S_ASK_QTY),
    ("notional", L.S_NOTIONAL),
)


def empty_responses() -> tuple[np.ndarray, np.ndarray]:
    """A block of no responses (the shapes :meth:`SimCore.drain_responses` returns)."""
    return np.zeros((0, L.E_NF), np.int64), np.zeros((0, L.EF_NF), np.float64)


def response_columns(ri: np.ndarray, rf: np.ndarray) -> dict[str, np.ndarray]:
    """Response rows (as drained) as named columns (views): ``ts_exchange``, ``ts_local``,
    ``order_id``, ``instrument``, ``side``, ``price_ticks``, ``qty_lots``, ``filled_lots``,
    ``status``, ``event``, ``last_qty_lots``, ``last_price_ticks``, ``liquidity``,
    ``reason`` (int64) and ``fee``, ``cash_delta`` (float64)."""
    cols = {name: ri[:, k] for name, k in _RESPONSE_INT_COLUMNS}
    cols["fee"] = rf[:, L.EF_FEE]
    cols["cash_delta"] = rf[:, L.EF_CASH_DELTA]
    return cols


def state_columns(states: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """State samples (as drained by :meth:`SimCore.drain_states`) joined, as named columns:
    ``ts`` (int64), ``instrument`` (int64) and the float64 ``mid``, ``position``, ``cash``,
    ``fees``, ``equity``, ``bid``, ``ask``, ``bid_qty``, ``ask_qty``, ``notional``."""
    ts = np.concatenate([t for t, _ in states]) if states else np.zeros(0, np.int64)
    st = np.concatenate([s for _, s in states]) if states else np.zeros((0, L.S_NF))
    cols: dict[str, np.ndarray] = {"ts": ts}
    for name, k in _STATE_COLUMNS:
        cols[name] = st[:, k]
    cols["instrument"] = cols["instrument"].astype(np.int64)
    return cols


#: Added to the reason :attr:`SimCore.step_kernel` returns when responses were delivered.
NEW_RESPONSES = L.W_NEW_RESPONSES


class PreparedChunk(NamedTuple):
    """A chunk checked and sorted into exchange order by :meth:`SimCore.prepare`."""

    chunk: np.ndarray
    code: int  # 0 valid, else the check that failed (see _feed.sort_chunk) at `row`
    row: int
    buffers: tuple[np.ndarray, ...]  # (order, times, scratch, counts); order/times sorted
    unsynced: bool = False  # some row is flagged FLAG_UNSYNCED (a gap in the depth data)


_EMPTY_EV = np.zeros(0, dtype=EVENT_DTYPE)
_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_RI = np.zeros((0, L.E_NF), dtype=np.int64)
_EMPTY_RF = np.zeros((0, L.EF_NF), dtype=np.float64)
