"""``hftlab optimize``: validate, search, write ``results.parquet`` and ``report.html``."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from hftlab.backtest.engine import core_is_compiled
from hftlab.engine.spec import data_span, load_strategy_class
from hftlab.errors import ConfigError
from hftlab.optimize.evaluate import warm_up
from hftlab.optimize.executors import make_executor
from hftlab.optimize.report import render_top, write_report
from hftlab.optimize.search import OptimizeRun, run_search
from hftlab.optimize.spec import load_optimize_config
from hftlab.optimize.walkforward import parse_walk_forward

__all__ = ["optimize_from_cli"]

log = logging.getLogger(__name__)


def _strategy_spec(spec: str) -> str:
    """``FILE.py:CLASS`` with an absolute path, so that every worker finds the file."""
    if ":" in spec:
        mod, cls = spec.rsplit(":", 1)
        if mod.endswith(".py"):
            return f"{Path(mod).resolve()}:{cls}"
    return spec


def optimize_from_cli(
    *,
    data: Path,
    strategy: str,
    config: Path,
    out: Path,
    executor: str = "process",
    workers: int | None = None,
    address: str | None = None,
    search: str = "grid",
    trials: int | None = None,
    storage: str | None = None,
    study: str | None = None,
    walk_forward: str | None = None,
    top: int | None = None,
    start_method: str = "auto",
    echo: Any = print,
    show_progress: bool = False,
    argv: list[str] | None = None,
) -> OptimizeRun:
    """Everything ``hftlab optimize`` does; see ``docs/optimize.md``.

    Every input is validated (strategy, config and grid, walk-forward windows against the
    data span, executor options) before a backtest runs or a worker starts.

    Raises
    ------
    ConfigError
        Any invalid option or config, as one line naming it and the fix.
    """
    from hftlab.data.store import Store

    t0 = time.perf_counter()
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if top is not None and top < 1:
        raise ConfigError(f"--top must be >= 1, got {top}")
    if search not in ("grid", "optuna"):
        raise ConfigError(f"--search {search!r}: expected grid or optuna")
    if search == "grid":
        for opt, v in (("--trials", trials), ("--storage", storage), ("--study", study)):
            if v is not None:
                raise ConfigError(f"{opt} is for --search optuna")
    elif trials is None or trials < 1:
        raise ConfigError("--search optuna needs --trials N (N >= 1)")
    strategy = _strategy_spec(strategy)
    cls = load_strategy_class(strategy)
    cfg = load_optimize_config(config, cls)
    wf_text = walk_forward or cfg.settings.walk_forward
    wf = parse_walk_forward(wf_text) if wf_text else None
    store = Store(data)  # a clear error if missing
    store.resolve(
        cfg.base.get("data", {}).get("instruments"), cfg.base.get("data", {}).get("channels")
    )
    folds = wf.folds(*data_span(data, cfg.base)) if wf is not None else []
    n_points = cfg.size()
    if search == "grid":
        echo(
            f"{n_points} grid point(s) x {max(1, len(folds))} "
            f"{'fold' if folds else 'window'}(s) over {', '.join(cfg.names)}"
        )
    if not core_is_compiled():
        echo("compiling the simulation core (first run only; cached afterwards, ~30 s)...")
        warm_up()  # here, once, rather than in every worker at the same time
    data_abs = str(Path(data).resolve())
    if start_method != "auto" and executor != "process":
        raise ConfigError(f"--start-method is for --executor process (got --executor {executor})")
    with make_executor(executor, workers, address, start_method) as ex:
        bar_ctx: Any = None
        progress = None
        if show_progress:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            bar_ctx = Progress(
                TextColumn(f"optimize ({ex.name} x{ex.workers})"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            bar_ctx.start()
            task = bar_ctx.add_task("optimize", total=None)

            def progress(done: int, total: int) -> None:
                bar_ctx.update(task, completed=done, total=total)

        try:
            run = run_search(
                data_abs,
                strategy,
                cls,
                cfg,
                ex,
                out,
                search=search,
                trials=trials,
                storage=storage,
                study=study,
                walk_forward=wf,
                progress=progress,
            )
        finally:
            if bar_ctx is not None:
                bar_ctx.stop()
        ex_name, ex_workers = ex.name, ex.workers
    wall = time.perf_counter() - t0
    header = {
        "command": " ".join(argv) if argv else "",
        "data": data_abs,
        "strategy": strategy,
        "config": str(config),
        "search": search if search == "grid" else f"optuna, {trials} trials",
        "walk-forward": wf_text or "none",
        "executor": f"{ex_name} x{ex_workers}"
        + (f" ({ex.start_method})" if hasattr(ex, "start_method") else ""),
        "evaluations": f"{len(run.rows)} ({run.evaluated} run now, the rest found done)",
        "wall time": f"{wall:,.1f} s",
    }
    write_report(
        run,
        out / "report.html",
        metrics=cfg.settings.metrics,
        title=f"hftlab optimize: {Path(config).name}",
        header=header,
    )
    info = {
        **header,
        "objective": cfg.settings.objective,
        "direction": cfg.settings.direction,
        "parameters": cfg.names,
        "wall_seconds": wall,
        "errors": len(run.errors),
    }
    tmp = out / "optimize.json.tmp"
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(out / "optimize.json")
    render_top(run, top or cfg.settings.top, cfg.settings.metrics)
    echo(
        f"{len(run.rows)} evaluations ({run.evaluated} run now) in {wall:,.1f} s "
        f"with {ex_name} x{ex_workers} -> {out / 'results.parquet'}, {out / 'report.html'}"
    )
    if sys.stderr.isatty() and run.errors:
        log.warning("%d evaluation(s) failed; see the error column", len(run.errors))
    return run
