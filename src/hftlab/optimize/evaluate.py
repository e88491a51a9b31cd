"""One evaluation of the optimiser: a backtest config in, a row of metrics out.

:func:`evaluate` is a pure function of its :class:`EvalSpec`: same spec, same metrics (only
``wall_s`` differs between runs). It is picklable by reference and holds no state between calls
except a per-process cache of decoded event chunks, which changes speed, never results. The local
process pool and Ray run this very function.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from hftlab.backtest.engine import run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.engine.spec import (
    RunSpec,
    apply_overrides,
    book_sources,
    build_run_spec,
    data_span,
    data_window,
    load_strategy_class,
    open_events,
)
from hftlab.errors import ConfigError
from hftlab.events import Instrument
from hftlab.sim.config import SimConfig
from hftlab.strategy import Strategy

__all__ = ["EvalSpec", "evaluate", "metric_names", "metrics_of", "warm_up"]

log = logging.getLogger(__name__)

#: Per-process budget of decoded events kept between evaluations (MiB); 0 disables the cache.
CACHE_MB_ENV = "HFTLAB_OPTIMIZE_CACHE_MB"
_DEFAULT_CACHE_MB = 1024


class EvalSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one backtest needs, as plain data (picklable, hashable by value).

    Attributes
    ----------
    data
        Store directory (absolute, so that any worker resolves it alike).
    strategy
        ``MODULE:CLASS`` or ``/abs/path/file.py:CLASS``.
    tables
        The base backtest config: ``data``, ``sim``, ``strategy`` tables as in
        ``hftlab backtest --config``.
    values
        The point: dotted parameter name -> value, applied over ``tables``.
    start, end
        Time window (ns, ``ts_local``; end exclusive) overriding ``[data] start/end``.
    interval
        Sampling interval of the returns behind the ratio metrics (``"1s"``, ``"1min"``).
    tags
        Carried unchanged into the result row (fold, window, trial number, ...).
    """

    data: str
    strategy: str
    tables: dict[str, Any] = msgspec.field(default_factory=dict)
    values: dict[str, Any] = msgspec.field(default_factory=dict)
    start: int | None = None
    end: int | None = None
    interval: str = "1s"
    tags: dict[str, Any] = msgspec.field(default_factory=dict)


def metrics_of(result: BacktestResult, interval: str = "1s") -> dict[str, Any]:
    """The flat metrics row of a run: :func:`hftlab.analytics.compute_metrics`.

    Parameters
    ----------
    result
        A finished backtest.
    interval
        Sampling interval of the returns behind Sharpe, Sortino and Calmar.

    Returns
    -------
    dict
        Scalar figures (``pnl``, ``sharpe_per_period``, ``max_drawdown``, ``fills``, ...; see
        ``docs/reports.md``). Feed latency is not read back from the store (None).
    """
    from hftlab.analytics import compute_metrics

    return dict(compute_metrics(result, interval=interval, feed_latency=False))


@lru_cache(maxsize=32)
def _strategy_class(spec: str) -> type[Strategy]:
    return load_strategy_class(spec)


class _EventCache:
    """Decoded event chunks of recent windows, least recently used evicted first."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[Any, ...], tuple[list[np.ndarray], list, list]] = (
            OrderedDict()
        )
        self._bytes = 0

    @staticmethod
    def budget() -> int:
        try:
            mb = float(os.environ.get(CACHE_MB_ENV, _DEFAULT_CACHE_MB))
        except ValueError:
            raise ConfigError(f"{CACHE_MB_ENV} must be a number of MiB") from None
        return int(mb * 2**20)

    def get(self, run: RunSpec) -> tuple[Any, list[Instrument], list[bool]]:
        """``(chunks or EventStream, instruments, book_from_bbo)`` for a run's data selection."""
        stream = open_events(run)
        bbo = book_sources(stream)
        signature = tuple(
            (str(f.path), f.rows, f.bytes, f.ts_local_max)
            for k in stream.keys
            for f in stream.store.files(k)
        )
        key = (
            str(Path(run.data).resolve()),
            tuple(str(k) for k in stream.keys),
            run.start,
            run.end,
            signature,
        )
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit[0], hit[1], hit[2]
        budget = self.budget()
        if stream.rows * 56 > budget:  # rows of the selected files bound the window's rows
            return stream, stream.instruments, bbo
        chunks = list(stream)
        size = sum(c.nbytes for c in chunks)
        while self._items and self._bytes + size > budget:
            _, old = self._items.popitem(last=False)
            self._bytes -= sum(c.nbytes for c in old[0])
        self._items[key] = (chunks, list(stream.instruments), bbo)
        self._bytes += size
        return chunks, list(stream.instruments), bbo


