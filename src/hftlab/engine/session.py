"""``Session``: one strategy on one simulated exchange, whoever drives it.

The backtest feeds a session chunks from the store; the live engine feeds it bus batches and
moves it on with :meth:`Session.advance` on the wall clock (or on event time). The dispatch of
core wake-ups to strategy callbacks lives here and nowhere else, so the two drivers cannot
drift apart (NautilusTrader's sandbox copied its live dispatch "from the main backtest loop";
we own that loop once).

>>> session = Session(instruments, MyStrategy(), SimConfig())        # doctest: +SKIP
>>> session.start(t0)                                                 # doctest: +SKIP
>>> for chunk in chunks:                                              # doctest: +SKIP
...     session.feed(chunk)
...     session.advance(wall_clock_ns())       # timers fire through a quiet feed
>>> session.finish()                                                  # doctest: +SKIP
>>> result = session.sink.result(session, wall_seconds=1.0)           # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from hftlab.engine.sink import RunRecorder, Sink
from hftlab.errors import ConfigError, EngineError, HftlabError
from hftlab.events import Instrument
from hftlab.risk import RiskConfig, RiskManager
from hftlab.sim.config import SimConfig
from hftlab.sim.core import NEW_RESPONSES, PreparedChunk, SimCore
from hftlab.strategy import Strategy, Trade
from hftlab.strategy.context import Context
from hftlab.vocab import WakeReason

__all__ = ["Session"]

log = logging.getLogger(__name__)

# Read at every wake-up: module globals are cheaper than WakeReason.X.
_W_NEED_DATA = int(WakeReason.NEED_DATA)
_W_END = int(WakeReason.END)
_W_TIMER = int(WakeReason.TIMER)
_W_QUOTE = int(WakeReason.QUOTE)
_W_TRADE = int(WakeReason.TRADE)
_W_BOOK = int(WakeReason.BOOK)
_W_BOOK_STATUS = int(WakeReason.BOOK_STATUS)
_W_LOG_FULL = int(WakeReason.LOG_FULL)
_W_ERROR = int(WakeReason.ERROR)
_NEW_RESPONSES = NEW_RESPONSES


def _overrides(strategy: Strategy, name: str) -> bool:
    """Whether to deliver callback ``name``: what the class overrides, or what a wrapper (the
    risk manager) says through ``wants_callback(name)``."""
    wants = getattr(strategy, "wants_callback", None)
    if wants is not None:
        return bool(wants(name))
    return getattr(type(strategy), name) is not getattr(Strategy, name)


def _own(strategy: Strategy | None, name: str) -> bool:
    """Whether the (unwrapped) strategy's own class overrides callback ``name``."""
    return strategy is not None and getattr(type(strategy), name) is not getattr(Strategy, name)


def _handler(strategy: Strategy, name: str) -> Callable[..., None]:
    """The callable to deliver callback ``name`` to: a wrapper's choice through
    ``handler(name)`` (a risk manager with every rule off hands out the strategy's own
    methods, sparing a forwarding frame per wake-up), else the bound method."""
    handler = getattr(strategy, "handler", None)
    if handler is not None:
        return handler(name)
    return getattr(strategy, name)


def _noop(*args: object) -> None:
    """Stands in for a callback the strategy is not subscribed to (never called)."""


def _only(instruments: set[int], fn: Callable[..., None]) -> Callable[..., None]:
    """``fn(ctx, instrument, *rest)`` for the subscribed instruments only."""

    def deliver(ctx: Context, instrument: int, *rest: object) -> None:
        if instrument in instruments:
            fn(ctx, instrument, *rest)

    return deliver


