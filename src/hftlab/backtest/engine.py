"""The backtest driver: stream chunks into the sim core, wake the strategy, record results."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from hftlab.backtest.result import BacktestResult, build_result
from hftlab.data.store import EventStream
from hftlab.errors import ConfigError, EngineError, HftlabError
from hftlab.events import Channel, Instrument
from hftlab.risk import RiskConfig, RiskManager
from hftlab.sim import _core
from hftlab.sim import _layout as L
from hftlab.sim.config import SimConfig
from hftlab.sim.core import PreparedChunk, SimCore
from hftlab.strategy import Strategy, Trade
from hftlab.strategy.context import Context

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

# Read at every wake-up: module globals are cheaper than L.X.
_W_TIMER = L.W_TIMER
_W_NEW_RESPONSES = L.W_NEW_RESPONSES


def _overrides(strategy: Strategy, name: str) -> bool:
    """Whether to deliver callback ``name``: what the class overrides, or what a wrapper (the
    risk manager) says through ``wants_callback(name)``."""
    wants = getattr(strategy, "wants_callback", None)
    if wants is not None:
        return bool(wants(name))
    return getattr(type(strategy), name) is not getattr(Strategy, name)


def core_is_compiled() -> bool:
    """True if the compiled core is in numba's on-disk cache (a run will not compile)."""
    try:
        cache_path = Path(_core.run._cache._cache_path)  # type: ignore[attr-defined]
        line = _core.run.py_func.__code__.co_firstlineno
    except AttributeError:  # pragma: no cover - numba internals moved
        return True
    # numba names the index after the function and its line; it must be newer than the source.
    source = Path(_core.__file__).stat().st_mtime
    return any(p.stat().st_mtime >= source for p in cache_path.glob(f"_core.run-{line}.*.nbi"))


def book_sources(stream: EventStream) -> list[bool]:
    """Per instrument of ``stream``: True if only BBO data builds its book (no depth channel)."""
    chans: dict[tuple[str, str], set[Channel]] = {}
    for key in stream.keys:
        chans.setdefault((key.venue, key.symbol), set()).add(key.channel)
    return [
        Channel.DEPTH not in chans[(i.venue, i.symbol)]
        and Channel.BBO in chans[(i.venue, i.symbol)]
        for i in stream.instruments
    ]


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


