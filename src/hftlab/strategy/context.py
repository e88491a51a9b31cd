"""The context a strategy acts through: time, books, position, orders, timers.

Everything here is the strategy's *local* view: books as of the data received by ``now``
(``ts_local``), orders and position as of the responses received. Requests are sent at
``now`` and reach the exchange after the entry latency.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

from hftlab.book import BOOK_BEST_KEY as _H_KEY
from hftlab.book import BOOK_BEST_QTY as _H_QTY
from hftlab.book import BOOK_LEVELS as _H_N
from hftlab.book import book_depth
from hftlab.events import Instrument
from hftlab.sim.core import ResponseField as RF
from hftlab.sim.core import SimCore
from hftlab.strategy import TIF_CODES, Fill, Order, OrderStatus
from hftlab.vocab import Liquidity, OrderEvent, RequestKind

log = logging.getLogger("hftlab.strategy")

_STATUS = tuple(sorted(OrderStatus))  # by code (0, 1, ... in order)
assert [int(s) for s in _STATUS] == list(range(len(_STATUS)))
assert (_H_N, _H_KEY, _H_QTY) == (0, 1, 2)  # BookView reads the bid header at these literals

_EPS = 1e-9  # tolerance (in ticks/lots) for prices that are on the grid up to float error

# Offsets and codes as module globals: read at every wake-up, a global is cheaper than X.Y.
_C_NOW = SimCore.NOW
_C_TIMER = SimCore.TIMER
_AI_NF = SimCore.ACCOUNT_STRIDE
_AI_LPOS = SimCore.LOCAL_POSITION
_RQ_NEW = int(RequestKind.NEW)
_RQ_CANCEL = int(RequestKind.CANCEL)
_RQ_MODIFY = int(RequestKind.MODIFY)
_E_ID = RF.ORDER_ID
_E_EVENT = RF.EVENT
_E_TS_LOCAL = RF.TS_LOCAL
_E_TS_EXCH = RF.TS_EXCHANGE
_E_STATUS = RF.STATUS
_E_PRICE = RF.PRICE
_E_QTY = RF.QTY
_E_FILLED = RF.FILLED
_E_REASON = RF.REASON
_E_LAST_PRICE = RF.LAST_PRICE
_E_LAST_QTY = RF.LAST_QTY
_E_LIQ = RF.LIQUIDITY
_EF_FEE = RF.FEE
_EV_FILL = int(OrderEvent.FILL)
_LIQ_MAKER = int(Liquidity.MAKER)
# Responses that leave the order as it is.
_NO_STATE = (int(OrderEvent.CANCEL_REJECTED), int(OrderEvent.MODIFY_REJECTED))
_ST_PARTIAL = int(OrderStatus.PARTIALLY_FILLED)  # statuses above it are final

#: A request as logged when sent: ``(now, order id, instrument, RequestKind, side, price
#: ticks, qty lots, responses handled before it)``; the last field orders requests among the
#: responses in the run folder.
RequestRow = tuple[int, int, int, int, int, int, int, int]


class BookView:
    """Read-only view of one instrument's local book, in prices (floats) or ticks.

    Top-of-book reads go through a flat ``memoryview`` of the book array (Python ints, ~50 ns
    each) rather than compiled calls (~0.3 us of dispatch each): they run at every wake-up.
    Layout: see :mod:`hftlab.book` (each side's header holds its level count, best key and best
    quantity, the empty prices when empty; asks are keyed by minus the price).
    """

    __slots__ = ("_a", "_ak", "_aq", "_arr", "_lot", "_mv", "_sm", "_so", "_tick", "instrument")

    def __init__(
        self,
        arr: np.ndarray,
        instrument: Instrument,
        sync: tuple[memoryview, int] | None = None,
    ) -> None:
        """``sync``: where the core keeps this book's sync state (a flat int memoryview and the
        offset, :attr:`SimCore.LOCAL_SYNC`); None: always in sync."""
        self._arr = arr
        self._sm, self._so = sync if sync is not None else (None, 0)
        self.instrument = instrument
        tn, td = instrument.tick_ratio
        ln, ld = instrument.lot_ratio
        self._tick = (tn, td)
        self._lot = (ln, ld)
        side = arr.shape[-1]
        self._mv = memoryview(arr.reshape(-1))  # a view: follows the core's updates
        # The bid header is read at the literal offsets 0 (levels), 1 (key), 2 (qty): a
        # constant is a cheaper operand than an attribute; the ask header is a side further.
        self._a = side + _H_N
        self._ak = side + _H_KEY
        self._aq = side + _H_QTY

    def _p(self, ticks: float) -> float:
        return ticks * self._tick[0] / self._tick[1]

    def _q(self, lots: int) -> float:
        return lots * self._lot[0] / self._lot[1]

    @property
    def synced(self) -> bool:
        """False while the book is out of sync with the venue: the depth data has a gap (rows
        flagged unsynced; also before a capture's first snapshot) and the snapshot that
        rebuilds it has not arrived. The book then holds its last synced levels, which the
        venue's have drifted from; new orders and modifies on the instrument are rejected
        ``book_unsynced`` (``docs/sim-core.md``). True otherwise, also before any data."""
        sm = self._sm
        return sm is None or sm[self._so] != 1

    @property
    def best_bid_ticks(self) -> tuple[int, int]:
        """``(price ticks, qty lots)``; ``(EMPTY_BID, 0)`` if no bids."""
        mv = self._mv
        return (mv[1], mv[2])  # an empty side's header holds exactly that

    @property
    def best_ask_ticks(self) -> tuple[int, int]:
        """``(price ticks, qty lots)``; ``(EMPTY_ASK, 0)`` if no asks."""
        mv = self._mv
        return (-mv[self._ak], mv[self._aq])

    @property
    def touch_ticks(self) -> tuple[int, int] | None:
        """``(best bid, best ask)`` prices in ticks, or None unless both sides have quotes.

        One read for what ``has_both_sides``, ``best_bid_ticks`` and ``best_ask_ticks`` give
        (a strategy woken often reads the touch at every wake-up).
        """
        mv = self._mv
        return (mv[1], -mv[self._ak]) if mv[0] and mv[self._a] else None

    @property
    def has_both_sides(self) -> bool:
        return self._mv[0] > 0 and self._mv[self._a] > 0

    @property
    def best_bid(self) -> float:
        """Best bid price; NaN if no bids."""
        mv = self._mv
        return self._p(mv[1]) if mv[0] else math.nan

    @property
    def best_ask(self) -> float:
        mv = self._mv
        return self._p(-mv[self._ak]) if mv[self._a] else math.nan

    @property
    def bid_qty(self) -> float:
        return self._q(self._mv[2])  # 0 when empty

    @property
    def ask_qty(self) -> float:
        return self._q(self._mv[self._aq])

    @property
    def mid(self) -> float:
        return self._p(self.mid_ticks)

    @property
    def spread_ticks(self) -> int:
        mv = self._mv
        return -mv[self._ak] - mv[1] if mv[0] and mv[self._a] else 0

    @property
    def micro_price(self) -> float:
        """Size-weighted mid (see :func:`hftlab.book.book_micro_price`)."""
        return self._p(self.micro_price_ticks)

    @property
    def micro_price_ticks(self) -> float:
        """``(bid*ask_qty + ask*bid_qty) / (bid_qty + ask_qty)``, ticks; NaN if a side is empty."""
        mv = self._mv
        if not (mv[0] and mv[self._a]):
            return math.nan
        bid, ask = mv[1], -mv[self._ak]
        bq, aq = mv[2], mv[self._aq]
        if bq + aq <= 0:
            return 0.5 * (bid + ask)
        return (bid * aq + ask * bq) / (bq + aq)

    @property
    def mid_ticks(self) -> float:
        """Mid in ticks; NaN if a side is empty."""
        mv = self._mv
        return 0.5 * (mv[1] - mv[self._ak]) if mv[0] and mv[self._a] else math.nan

    @property
    def imbalance(self) -> float:
        """``(bid_qty - ask_qty) / (bid_qty + ask_qty)`` at the touch; NaN if a side is empty."""
        mv = self._mv
        if not (mv[0] and mv[self._a]):
            return math.nan
        bq, aq = mv[2], mv[self._aq]
        return (bq - aq) / (bq + aq)

    def depth(self, side: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Best ``n`` levels of ``side`` (+1 bids, -1 asks) as (prices, qtys), best first."""
        pr = np.empty(n, dtype=np.int64)
        qt = np.empty(n, dtype=np.int64)
        m = book_depth(self._arr, side, pr, qt)
        return (
            pr[:m] * self._tick[0] / self._tick[1],
            qt[:m] * self._lot[0] / self._lot[1],
        )


class OrderGate(Protocol):
    """Pre-trade checks a wrapper (the risk manager) installs with :meth:`Context.set_order_gate`.

    ``allow_new`` / ``allow_modify`` return 0 to let the request go (and then account for it as
    sent) or a nonzero reject reason to refuse it locally; a refused request is never sent and
    is handed to ``refused``. ``sent_cancel`` sees every cancel (cancels are never refused).
    """

    def allow_new(self, instrument: int, side: int, ticks: int, lots: int, tif: int) -> int: ...

    def allow_modify(self, order: Order, ticks: int, lots: int) -> int: ...

    def sent_cancel(self, order: Order) -> None: ...

    def refused(self, order: Order) -> None: ...


class Subscriptions:
    """What a strategy declared it wants to be woken for, per instrument (see
    :meth:`Context.subscribe_quotes` and friends).

    ``quotes``, ``trades``, ``book``, ``book_status``: the instrument indices subscribed.
    ``orders``: 0 no order callbacks, 1 fills only (``on_fill``), 2 every order event
    (``on_order_update`` and ``on_fill``). Data the engine can route on (bus topics), not
    inferred from the class.
    """

    __slots__ = ("book", "book_status", "orders", "quotes", "trades")

    def __init__(self) -> None:
        self.quotes: set[int] = set()
        self.trades: set[int] = set()
        self.book: set[int] = set()
        self.book_status: set[int] = set()
        self.orders = 0

    def __repr__(self) -> str:
        return (
            f"Subscriptions(quotes={sorted(self.quotes)}, trades={sorted(self.trades)}, "
            f"book={sorted(self.book)}, book_status={sorted(self.book_status)}, "
            f"orders={self.orders})"
        )


class Context:
    """What a strategy sees and does. Created by the engine; one per strategy per run."""

    def __init__(
        self,
        core: SimCore,
        on_error: Callable[[str], None] | None = None,
        *,
        on_request: Callable[[RequestRow], None] | None = None,
    ) -> None:
        """``on_request``: where each request is logged when sent (a
        :class:`~hftlab.engine.Sink`'s ``on_request``); None keeps them in :attr:`sent`."""
        self._core = core
        # Flat views of the core's control block and accounts (Python ints, ~25 ns a read)
        # and its modify, bound once: these run at every wake-up or request.
        self._cm = core.control
        self._am = core.accounts
        self._core_modify = core.modify
        self.instruments: list[Instrument] = core.instruments
        stride, sync = core.ACCOUNT_STRIDE, core.LOCAL_SYNC
        self._books = [
            BookView(core.local_book(i), inst, (self._am, i * stride + sync))
            for i, inst in enumerate(self.instruments)
        ]
        self._ticks = [inst.tick_ratio for inst in self.instruments]
        self._lots = [inst.lot_ratio for inst in self.instruments]
        self.orders: dict[int, Order] = {}  # open or pending, by id
        # (time, seq, period or 0, internal callback or None for the strategy's on_timer)
        self._timers: list[tuple[int, int, int, Callable[[Context], None] | None]] = []
        self._timer_seq = 0
        self._gate: OrderGate | None = None
        self._refused_ids = 0  # locally refused orders get ids -1, -2, ...
        self.log = log
        #: The requests sent, when no ``on_request`` was given (else that sink has them).
        self.sent: list[RequestRow] = []
        self._log_request = self.sent.append if on_request is None else on_request
        self._n_resp = 0
        #: What the strategy subscribed to (None: nothing declared, the engine subscribes it
        #: to the callbacks its class overrides).
        self.subscriptions: Subscriptions | None = None

    # ------------------------------------------------------------------ time, data
    @property
    def now(self) -> int:
        """Local time, ns since the epoch."""
        return self._cm[_C_NOW]

    def book(self, instrument: int = 0) -> BookView:
        return self._books[instrument]

    def instrument_index(self, name: str) -> int:
        """Index of an instrument by ``SYMBOL`` or ``VENUE/SYMBOL``."""
        for i, inst in enumerate(self.instruments):
            if name in (inst.symbol, inst.key):
                return i
        raise KeyError(f"no instrument {name!r} in this run")

    def data_times(self, instrument: int = 0) -> tuple[int, int]:
        """``(ts_exchange, ts_local)`` of the last market event seen on ``instrument``.

        Both are ``-(2**63 - 1)`` before any event. ``now - ts_local`` is how long the feed has
        been silent; ``ts_local - ts_exchange`` is the feed latency of the last event.
        """
        return self._core.data_times(instrument)

    def position(self, instrument: int = 0) -> float:
        """Position in instrument units (base, or contracts) from the fills received."""
        n, d = self._lots[instrument]
        return self._am[instrument * _AI_NF + _AI_LPOS] * n / d

    def position_lots(self, instrument: int = 0) -> int:
        """Position in lots (exact) from the fills received."""
        return self._am[instrument * _AI_NF + _AI_LPOS]

    def open_orders(self, instrument: int | None = None) -> list[Order]:
        """Orders sent and not known to be closed, oldest first."""
        if instrument is None:
            return list(self.orders.values())
        return [o for o in self.orders.values() if o.instrument == instrument]

    # ------------------------------------------------------------------ subscriptions
    def _subs(self) -> Subscriptions:
        if self.subscriptions is None:
            self.subscriptions = Subscriptions()
        return self.subscriptions

    def _indices(self, instrument: int | str | None) -> list[int]:
        if instrument is None:
            return list(range(len(self.instruments)))
        if isinstance(instrument, str):
            return [self.instrument_index(instrument)]
        if not 0 <= instrument < len(self.instruments):
            raise ValueError(
                f"instrument {instrument} is not in this run "
                f"({len(self.instruments)} instrument(s))"
            )
        return [int(instrument)]

    def declare_subscriptions(self) -> None:
        """Wake the strategy for exactly what it subscribes to (from ``on_start``): with no
        ``subscribe_*`` call after this, only its timers. Every ``subscribe_*`` call implies
        it; without any, the engine subscribes the strategy to the callbacks its class
        overrides."""
        self._subs()

    def subscribe_quotes(self, instrument: int | str | None = None) -> None:
        """Call ``on_quote`` when the local best bid/ask of ``instrument`` changes (index,
        ``SYMBOL`` or ``VENUE/SYMBOL``; None: every instrument).

        Declaring any subscription in ``on_start`` replaces the default (the callbacks the
        class overrides) with exactly what is declared: a strategy that subscribes to trades
        of one instrument is woken for nothing else but its timers.
        """
        self._subs().quotes.update(self._indices(instrument))

    def subscribe_trades(self, instrument: int | str | None = None) -> None:
        """Call ``on_trade`` for the market trades of ``instrument`` (None: every one)."""
        self._subs().trades.update(self._indices(instrument))

    def subscribe_book(self, instrument: int | str | None = None) -> None:
        """Call ``on_book`` at every change of ``instrument``'s local book (None: every one)."""
        self._subs().book.update(self._indices(instrument))

    def subscribe_book_status(self, instrument: int | str | None = None) -> None:
        """Call ``on_book_status`` when ``instrument``'s local book goes out of sync (a gap
        in the depth data) and when it is back in sync (None: every instrument)."""
        self._subs().book_status.update(self._indices(instrument))

    def subscribe_orders(self, *, fills_only: bool = False) -> None:
        """Call ``on_order_update`` at every order event and ``on_fill`` at fills, or with
        ``fills_only`` just ``on_fill``."""
        subs = self._subs()
        subs.orders = max(subs.orders, 1 if fills_only else 2)

    # ------------------------------------------------------------------ orders
    def to_ticks(self, price: float, instrument: int = 0, *, side: int = 0) -> int:
        """Price to ticks: buys round down, sells up (never more aggressive than asked)."""
        n, d = self._ticks[instrument]
        x = price * d / n
        if side > 0:
            return math.floor(x + _EPS)
        if side < 0:
            return math.ceil(x - _EPS)
        return round(x)

    def from_ticks(self, ticks: int, instrument: int = 0) -> float:
        """Ticks to a price (exact for on-grid prices)."""
        n, d = self._ticks[instrument]
        return ticks * n / d

    def to_lots(self, qty: float, instrument: int = 0) -> int:
        n, d = self._lots[instrument]
        return round(qty * d / n)

    def buy(
        self, qty: float, price: float | None = None, *, instrument: int = 0, tif: str = "gtc"
    ) -> Order:
        """Send a buy: limit at ``price`` (``tif`` gtc, post_only or ioc) or market if None."""
        return self._new(1, qty, price, instrument, tif)

    def sell(
        self, qty: float, price: float | None = None, *, instrument: int = 0, tif: str = "gtc"
    ) -> Order:
        """Send a sell; see :meth:`buy`."""
        return self._new(-1, qty, price, instrument, tif)

    def _new(self, side: int, qty: float, price: float | None, inst: int, tif: str) -> Order:
        if price is None:
            tif = "market"
        code = TIF_CODES.get(tif)
        if code is None:
            raise ValueError(f"unknown tif {tif!r} (gtc, post_only, ioc, market)")
        lots = self.to_lots(qty, inst)
        if lots <= 0:
            raise ValueError(f"order size {qty!r} is below one lot")
        ticks = 0 if price is None else self.to_ticks(price, inst, side=side)
        gate = self._gate
        if gate is not None:
            reason = gate.allow_new(inst, side, ticks, lots, code)
            if reason:
                self._refused_ids -= 1
                order = Order(
                    self._refused_ids,
                    inst,
                    side,
                    ticks,
                    lots,
                    tif,
                    self.now,
                    self._ticks[inst],
                    self._lots[inst],
                )
                order.status = OrderStatus.REJECTED
                order.reject_reason = reason
                gate.refused(order)
                return order
        return self._submit(side, inst, ticks, lots, code, tif)

    def _submit(self, side: int, inst: int, ticks: int, lots: int, code: int, tif: str) -> Order:
        """Send a new order, bypassing the order gate (the gate's own orders use this)."""
        oid = self._core.submit(inst, side, ticks, lots, code)
        now = self._cm[_C_NOW]
        order = Order(oid, inst, side, ticks, lots, tif, now, self._ticks[inst], self._lots[inst])
        self.orders[oid] = order
        self._log_request((now, oid, inst, _RQ_NEW, side, ticks, lots, self._n_resp))
        return order

    def cancel(self, order: Order | int) -> None:
        """Ask to cancel; the order stays open until the exchange confirms (it may fill first)."""
        o = self.orders.get(order if isinstance(order, int) else order.id)
        if o is None:
            return  # already known closed
        if self._gate is not None:
            self._gate.sent_cancel(o)
        self._core.cancel(o.id, o.instrument, o.side)
        self._log_request(
            (self._cm[_C_NOW], o.id, o.instrument, _RQ_CANCEL, o.side, 0, 0, self._n_resp)
        )

    def cancel_all(self, instrument: int | None = None) -> None:
        for o in self.open_orders(instrument):
            self.cancel(o)

    def modify(self, order: Order, *, price: float | None = None, qty: float | None = None) -> None:
        """Change price and/or total size. A new price or a larger size loses queue priority."""
        inst = order.instrument
        self.modify_ticks(
            order,
            None if price is None else self.to_ticks(price, inst, side=order.side),
            None if qty is None else self.to_lots(qty, inst),
        )

    def modify_ticks(self, order: Order, ticks: int | None = None, lots: int | None = None) -> None:
        """:meth:`modify` in exact units: no float conversion or rounding.

        For strategies that compute their prices in ticks (e.g. from ``book.best_bid_ticks``):
        ``ctx.modify_ticks(order, t)`` sends what ``ctx.modify(order, price=ctx.from_ticks(t))``
        sends, without the round trip through a float price.

        Parameters
        ----------
        order
            An order of this context (open, or pending).
        ticks
            The new price in ticks (an int); None keeps the order's price.
        lots
            The new total size in lots (an int); None keeps the order's size.
        """
        if ticks is None:
            ticks = order.price_ticks
        if lots is None:
            lots = order.qty_lots
        gate = self._gate
        if gate is not None:
            reason = gate.allow_modify(order, ticks, lots)
            if reason:
                order.reject_reason = reason
                gate.refused(order)
                return
        oid, inst, side = order.id, order.instrument, order.side
        self._core_modify(oid, inst, side, ticks, lots)
        self._log_request(
            (self._cm[_C_NOW], oid, inst, _RQ_MODIFY, side, ticks, lots, self._n_resp)
        )

    def close(self) -> None:
        """Driver API (:meth:`Session.finish <hftlab.engine.Session.finish>`): the run is over.
        Drops the order gate and the timers, whose callbacks point back at the wrappers (the
        risk manager), so no reference cycle keeps the core's buffers alive after the run."""
        self._gate = None
        self._timers.clear()

    def set_order_gate(self, gate: OrderGate | None) -> None:
        """Install pre-trade checks on ``buy``/``sell``/``modify`` (see :class:`OrderGate`)."""
        self._gate = gate

    # ------------------------------------------------------------------ timers
    def set_timer(self, at: int) -> None:
        """Wake ``on_timer`` once at local time ``at`` (ns)."""
        self._add_timer(max(int(at), self.now), 0)

    def every(self, interval: int, *, start: int | None = None) -> None:
        """Wake ``on_timer`` every ``interval`` ns of simulated time (from ``start``)."""
        if interval <= 0:
            raise ValueError("timer interval must be positive")
        first = self.now + interval if start is None else max(int(start), self.now)
        self._add_timer(first, int(interval))

    def internal_timer(self, interval: int, callback: Callable[[Context], None]) -> None:
        """Call ``callback(ctx)`` every ``interval`` ns, without waking the strategy's ``on_timer``.

        For wrappers (the risk manager's periodic checks). Internal callbacks due at a wake-up
        run before the strategy's timers due at the same wake-up.
        """
        if interval <= 0:
            raise ValueError("timer interval must be positive")
        self._add_timer(self.now + int(interval), int(interval), callback)

    def _add_timer(
        self, at: int, period: int, callback: Callable[[Context], None] | None = None
    ) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (at, self._timer_seq, period, callback))
        self._core.set_timer(self._timers[0][0])

    def due_timers(self) -> int:
        """Driver API (called by :class:`~hftlab.engine.Session` at a timer wake-up, not by
        strategies). Pop the timers due now, reschedule periodic ones, run internal
        callbacks; return how many of the strategy's timers fired."""
        cm = self._cm
        now = cm[_C_NOW]
        timers = self._timers
        if len(timers) == 1:  # the common case, one periodic strategy timer: no heap work
            at, seq, period, callback = timers[0]
            if period and callback is None and at <= now:
                nxt = at + period
                if nxt <= now:
                    nxt = now + period - (now - at) % period
                timers[0] = (nxt, seq, period, None)
                cm[_C_TIMER] = nxt
                return 1
        fired = 0
        while self._timers and self._timers[0][0] <= now:
            at, _, period, callback = heapq.heappop(self._timers)
            if period:
                nxt = at + period
                if nxt <= now:  # catch up without firing a burst after a gap in the data
                    nxt = now + period - (now - at) % period
                self._timer_seq += 1
                heapq.heappush(self._timers, (nxt, self._timer_seq, period, callback))
            if callback is None:
                fired += 1
            else:
                callback(self)
        if self._timers:
            self._core.set_timer(self._timers[0][0])
        return fired

    # ------------------------------------------------------------------ responses
    def apply_responses(
        self, ri: np.ndarray, rf: np.ndarray, on_fill: Callable | None, on_update: Callable | None
    ) -> None:
        """Driver API (called by :class:`~hftlab.engine.Session`, not by strategies): update
        the local orders from delivered responses (as drained from the core) and run the
        callbacks (``on_fill(ctx, fill)``, ``on_update(ctx, order)``; None skips one)."""
        # Python ints from one tolist() are much cheaper to read than numpy scalars.
        rows = ri.tolist()
        orders = self.orders
        n0 = n_resp = self._n_resp
        quiet = on_fill is None and on_update is None
        if quiet:
            # Nothing can observe the count mid-batch (only requests sent from a callback log
            # it): set it once.
            self._n_resp = n0 + len(rows)
        for row in rows:
            n_resp += 1
            oid = row[_E_ID]
            order = orders.get(oid)
            if order is None:
                continue  # e.g. a cancel rejected after the fill closed the order
            evk = row[_E_EVENT]
            ts_local = row[_E_TS_LOCAL]
            order.ts_update = ts_local
            if evk in _NO_STATE:
                order.reject_reason = row[_E_REASON]
                closed = order.status > _ST_PARTIAL
            else:
                st = row[_E_STATUS]
                order.status = _STATUS[st]
                order.price_ticks = row[_E_PRICE]
                order.qty_lots = row[_E_QTY]
                order.filled_lots = row[_E_FILLED]
                # A rejection, or an order the venue cancelled (a post-only modify that would
                # have taken, ...): the reason says why.
                if row[_E_REASON]:
                    order.reject_reason = row[_E_REASON]
                closed = st > _ST_PARTIAL
            if closed:
                del orders[oid]
            if quiet:
                continue
            self._n_resp = n_resp  # requests sent from the callbacks log it
            if evk == _EV_FILL and on_fill is not None:
                inst = order.instrument
                tn, td = self._ticks[inst]
                ln, ld = self._lots[inst]
                on_fill(
                    self,
                    Fill(
                        oid,
                        inst,
                        order.side,
                        row[_E_LAST_PRICE] * tn / td,
                        row[_E_LAST_QTY] * ln / ld,
                        float(rf[n_resp - n0 - 1, _EF_FEE]),
                        row[_E_LIQ] == _LIQ_MAKER,
                        row[_E_TS_EXCH],
                        ts_local,
                    ),
                )
            if on_update is not None:
                on_update(self, order)
        self._n_resp = n_resp