class Session:
    """One strategy (or a raw replay) on one :class:`~hftlab.sim.SimCore`.

    Owns the core, the strategy's :class:`~hftlab.strategy.context.Context`, the risk wrapper,
    the strategy's subscriptions and a :class:`~hftlab.engine.Sink`. Verbs: :meth:`start`,
    :meth:`feed`, :meth:`advance`, :meth:`run`, :meth:`finish`.

    Parameters
    ----------
    instruments
        In the order of the events' ``instrument`` column.
    strategy
        The strategy; None replays data through the books and matcher only. It always runs
        inside a :class:`~hftlab.risk.RiskManager` (built from ``risk``, every limit off if
        None); pass an already wrapped strategy to keep its manager.
    config
        Simulator settings (defaults if None).
    book_from_bbo
        Per instrument: True if BBO rows build its book (quote-only data).
    sink
        Where requests, responses, states and risk events go (a new
        :class:`~hftlab.engine.RunRecorder` if None).

    Subscriptions: what the strategy declares in ``on_start`` (``ctx.subscribe_quotes(i)``,
    ``subscribe_trades``, ``subscribe_book``, ``subscribe_book_status``, ``subscribe_orders``),
    or if it declares nothing, the callbacks its class overrides.
    """

    def __init__(
        self,
        instruments: Sequence[Instrument],
        strategy: Strategy | None,
        config: SimConfig | None = None,
        *,
        book_from_bbo: Sequence[bool] | None = None,
        risk: RiskConfig | None = None,
        sink: Sink | None = None,
    ) -> None:
        self.config = config = config or SimConfig()
        manager: RiskManager | None = None
        inner = strategy
        if isinstance(strategy, RiskManager):
            if risk is not None:
                raise ConfigError("pass risk= or a RiskManager-wrapped strategy, not both")
            manager, inner = strategy, strategy.strategy
        elif strategy is not None:
            manager = RiskManager(strategy, risk)
        #: The strategy as given (unwrapped), and the risk manager that wraps it.
        self.inner = inner
        self.risk = manager
        self.strategy: Strategy | None = manager
        self.sink: Any = sink if sink is not None else RunRecorder()
        self.core = core = SimCore(
            instruments, config, book_from_bbo=book_from_bbo, local=manager is not None
        )
        self.ctx: Context | None = (
            None if manager is None else Context(core, on_request=self.sink.on_request)
        )
        self.instruments = core.instruments
        self._ticks = [inst.tick_ratio for inst in self.instruments]
        self._lots = [inst.lot_ratio for inst in self.instruments]
        #: Local time of :meth:`start` (None before).
        self.first_ts: int | None = None
        self.started = False
        self.finished = False
        self._callback = ""
        self._n_risk = 0
        self._on_fill: Callable[..., None] | None = None
        self._on_update: Callable[..., None] | None = None
        self._on_timer: Callable[..., None] = _noop
        self._on_quote: Callable[..., None] = _noop
        self._on_book: Callable[..., None] = _noop
        self._on_trade: Callable[..., None] = _noop
        self._on_book_status: Callable[..., None] = _noop
        self._trade_insts: set[int] | None = None  # None: every instrument

    # ------------------------------------------------------------------ verbs
    def start(self, t0: int) -> None:
        """Begin at local time ``t0``: the strategy's ``on_start`` runs (``ctx.now == t0``),
        then its subscriptions take effect. Call before the first :meth:`feed`."""
        if self.started:
            raise EngineError("the session has already started")
        self.started = True
        self.first_ts = int(t0)
        if self.strategy is None:
            return
        with self._guard():
            self.core.start(t0)
            self._callback = "on_start"
            self.strategy.on_start(self.ctx)
            self._subscribe()
        self._forward_risk()

    def feed(self, chunk: np.ndarray | PreparedChunk) -> None:
        """Append a chunk of :data:`~hftlab.events.EVENT_DTYPE` rows (``ts_local`` order, not
        before anything fed or advanced to) and process everything that became due.

        A :class:`~hftlab.sim.core.PreparedChunk` (from :meth:`prepare`, e.g. on another
        thread) is taken as it is. The core reads the chunk in place: do not modify it after.
        """
        if not self.started:
            raise EngineError("start() the session before feeding it")
        if self.finished:
            raise EngineError("the session has finished")
        with self._guard():
            if isinstance(chunk, PreparedChunk):
                self.core.feed(chunk.chunk, chunk)
            else:
                self.core.feed(chunk)
            self._run()
        self._forward_risk()

    def prepare(self, chunk: np.ndarray) -> PreparedChunk:
        """Check and sort ``chunk`` for :meth:`feed` (compiled, without the GIL: a driver may
        prepare the next chunk on another thread while the session runs this one)."""
        return self.core.prepare(chunk)

    def advance(self, now: int) -> None:
        """Move time on to ``now`` without data: no row with ``ts_local < now`` will be fed.

        Timers, responses and rows held for the reorder window ``W`` that fall before
        ``now - W`` are processed. A live driver calls it on the wall clock, so a strategy's
        timers keep firing while the feed is quiet (they trail ``now`` by ``W``: the
        exchange may still receive rows stamped up to ``W`` earlier).
        """
        if not self.started:
            raise EngineError("start() the session before advancing it")
        if self.finished:
            raise EngineError("the session has finished")
        with self._guard():
            self.core.advance(now)
            self._run()
        self._forward_risk()

    def run(self) -> None:
        """Process everything due before the horizon (:meth:`feed` and :meth:`advance` do)."""
        with self._guard():
            self._run()
        self._forward_risk()

    def finish(self) -> None:
        """End of the data: process everything left, take a final state sample, run the
        strategy's ``on_stop``, and log the responses still in flight (no callbacks) so the
        order log accounts for every fill the exchange made."""
        if self.finished:
            raise EngineError("the session has already finished")
        self.finished = True
        core = self.core
        sink = self.sink
        with self._guard():
            core.feed(None)
            self._run()
            end_t = core.end_time
            if end_t is not None and core.recording:
                self._drain_states()
                core.record_now(end_t)
            if self.strategy is not None and self.started:
                self._callback = "on_stop"
                self.strategy.on_stop(self.ctx)
                self._drain()
            core.flush_in_flight()
            ri, rf = core.drain_responses()
            if ri.shape[0]:
                sink.on_responses(ri, rf)
            self._drain_states()
        self._forward_risk()
        for key, counts in core.dropped_levels().items():
            log.warning(
                "book overflow on %s: %s level insertions refused (a side held "
                "book_capacity=%d levels below its %d-tick window); the book missed those "
                "deep levels: raise SimConfig.book_capacity or book_window",
                key,
                ", ".join(f"{k} {n}" for k, n in counts.items() if n),
                core.config.book_capacity,
                core.config.book_window,
            )
        self._log_sync()
        if self.ctx is not None:
            self.ctx.close()

    def _log_sync(self) -> None:
        """Warn about every instrument whose depth data had gaps (or ended out of sync)."""
        for i, inst in enumerate(self.instruments):
            st = self.core.sync_stats(i)
            if not st.unsynced_rows:
                continue
            what = (
                f"{inst.key}: {st.gaps} gap(s) in the depth data, {st.unsynced_rows:,} "
                f"unsynced row(s) not applied, {st.unsynced_ns / 1e9:.6g} s out of sync"
                + ("" if st.synced else " (still out of sync at the end)")
            )
            if st.gaps or not st.synced:
                log.warning("book sync: %s; no fills from the stale book, orders refused", what)
            else:  # only the wait for a capture's first snapshot
                log.info("book sync: %s (before the first snapshot)", what)

    @property
    def now(self) -> int:
        """The local clock (the strategy's ``ctx.now``)."""
        return self.core.now

    # ------------------------------------------------------------------ internals
    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Name the failing callback and the simulated time in any error (a run never ends
        early silently)."""
        try:
            yield
        except HftlabError:
            raise
        except Exception as exc:
            where = (
                f"strategy {type(self.inner).__name__}.{self._callback}"
                if self.strategy is not None
                else "engine"
            )
            raise EngineError(
                f"{where} failed at t={self.core.now} ns: {type(exc).__name__}: {exc}"
            ) from exc

    def _subscribe(self) -> None:
        """Set what wakes the strategy: its declared subscriptions, else what it overrides."""
        s = self.strategy
        assert s is not None and self.ctx is not None
        subs = self.ctx.subscriptions
        every = set(range(len(self.instruments)))
        if subs is None:
            quotes = every if _overrides(s, "on_quote") else set()
            trades = every if _overrides(s, "on_trade") else set()
            book = every if _overrides(s, "on_book") else set()
            status = every if _overrides(s, "on_book_status") else set()
            orders = (
                2 if _overrides(s, "on_order_update") else (1 if _overrides(s, "on_fill") else 0)
            )
            on_fill = _overrides(s, "on_fill")
            on_update = _overrides(s, "on_order_update")
        else:
            quotes, trades, book = set(subs.quotes), set(subs.trades), set(subs.book)
            status = set(subs.book_status)
            # A risk rule that reads book sync (stale_feed) needs every book's status (the
            # manager forwards to the strategy only what it subscribed to).
            if getattr(s, "needs_book_status", False):
                status = every
            orders = subs.orders
            # Risk rules that track cash need fills whatever the strategy asks for: the
            # manager wants them although the strategy itself has no on_fill.
            own_fill = _own(self.inner, "on_fill")
            if _overrides(s, "on_fill") and not own_fill:
                orders = max(orders, 1)
            on_fill = orders >= 1
            on_update = orders == 2
        self.core.subscribe(
            quotes=bool(quotes),
            trades=bool(trades),
            book=bool(book),
            orders=orders,
            status=bool(status),
        )
        self._on_fill = _handler(s, "on_fill") if on_fill else None
        self._on_update = _handler(s, "on_order_update") if on_update else None
        self._on_timer = _handler(s, "on_timer")
        self._on_quote = _handler(s, "on_quote")
        self._on_book = _handler(s, "on_book")
        self._on_trade = _handler(s, "on_trade")
        self._on_book_status = _handler(s, "on_book_status")
        if status and status != every:
            self._on_book_status = _only(status, self._on_book_status)
        if quotes and quotes != every:
            self._on_quote = _only(quotes, self._on_quote)
        if book and book != every:
            self._on_book = _only(book, self._on_book)
        self._trade_insts = trades if trades and trades != every else None

    def _drain(self) -> None:
        """Log the responses delivered since the last drain and hand them to the context."""
        ri, rf = self.core.drain_responses()
        if ri.shape[0]:
            self.sink.on_responses(ri, rf)
            ctx = self.ctx
            if ctx is not None:
                self._callback = "on_order_update/on_fill"
                ctx.apply_responses(ri, rf, self._on_fill, self._on_update)

    def _drain_states(self) -> None:
        ts, st = self.core.drain_states()
        if ts.size:
            self.sink.on_states(ts, st)

    def _forward_risk(self) -> None:
        manager = self.risk
        if manager is not None and len(manager.events) > self._n_risk:
            new = manager.events[self._n_risk :]
            self._n_risk = len(manager.events)
            self.sink.on_risk(new)

    def _run(self) -> int:
        """Step the core, dispatching wake-ups, until it needs data (or the data ended)."""
        core = self.core
        ctx = self.ctx
        strategy = self.strategy
        # Bound once: this loop runs once per wake-up, and timers are the hot path.
        step = core.step_kernel
        drain = self._drain
        due_timers = ctx.due_timers if ctx is not None else None
        on_timer = self._on_timer
        while True:
            reason = step(*core.args)
            if reason >= _NEW_RESPONSES:
                reason -= _NEW_RESPONSES
                drain()
            if reason == _W_TIMER:  # only a strategy's context sets timers
                assert due_timers is not None
                self._callback = "on_timer"
                n = due_timers()
                if n == 1:
                    on_timer(ctx)
                else:
                    for _ in range(n):
                        on_timer(ctx)
                continue
            if reason in (_W_NEED_DATA, _W_END):
                return reason
            if reason == _W_LOG_FULL:
                self._drain_states()
                continue
            if reason == _W_ERROR:
                core.raise_error()
            if strategy is None:
                continue
            if reason == _W_QUOTE:
                self._callback = "on_quote"
                self._on_quote(ctx, core.wake_instrument)
            elif reason == _W_TRADE:
                inst, side, price, qty, ts_x, ts_l = core.wake_trade()
                insts = self._trade_insts
                if insts is not None and inst not in insts:
                    continue
                self._callback = "on_trade"
                tn, td = self._ticks[inst]
                ln, ld = self._lots[inst]
                self._on_trade(ctx, Trade(inst, side, price * tn / td, qty * ln / ld, ts_x, ts_l))
            elif reason == _W_BOOK:
                self._callback = "on_book"
                self._on_book(ctx, core.wake_instrument)
            elif reason == _W_BOOK_STATUS:
                inst = core.wake_instrument
                self._callback = "on_book_status"
                self._on_book_status(ctx, inst, core.book_synced(inst))
                # The resync snapshot's last row may also have changed the quote or book.
                also = core.wake_also
                if also == _W_QUOTE:
                    self._callback = "on_quote"
                    self._on_quote(ctx, inst)
                elif also == _W_BOOK:
                    self._callback = "on_book"
                    self._on_book(ctx, inst)
            # W_ORDER: the callbacks already ran in drain()