_EVENTS = _EventCache()


def _window(spec: EvalSpec) -> tuple[int | None, int | None]:
    start, end = data_window(spec.tables.get("data", {}), "config")
    return (
        spec.start if spec.start is not None else start,
        spec.end if spec.end is not None else end,
    )


def evaluate(spec: EvalSpec) -> dict[str, Any]:
    """Run one backtest and return its metrics row.

    Parameters
    ----------
    spec
        Store, strategy, base tables, the parameter values of this point and the window.

    Returns
    -------
    dict
        ``spec.tags``, then each swept parameter under its dotted name, the window
        (``window_start``, ``window_end``: ns or None), the metrics of :func:`metrics_of` and
        ``wall_s`` (the only non-deterministic entry).

    Raises
    ------
    ConfigError
        The point's configs are invalid (normally caught when the grid is validated).
    EngineError
        The backtest failed (for example the strategy raised).
    """
    t0 = time.perf_counter()
    run = build_run_spec(
        apply_overrides(spec.tables, spec.values),
        data=spec.data,
        strategy=spec.strategy,
        strategy_cls=_strategy_class(spec.strategy),
        start=spec.start,
        end=spec.end,
        where=f"point {spec.values}",
    )
    events, instruments, bbo = _EVENTS.get(run)
    result = run_backtest(
        events,
        run.make_strategy(),
        run.sim,
        instruments=instruments,
        book_from_bbo=bbo,
        risk=run.risk,
    )
    row: dict[str, Any] = dict(spec.tags)
    row.update(spec.values)
    row["window_start"] = run.start
    row["window_end"] = run.end
    row.update(metrics_of(result, spec.interval))
    row["wall_s"] = time.perf_counter() - t0
    return row


def _empty_run() -> BacktestResult:
    inst = Instrument(venue="warmup", symbol="WARMUP", tick_size=0.01, lot_size=0.001)
    return run_backtest([], Strategy(), SimConfig(), instruments=[inst], book_from_bbo=[False])


def warm_up() -> None:
    """Load the compiled simulation core in this process (an empty replay; no data read).

    Workers call it once when they start, so the first evaluation does not pay for it; numba
    reads its on-disk cache (it compiles only if the cache is cold).
    """
    t0 = time.perf_counter()
    _empty_run()
    log.debug("worker %d warmed up in %.2f s", os.getpid(), time.perf_counter() - t0)


def metric_names(spec: EvalSpec, probe_ns: int = 5_000_000_000) -> list[str] | None:
    """The numeric metric names of a row, from a probe run of ``spec`` over its first
    ``probe_ns`` of data (milliseconds of work); None if the probe itself fails.

    String entries (``run``, ``strategy``, ``*_reason``, ...) are left out: they cannot be an
    objective or a heatmap.
    """
    start, end = _window(spec)
    if start is None:
        start = data_span(spec.data, spec.tables)[0]
    stop = start + probe_ns if end is None else min(end, start + probe_ns)
    try:
        row = evaluate(msgspec.structs.replace(spec, start=start, end=stop))
    except Exception as exc:  # the real evaluations will report it, with their parameters
        log.debug("metric probe failed: %s", exc)
        return None
    skip = {*spec.tags, *spec.values, "window_start", "window_end", "wall_s"}
    return sorted(k for k, v in row.items() if k not in skip and not isinstance(v, str))