class ResponseLog:
    """Every response of a run, as the core's ring rows (int and float columns).

    A drain adds a pair of small copies; every ``BATCH`` drains they are joined into one block,
    so a long run holds a few large arrays, not one pair per drain with ~1 KB of allocator
    bookkeeping each. Adding stays a list append: it runs at strategy wake-ups.
    """

    BATCH = 512

    def __init__(self) -> None:
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.blocks: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(ri.shape[0] for ri, _ in self.blocks) + sum(
            ri.shape[0] for ri, _ in self.pending
        )

    def add(self, ri: np.ndarray, rf: np.ndarray) -> None:
        """Keep ``ri``/``rf`` (copies the log now owns)."""
        pending = self.pending
        pending.append((ri, rf))
        if len(pending) >= self.BATCH:
            self._join()

    def _join(self) -> None:
        if self.pending:
            self.blocks.append(
                (
                    np.concatenate([ri for ri, _ in self.pending]),
                    np.concatenate([rf for _, rf in self.pending]),
                )
            )
            self.pending = []

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All rows so far, each column group in one new array."""
        self._join()
        if not self.blocks:
            return np.zeros((0, L.E_NF), np.int64), np.zeros((0, L.EF_NF), np.float64)
        return (
            np.concatenate([ri for ri, _ in self.blocks]),
            np.concatenate([rf for _, rf in self.blocks]),
        )


class _Runner:
    def __init__(self, core: SimCore, strategy: Strategy | None) -> None:
        self.core = core
        self.strategy = strategy
        self.ctx: Context | None = None
        self.responses = ResponseLog()
        self.states: list[tuple[np.ndarray, np.ndarray]] = []
        self.callback = ""
        self.on_fill: Callable[..., None] | None = None
        self.on_update: Callable[..., None] | None = None
        self.on_timer: Callable[..., None] = _noop
        self.on_quote: Callable[..., None] = _noop
        self.on_book: Callable[..., None] = _noop
        self.on_trade: Callable[..., None] = _noop
        if strategy is not None:
            s = strategy
            self.ctx = Context(core)
            ctl = core.ctl
            ctl[L.C_SUB_QUOTE] = int(_overrides(s, "on_quote"))
            ctl[L.C_SUB_TRADE] = int(_overrides(s, "on_trade"))
            ctl[L.C_SUB_BOOK] = int(_overrides(s, "on_book"))
            ctl[L.C_SUB_ORDER] = (
                2 if _overrides(s, "on_order_update") else (1 if _overrides(s, "on_fill") else 0)
            )
            self.on_fill = _handler(s, "on_fill") if _overrides(s, "on_fill") else None
            self.on_update = (
                _handler(s, "on_order_update") if _overrides(s, "on_order_update") else None
            )
            self.on_timer = _handler(s, "on_timer")
            self.on_quote = _handler(s, "on_quote")
            self.on_book = _handler(s, "on_book")
            self.on_trade = _handler(s, "on_trade")

    def drain(self) -> None:
        """Log the responses delivered since the last drain and hand them to the context."""
        ri, rf = self.core.drain_responses()
        if ri.shape[0]:
            self.responses.add(ri, rf)
            ctx = self.ctx
            if ctx is not None:
                self.callback = "on_order_update/on_fill"
                ctx._apply_responses(ri, rf, self.on_fill, self.on_update)

    def drain_states(self) -> None:
        ts, st = self.core.drain_states()
        if ts.size:
            self.states.append((ts, st))


_ASYNC_MIN_ROWS = 4096  # smaller chunks are prepared inline: a thread hand-off costs ~50 us


class _ChunkFeed:
    """Chunks for the core, each checked and sorted into exchange order one step ahead.

    The next chunk is prepared (:meth:`SimCore.prepare`, compiled, without the GIL) on a
    worker thread while the core (also without the GIL) works through the current one, so on
    two cores the sort costs the run almost nothing. Chunks are pulled from ``chunks`` on the
    caller's thread, in order, one ahead of the one being fed.
    """

    def __init__(self, core: SimCore, chunks: Iterator[np.ndarray]) -> None:
        self.core = core
        self.chunks = chunks
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hftlab-feed")
        self.ahead: Future[PreparedChunk] | np.ndarray | None = None
        self.started = False

    def next(self) -> PreparedChunk | None:
        """The next chunk, prepared; None at the end of the data."""
        if not self.started:
            self.started = True
            self._pull()
        ahead = self.ahead
        if ahead is None:
            return None
        # A failed prepare re-raises here, when its chunk is due (not a chunk early).
        prepared = ahead.result() if isinstance(ahead, Future) else self.core.prepare(ahead)
        self._pull()
        return prepared

    def _pull(self) -> None:
        chunk = next(self.chunks, None)
        if chunk is not None and len(chunk) >= _ASYNC_MIN_ROWS:
            self.ahead = self.pool.submit(self.core.prepare, chunk)
        else:
            self.ahead = chunk

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def run_backtest(
    events: EventStream | Iterable[np.ndarray],
    strategy: Strategy | None,
    config: SimConfig | None = None,
    *,
    instruments: Sequence[Instrument] | None = None,
    book_from_bbo: Sequence[bool] | None = None,
    progress: Progress | None = None,
    run_info: dict[str, Any] | None = None,
    risk: RiskConfig | None = None,
) -> BacktestResult:
    """Run ``strategy`` (or a raw replay if None) over ``events``.

    Parameters
    ----------
    events
        An :class:`EventStream` from the store, or any iterable of :data:`EVENT_DTYPE` chunks in
        ``ts_local`` order (then ``instruments`` is required).
    strategy
        The strategy instance; None replays data through the books and matcher only.
    config
        Simulator settings (defaults if None).
    progress
        Called with the number of market events applied so far, once per chunk.
    risk
        Risk limits. The strategy always runs inside a :class:`~hftlab.risk.RiskManager`
        (default :class:`~hftlab.risk.RiskConfig`, every limit off, if None); pass an already
        wrapped strategy instead to keep its manager.

    Raises
    ------
    EngineError
        Anything failing inside the run, including an exception raised by the strategy
        (named with its callback and the simulated time). A run never ends early silently.
    """
    config = config or SimConfig()
    inner = strategy
    manager: RiskManager | None = None
    if isinstance(strategy, RiskManager):
        if risk is not None:
            raise ConfigError("pass risk= or a RiskManager-wrapped strategy, not both")
        manager, inner = strategy, strategy.strategy
    elif strategy is not None:
        manager = RiskManager(strategy, risk)
    strategy = manager
    if isinstance(events, EventStream):
        instruments = events.instruments
        if book_from_bbo is None:
            book_from_bbo = book_sources(events)
    if instruments is None:
        raise EngineError("run_backtest needs `instruments` when events is not an EventStream")
    core = SimCore(instruments, config, book_from_bbo=book_from_bbo, local=strategy is not None)
    runner = _Runner(core, strategy)
    ctx = runner.ctx
    wall0 = time.perf_counter()
    feed = _ChunkFeed(core, iter(events))
    started = False
    first_ts = None
    # Bound once: this loop runs once per wake-up, and timers are the hot path.
    step = _core.run_packed  # called directly, not through SimCore.step
    drain = runner.drain
    due_timers = ctx._due_timers if ctx is not None else lambda: 0
    on_timer = runner.on_timer
    try:
        while True:
            reason = step(*core.args)
            if reason >= _W_NEW_RESPONSES:
                reason -= _W_NEW_RESPONSES
                drain()
            if reason == _W_TIMER:  # only a strategy's context sets timers
                runner.callback = "on_timer"
                n = due_timers()
                if n == 1:
                    on_timer(ctx)
                else:
                    for _ in range(n):
                        on_timer(ctx)
                continue
            if reason == L.W_NEED_DATA:
                prepared = feed.next()
                chunk = None if prepared is None else prepared.chunk
                core.feed(chunk, prepared)
                if chunk is not None and len(chunk) and first_ts is None:
                    first_ts = int(chunk["ts_local"][0])
                if progress is not None:
                    progress(core.events_processed)
                if not started and chunk is not None and len(chunk) and strategy is not None:
                    started = True
                    core.ctl[L.C_NOW] = first_ts
                    runner.callback = "on_start"
                    strategy.on_start(ctx)
                continue
            if reason == L.W_END:
                break
            if reason == L.W_LOG_FULL:
                runner.drain_states()
                continue
            if reason == L.W_ERROR:
                core.raise_error()
            if strategy is None:
                continue
            assert ctx is not None
            if reason == L.W_QUOTE:
                runner.callback = "on_quote"
                runner.on_quote(ctx, int(core.ctl[L.C_R_INST]))
            elif reason == L.W_TRADE:
                runner.callback = "on_trade"
                row = core.row(int(core.ctl[L.C_R_IDX]))
                inst = int(row["instrument"])
                tn, td = ctx._ticks[inst]
                ln, ld = ctx._lots[inst]
                runner.on_trade(
                    ctx,
                    Trade(
                        inst,
                        int(row["side"]),
                        int(row["price"]) * tn / td,
                        int(row["qty"]) * ln / ld,
                        int(row["ts_exchange"]),
                        int(row["ts_local"]),
                    ),
                )
            elif reason == L.W_BOOK:
                runner.callback = "on_book"
                runner.on_book(ctx, int(core.ctl[L.C_R_INST]))
            # W_ORDER: the callbacks already ran in drain()
        end_t = int(core.ctl[L.C_END_T])
        if end_t > -L.INF and config.record_interval_ms > 0:
            runner.drain_states()
            core.record_now(end_t)
        if strategy is not None and started:
            runner.callback = "on_stop"
            strategy.on_stop(ctx)
            runner.drain()
        # Responses still in flight when the data ended: log them (no callbacks) so the order
        # log accounts for every fill the exchange made.
        core.ctl[L.C_RS_DELIV] = core.ctl[L.C_RS_TAIL]
        ri, rf = core.drain_responses()
        if ri.shape[0]:
            runner.responses.add(ri, rf)
        runner.drain_states()
    except HftlabError:
        raise
    except Exception as exc:
        where = f"strategy {type(inner).__name__}.{runner.callback}" if strategy else "engine"
        raise EngineError(
            f"{where} failed at t={int(core.ctl[L.C_NOW])} ns: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        feed.close()
    wall = time.perf_counter() - wall0
    return build_result(
        core,
        *runner.responses.arrays(),
        runner.states,
        ctx.sent if ctx is not None else [],
        first_ts=first_ts,
        wall_seconds=wall,
        config=config,
        strategy=inner,
        run_info=run_info or {},
        risk=manager,
    )
