"""The backtest driver: stream chunks from the store into a :class:`~hftlab.engine.Session`.

The session owns the dispatch of wake-ups to the strategy; this module only feeds it (each
chunk checked and sorted one step ahead on a worker thread) and builds the result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from hftlab.backtest.result import BacktestResult
from hftlab.data.store import EventStream
from hftlab.engine.session import Session
from hftlab.engine.sink import RunRecorder
from hftlab.engine.spec import book_sources
from hftlab.errors import EngineError
from hftlab.events import Instrument
from hftlab.risk import RiskConfig
from hftlab.sim.config import SimConfig
from hftlab.sim.core import PreparedChunk, SimCore
from hftlab.strategy import Strategy

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

#: True if the compiled core is in numba's on-disk cache (a run will not compile).
core_is_compiled = SimCore.is_compiled


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
    if isinstance(events, EventStream):
        instruments = events.instruments
        if book_from_bbo is None:
            book_from_bbo = book_sources(events)
    if instruments is None:
        raise EngineError("run_backtest needs `instruments` when events is not an EventStream")
    recorder = RunRecorder()
    session = Session(
        instruments, strategy, config, book_from_bbo=book_from_bbo, risk=risk, sink=recorder
    )
    wall0 = time.perf_counter()
    feed = _ChunkFeed(session.core, iter(events))
    try:
        while (prepared := feed.next()) is not None:
            if len(prepared.chunk) == 0:
                continue
            if not session.started:
                session.start(int(prepared.chunk["ts_local"][0]))
            session.feed(prepared)
            if progress is not None:
                progress(session.core.events_processed)
        session.finish()
    finally:
        feed.close()
    wall = time.perf_counter() - wall0
    return recorder.result(session, wall_seconds=wall, run_info=run_info)
