"""Where evaluations run: in this process, a local process pool, or a Ray cluster.

Every executor runs the same :func:`~hftlab.optimize.evaluate.evaluate` and offers one method,
:meth:`Executor.imap_unordered`: it pulls specs from an iterator only when a worker is free (so
a search can choose the next point after seeing the last result) and yields
``(spec, row_or_error)`` as evaluations finish, in completion order.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from hftlab.errors import ConfigError, EngineError
from hftlab.optimize.evaluate import EvalSpec, evaluate, warm_up

__all__ = [
    "EXECUTORS",
    "Executor",
    "Outcome",
    "ProcessExecutor",
    "RayExecutor",
    "SerialExecutor",
    "default_start_method",
    "make_executor",
]

log = logging.getLogger(__name__)

#: A finished evaluation: its spec and either the metrics row or the exception it raised.
Outcome = tuple[EvalSpec, dict[str, Any] | BaseException]
ExecutorName = Literal["serial", "process", "ray"]
EXECUTORS: tuple[str, ...] = ("process", "serial", "ray")


class Executor:
    """Base class: run specs, yield outcomes as they finish."""

    name = "base"
    workers = 1

    def imap_unordered(self, specs: Iterable[EvalSpec]) -> Iterator[Outcome]:
        """Evaluate ``specs`` (pulled lazily, at most ``workers`` in flight)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (idempotent)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SerialExecutor(Executor):
    """One evaluation at a time in this process (the reference for the others)."""

    name = "serial"

    def imap_unordered(self, specs: Iterable[EvalSpec]) -> Iterator[Outcome]:
        for spec in specs:
            try:
                yield spec, evaluate(spec)
            except Exception as exc:  # recorded as the point's error; the search goes on
                yield spec, exc


def _init_worker() -> None:
    # Workers only compute: leave Ctrl-C to the parent, which cancels and shuts the pool.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up()


def default_start_method() -> str:
    """``fork`` on Linux when this process runs no other Python thread, else ``spawn``.

    A fork of a single-threaded process is safe and starts a worker in milliseconds with the
    compiled core already loaded (a spawned one imports hftlab and loads it: ~0.5-1 s, as much
    as a short grid's whole work). pyarrow's and jemalloc's native pools handle fork.
    """
    import sys
    import threading

    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "spawn"


class ProcessExecutor(Executor):
    """A local pool of ``workers`` processes, each warming the compiled core once.

    ``start_method``: ``auto`` (default: :func:`default_start_method`), ``spawn`` (workers share
    nothing with the parent, the same on every OS), ``forkserver`` or ``fork``. Evaluations
    never depend on what a worker inherits, so every method gives the same results. Workers
    are started, and warm up, as soon as the executor is created, while the caller still
    prepares the search. Each worker keeps a cache of decoded event chunks (see
    :data:`~hftlab.optimize.evaluate.CACHE_MB_ENV`), so a grid over one window reads the store
    once per worker.
    """

    name = "process"

    def __init__(self, workers: int | None = None, start_method: str = "auto") -> None:
        self.workers = workers or os.cpu_count() or 1
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        methods = mp.get_all_start_methods()
        if start_method == "auto":
            start_method = default_start_method()
        if start_method not in methods:
            raise ConfigError(
                f"--start-method {start_method!r}: expected auto or one of {', '.join(methods)}"
            )
        self.start_method = start_method
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp.get_context(start_method),
            initializer=_init_worker,
        )
        log.info("process pool: %d workers (%s)", self.workers, start_method)
        # One no-op per worker: the pool starts them all now rather than one per submit.
        for _ in range(self.workers):
            self._pool.submit(os.getpid)

    def imap_unordered(self, specs: Iterable[EvalSpec]) -> Iterator[Outcome]:
        assert self._pool is not None, "executor is closed"
        it = iter(specs)
        running: dict[Future[dict[str, Any]], EvalSpec] = {}
        try:
            while True:
                while len(running) < self.workers:
                    spec = next(it, None)
                    if spec is None:
                        break
                    running[self._pool.submit(evaluate, spec)] = spec
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    spec = running.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, BrokenProcessPool):
                        raise EngineError(
                            "a worker process died (out of memory or killed?); the results "
                            "finished so far are kept: re-run the same command to continue"
                        )
                    yield spec, (exc if exc is not None else fut.result())
        finally:
            for fut in running:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Ray tasks running :func:`evaluate` unchanged (``ray.remote(evaluate)``).

    ``address`` is ``auto`` (a cluster this machine belongs to), ``ray://host:port`` (a remote
    cluster through Ray Client) or None: an already initialised Ray, else a local instance of
    ``workers`` CPUs started here and stopped by :meth:`close`. The store path must be readable
    at the same path on every node, and hftlab importable there.
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'hftlab[cluster]'") from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None:
                kwargs["num_cpus"] = workers or os.cpu_count() or 1
            try:
                ray.init(address=address, **kwargs)
            except ConnectionError as exc:
                raise ConfigError(
                    f"--address {address}: cannot reach a Ray cluster: {exc}"
                ) from None
            self._started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or cpus
        self._remote = ray.remote(num_cpus=1, max_retries=0)(evaluate)

    def imap_unordered(self, specs: Iterable[EvalSpec]) -> Iterator[Outcome]:
        ray = self._ray
        it = iter(specs)
        running: dict[Any, EvalSpec] = {}
        try:
            while True:
                while len(running) < self.workers:
                    spec = next(it, None)
                    if spec is None:
                        break
                    running[self._remote.remote(spec)] = spec
                if not running:
                    return
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    spec = running.pop(ref)
                    try:
                        yield spec, ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = getattr(exc, "cause", None)
                        yield spec, cause if isinstance(cause, BaseException) else exc
                    except ray.exceptions.RayError as exc:
                        raise EngineError(
                            f"Ray lost a task ({type(exc).__name__}: {exc}); the results "
                            "finished so far are kept: re-run the same command to continue"
                        ) from exc
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def make_executor(
    name: str,
    workers: int | None = None,
    address: str | None = None,
    start_method: str = "auto",
) -> Executor:
    """An executor by name: ``serial``, ``process`` or ``ray``.

    ``start_method`` (``auto``, ``spawn``, ``forkserver``, ``fork``) applies to ``process``.

    Raises
    ------
    ConfigError
        Unknown name, or ``--address`` given for a local executor.
    """
    if address is not None and name != "ray":
        raise ConfigError(f"--address is for --executor ray (got --executor {name})")
    if name == "serial":
        return SerialExecutor()
    if name == "process":
        return ProcessExecutor(workers, start_method)
    if name == "ray":
        return RayExecutor(workers, address)
    raise ConfigError(f"--executor {name!r}: expected one of {', '.join(EXECUTORS)}")
