"""Grid and Optuna searches, walk-forward, and the results folder.

A search turns an :class:`~hftlab.optimize.spec.OptimizeConfig` into
:class:`~hftlab.optimize.evaluate.EvalSpec` s, hands them to an executor and records every
finished evaluation at once:

* grid search: one line per evaluation in ``DIR/evaluations.jsonl`` (appended and flushed as each
  finishes). Re-running the same command skips the points already there, so a crash or Ctrl-C
  loses nothing done.
* Optuna: the study in its storage (default ``sqlite:///DIR/optuna.db``) is the record; each
  trial keeps its whole result row as a user attribute. Re-running continues the study up to
  ``--trials`` finished trials.

At the end, ``DIR/results.parquet`` has one row per evaluation (parameters, metrics, fold and
window, wall time) and, with walk-forward, ``DIR/walk_forward.parquet`` one row per fold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from hftlab.engine.spec import data_span
from hftlab.errors import ConfigError, HftlabError
from hftlab.optimize.evaluate import EvalSpec, metric_names
from hftlab.optimize.executors import Executor, Outcome
from hftlab.optimize.spec import (
    Choice,
    OptimizeConfig,
    Range,
    is_int_type,
    param_type,
)
from hftlab.optimize.walkforward import Fold, WalkForward
from hftlab.units import NS_PER_H

__all__ = [
    "OptimizeRun",
    "distributions",
    "fold_summary",
    "run_grid",
    "run_optuna",
    "run_search",
    "spec_key",
    "write_rows",
]

log = logging.getLogger(__name__)

JOURNAL = "evaluations.jsonl"
RESULTS = "results.parquet"
WALK_FORWARD = "walk_forward.parquet"
#: Metrics that add up over time: walk-forward compares them per hour of window.
ADDITIVE_METRICS = frozenset(
    {
        "pnl",
        "equity_end",
        "pnl_spread",
        "pnl_inventory",
        "pnl_fees",
        "fees",
        "fees_paid",
        "rebates",
        "volume",
        "notional",
        "fills",
        "maker_fills",
        "taker_fills",
        "orders_sent",
        "rejected",
        "cancel_rejected",
        "events",
        "risk_triggers",
    }
)

ProgressFn = Callable[[int, int], None]


@dataclass
class OptimizeRun:
    """What a search produced: every row, the folds, where they were written."""

    rows: list[dict[str, Any]]
    params: list[str]
    objective: str
    maximize: bool
    out: Path
    walk_forward: list[dict[str, Any]] = field(default_factory=list)
    evaluated: int = 0  # evaluations run by this call (not found done already)
    errors: list[str] = field(default_factory=list)

    def ok_rows(self, phase: str | None = None) -> list[dict[str, Any]]:
        """Rows without an error (of one phase: ``train``/``test``; None = all), each point
        once (Optuna trials that repeated an evaluated point are left out)."""
        return [
            r
            for r in self.rows
            if r.get("error") is None
            and r.get("reused_from") is None
            and _finite(r.get(self.objective))
            and (phase is None or r.get("phase") == phase)
        ]

    def top(self, n: int, phase: str | None = None) -> list[dict[str, Any]]:
        """The ``n`` best rows by the objective."""
        rows = self.ok_rows(phase)
        return sorted(rows, key=lambda r: r[self.objective], reverse=self.maximize)[:n]


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# ----------------------------------------------------------------------------- rows
def spec_key(spec: EvalSpec) -> str:
    """A stable id of what a spec computes (everything but its tags)."""
    payload = msgspec.json.encode(
        [spec.data, spec.strategy, spec.tables, spec.values, spec.start, spec.end, spec.interval],
        order="sorted",
    )
    return hashlib.sha256(payload).hexdigest()[:20]


def _row_of(outcome: Outcome) -> dict[str, Any]:
    spec, res = outcome
    if isinstance(res, BaseException):
        if not isinstance(res, HftlabError | ArithmeticError | ValueError | TypeError):
            log.error("evaluation of %s raised %r", spec.values, res)
        row: dict[str, Any] = dict(spec.tags)
        row.update(spec.values)
        row["window_start"] = spec.start
        row["window_end"] = spec.end
        row["error"] = f"{type(res).__name__}: {res}"
    else:
        row = dict(res)
        row["error"] = None
    row["key"] = spec_key(spec)
    return row


class Journal:
    """Append-only JSON lines of finished evaluations (flushed per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, dict[str, Any]] = {}
        if path.exists():
            with path.open("rb") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by a crash: redo that point
                        continue
                    self.rows[row["key"]] = row
        self._fh = path.open("a")
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            self._fh.write("\n")  # end the line a crash cut short; it was skipped above

    def add(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row, default=_json_default) + "\n")
        self._fh.flush()
        self.rows[row["key"]] = row

    def close(self) -> None:
        self._fh.close()


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_rows(path: Path, rows: list[dict[str, Any]], first: list[str]) -> None:
    """Write ``rows`` as Parquet (columns: ``first`` in order, then the others), atomically."""
    cols: list[str] = [c for c in first if any(c in r for r in rows)]
    for r in rows:
        cols.extend(k for k in r if k not in cols)
    arrays = {}
    for c in cols:
        values = [r.get(c) for r in rows]
        try:
            arrays[c] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types in one parameter
            arrays[c] = pa.array([None if v is None else str(v) for v in values], pa.string())
    table = pa.table(arrays) if cols else pa.table({"key": pa.array([], pa.string())})
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


# ----------------------------------------------------------------------------- grid
def _run_specs(
    specs: list[EvalSpec],
    executor: Executor,
    journal: Journal,
    progress: ProgressFn | None,
    done_before: int,
    total: int,
) -> tuple[list[dict[str, Any]], int]:
    """Evaluate the specs not in the journal; rows of all ``specs`` in their order."""
    keys = [spec_key(s) for s in specs]
    todo = [s for s, k in zip(specs, keys, strict=True) if k not in journal.rows]
    done = done_before + len(specs) - len(todo)
    if progress:
        progress(done, total)
    for outcome in executor.imap_unordered(todo):
        journal.add(_row_of(outcome))
        done += 1
        if progress:
            progress(done, total)
    rows = []
    for s, k in zip(specs, keys, strict=True):
        row = dict(journal.rows[k])
        row.update(s.tags)  # tags may differ for the same computation (e.g. a fold index)
        rows.append(row)
    return rows, len(todo)


def _best(rows: list[dict[str, Any]], objective: str, maximize: bool) -> dict[str, Any] | None:
    ok = [r for r in rows if r.get("error") is None and _finite(r.get(objective))]
    if not ok:
        return None
    return sorted(ok, key=lambda r: r[objective], reverse=maximize)[0]


def _check_objective(cfg: OptimizeConfig, data: str, strategy: str) -> None:
    """Objective and report metrics must be numeric metrics of a row: checked on a probe run
    over the first seconds of data, before the search starts."""
    probe = EvalSpec(
        data=data,
        strategy=strategy,
        tables=cfg.base,
        values={p.name: p.values.grid()[0] for p in cfg.params},
        interval=cfg.settings.interval,
    )
    names = metric_names(probe)
    if names is None:
        return  # the probe failed: the evaluations will report why, per point
    for m in (cfg.settings.objective, *cfg.settings.metrics):
        if m not in names:
            import difflib

            close = difflib.get_close_matches(m, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(names)
            raise ConfigError(f"[optimize] metric {m!r} is not a numeric result metric ({hint})")


def _specs(
    data: str, strategy: str, cfg: OptimizeConfig, points: list[dict[str, Any]], **kw: Any
) -> list[EvalSpec]:
    start, end, tags = kw.get("start"), kw.get("end"), kw.get("tags", {})
    return [
        EvalSpec(
            data=data,
            strategy=strategy,
            interval=cfg.settings.interval,
            tables=cfg.base,
            values=p,
            start=start,
            end=end,
            tags={**tags, "point": i},
        )
        for i, p in enumerate(points)
    ]


def run_grid(
    data: str,
    strategy: str,
    cfg: OptimizeConfig,
    executor: Executor,
    out: Path,
    *,
    walk_forward: WalkForward | None = None,
    progress: ProgressFn | None = None,
) -> OptimizeRun:
    """Evaluate every grid point (on each fold's train window, then the best on its test)."""
    out.mkdir(parents=True, exist_ok=True)
    _check_objective(cfg, data, strategy)
    s = cfg.settings
    journal = Journal(out / JOURNAL)
    points = cfg.points()
    run = OptimizeRun([], cfg.names, s.objective, s.maximize, out)
    try:
        if walk_forward is None:
            specs = _specs(data, strategy, cfg, points)
            run.rows, run.evaluated = _run_specs(specs, executor, journal, progress, 0, len(specs))
        else:
            folds = walk_forward.folds(*data_span(data, cfg.base))
            total = len(folds) * (len(points) + 1)
            train_specs = [
                spec
                for f in folds
                for spec in _specs(
                    data,
                    strategy,
                    cfg,
                    points,
                    start=f.train_start,
                    end=f.train_end,
                    tags={"fold": f.index, "phase": "train"},
                )
            ]
            train_rows, n1 = _run_specs(train_specs, executor, journal, progress, 0, total)
            test_specs = []
            for f in folds:
                best = _best(
                    [r for r in train_rows if r["fold"] == f.index], s.objective, s.maximize
                )
                if best is None:
                    log.warning("fold %d: no successful train evaluation", f.index)
                    continue
                values = {n: best[n] for n in cfg.names}
                test_specs.append(
                    EvalSpec(
                        data=data,
                        strategy=strategy,
                        interval=cfg.settings.interval,
                        tables=cfg.base,
                        values=values,
                        start=f.test_start,
                        end=f.test_end,
                        tags={"fold": f.index, "phase": "test", "point": best["point"]},
                    )
                )
            test_rows, n2 = _run_specs(
                test_specs, executor, journal, progress, len(train_specs), total
            )
            run.rows = train_rows + test_rows
            run.evaluated = n1 + n2
            run.walk_forward = fold_summary(folds, run.rows, cfg)
    finally:
        journal.close()
    _finish(run, cfg)
    return run


# ----------------------------------------------------------------------------- optuna
def distributions(cfg: OptimizeConfig, strategy_cls: Any) -> dict[str, Any]:
    """Optuna distributions of the grid parameters.

    Lists are categorical; ``{start, stop, step}`` ranges are int (integer bounds and step, or an
    ``int`` field) or stepped float distributions; ``{start, stop, num}`` ranges are continuous,
    log-uniform with ``log = true``.
    """
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for p in cfg.params:
        v = p.values
        if isinstance(v, Choice):
            out[p.name] = CategoricalDistribution(list(v.values))
            continue
        assert isinstance(v, Range)
        int_field = is_int_type(param_type(strategy_cls, p.name))
        if v.step is not None:
            if v.is_int or int_field:
                out[p.name] = IntDistribution(int(v.start), int(v.high), step=max(1, int(v.step)))
            else:
                out[p.name] = FloatDistribution(v.start, v.high, step=v.step)
        elif int_field:
            out[p.name] = IntDistribution(int(v.start), int(v.stop), log=v.log)
        else:
            out[p.name] = FloatDistribution(float(v.start), float(v.stop), log=v.log)
    return out


def _sqlite_path(url: str) -> Path | None:
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def _open_study(storage: str, name: str, maximize: bool, seed: int) -> Any:
    """Create or load the study. The TPE sampler's seed is ``seed`` plus the trials already
    in the study: a first run is reproducible, and a resumed one does not replay the random
    start-up points it has already tried."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if maximize else "minimize"
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, direction=direction, load_if_exists=True
        )
    except ValueError as exc:
        raise ConfigError(f"--study {name} in {storage}: {exc}") from None
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"--study {name} in {storage} was created to {study.direction.name.lower()}; "
            f"[optimize] direction is {direction}: use another --study name"
        )
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    return study


def _recover(study: Any, own_storage: bool, objective: str) -> None:
    """Trials left RUNNING by an interrupted run: finish those whose row was stored, retry the
    others (only on the run's own storage; a shared one may have other drivers running)."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not stale:
        return
    if not own_storage:
        log.warning(
            "%d trial(s) of study %s are RUNNING (other drivers, or an interrupted run); "
            "left as they are",
            len(stale),
            study.study_name,
        )
        return
    for t in stale:
        row = t.user_attrs.get("row")
        if row is not None and row.get("error") is None and _finite(row.get(objective)):
            study.tell(t.number, row[objective])
        else:
            study.tell(t.number, state=TrialState.FAIL)
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
    log.info("recovered %d interrupted trial(s) of study %s", len(stale), study.study_name)


def _finished(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "row" in t.user_attrs)
    ]


def _optuna_search(
    study: Any,
    dists: dict[str, Any],
    trials: int,
    make_spec: Callable[[dict[str, Any], dict[str, Any]], EvalSpec],
    executor: Executor,
    objective: str,
    progress: ProgressFn | None,
    offset: int,
    total: int,
) -> int:
    """Ask, evaluate and tell until the study has ``trials`` finished trials; returns the
    number of evaluations run.

    A trial whose parameters were already evaluated in this study (TPE repeats points of
    discrete spaces) takes that result instead of running the same backtest again.
    """
    from optuna.trial import TrialState

    done = len(_finished(study))
    remaining = max(0, trials - done)
    known = {t.user_attrs["row"]["key"]: t.user_attrs["row"] for t in _finished(study)}
    live: dict[int, Any] = {}
    finished = done

    def tell(trial: Any, row: dict[str, Any]) -> None:
        nonlocal finished
        trial.set_user_attr("row", row)
        value = row.get(objective)
        if row["error"] is None and _finite(value):
            study.tell(trial, value)
        else:
            study.tell(trial, state=TrialState.FAIL)
        known.setdefault(row["key"], row)
        finished += 1
        if progress:
            progress(offset + min(finished, trials), total)

    def asks() -> Iterator[EvalSpec]:
        for _ in range(remaining):
            trial = study.ask(dists)
            spec = make_spec(trial.params, {"trial": trial.number})
            seen = known.get(spec_key(spec))
            if seen is not None:
                tell(trial, {**seen, "trial": trial.number, "reused_from": seen.get("trial")})
                continue
            live[trial.number] = trial
            yield spec

    if progress:
        progress(offset + min(done, trials), total)
    n = 0
    for outcome in executor.imap_unordered(asks()):
        row = _row_of(outcome)
        tell(live.pop(outcome[0].tags["trial"]), row)
        n += 1
    return n


def _rows_of_study(study: Any, tags: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for t in sorted(_finished(study), key=lambda t: t.number):
        row = dict(t.user_attrs["row"])
        row.update(tags)
        row["trial"] = t.number
        rows.append(row)
    return rows


def run_optuna(
    data: str,
    strategy: str,
    strategy_cls: Any,
    cfg: OptimizeConfig,
    executor: Executor,
    out: Path,
    *,
    trials: int,
    storage: str | None = None,
    study: str | None = None,
    walk_forward: WalkForward | None = None,
    progress: ProgressFn | None = None,
) -> OptimizeRun:
    """Bayesian search (Optuna TPE) of ``trials`` trials, resumable from its storage.

    With walk-forward, each fold has its own study (``NAME-foldK``) searched on the fold's
    train window; its best trial is then evaluated on the test window.
    """
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError("--search optuna needs Optuna: pip install 'hftlab[cluster]'") from None
    out.mkdir(parents=True, exist_ok=True)
    _check_objective(cfg, data, strategy)
    s = cfg.settings
    own = storage is None
    url = storage or f"sqlite:///{(out / 'optuna.db').resolve()}"
    name = study or (cfg.path.stem if cfg.path is not None else "hftlab")
    dists = distributions(cfg, strategy_cls)
    run = OptimizeRun([], cfg.names, s.objective, s.maximize, out)

    def spec_maker(start: int | None, end: int | None, tags: dict[str, Any]) -> Callable[..., Any]:
        def make(values: dict[str, Any], extra: dict[str, Any]) -> EvalSpec:
            return EvalSpec(
                data=data,
                strategy=strategy,
                interval=cfg.settings.interval,
                tables=cfg.base,
                values=dict(values),
                start=start,
                end=end,
                tags={**tags, **extra},
            )

        return make

    if walk_forward is None:
        st = _open_study(url, name, s.maximize, s.seed)
        _recover(st, own, s.objective)
        run.evaluated = _optuna_search(
            st,
            dists,
            trials,
            spec_maker(None, None, {}),
            executor,
            s.objective,
            progress,
            0,
            trials,
        )
        run.rows = _rows_of_study(st, {"study": name})
    else:
        folds = walk_forward.folds(*data_span(data, cfg.base))
        total = len(folds) * (trials + 1)
        journal = Journal(out / JOURNAL)
        test_specs = []
        try:
            for f in folds:
                fname = f"{name}-fold{f.index}"
                st = _open_study(url, fname, s.maximize, s.seed)
                _recover(st, own, s.objective)
                tags = {"fold": f.index, "phase": "train"}
                run.evaluated += _optuna_search(
                    st,
                    dists,
                    trials,
                    spec_maker(f.train_start, f.train_end, tags),
                    executor,
                    s.objective,
                    progress,
                    f.index * trials,
                    total,
                )
                rows = _rows_of_study(st, {"study": fname, **tags})
                run.rows.extend(rows)
                best = _best(rows, s.objective, s.maximize)
                if best is None:
                    log.warning("fold %d: no successful trial", f.index)
                    continue
                test_specs.append(
                    EvalSpec(
                        data=data,
                        strategy=strategy,
                        interval=cfg.settings.interval,
                        tables=cfg.base,
                        values={n: best[n] for n in cfg.names},
                        start=f.test_start,
                        end=f.test_end,
                        tags={"fold": f.index, "phase": "test", "trial": best["trial"]},
                    )
                )
            test_rows, n = _run_specs(
                test_specs, executor, journal, progress, len(folds) * trials, total
            )
        finally:
            journal.close()
        run.evaluated += n
        run.rows.extend(test_rows)
        run.walk_forward = fold_summary(folds, run.rows, cfg)
    _finish(run, cfg)
    return run


# ----------------------------------------------------------------------------- results
def fold_summary(
    folds: list[Fold], rows: list[dict[str, Any]], cfg: OptimizeConfig
) -> list[dict[str, Any]]:
    """Per fold: windows, chosen parameters, in-sample vs out-of-sample objective.

    ``degradation`` is how much worse out of sample is, in the objective's direction
    (positive = worse). Additive metrics (pnl, fees, fills, ...) are compared per hour of
    window (``is_per_hour``, ``oos_per_hour``) so that train and test lengths may differ.
    """
    s = cfg.settings
    obj = s.objective
    additive = obj in ADDITIVE_METRICS
    out = []
    for f in folds:
        train = [r for r in rows if r.get("fold") == f.index and r.get("phase") == "train"]
        test = [r for r in rows if r.get("fold") == f.index and r.get("phase") == "test"]
        best = _best(train, obj, s.maximize)
        row: dict[str, Any] = f.as_dict()
        row["train_evaluations"] = len(train)
        if best is not None:
            row.update({n: best[n] for n in cfg.names})
        is_v = best[obj] if best is not None else None
        oos = test[0].get(obj) if test and test[0].get("error") is None else None
        row["is_objective"] = is_v
        row["oos_objective"] = oos
        if additive:
            h_tr = (f.train_end - f.train_start) / NS_PER_H
            h_te = (f.test_end - f.test_start) / NS_PER_H
            row["is_per_hour"] = None if is_v is None else is_v / h_tr
            row["oos_per_hour"] = None if oos is None else oos / h_te
            a, b = row["is_per_hour"], row["oos_per_hour"]
        else:
            a, b = is_v, oos
        if a is None or b is None:
            row["degradation"] = None
        else:
            row["degradation"] = (a - b) if s.maximize else (b - a)
        out.append(row)
    return out


def _finish(run: OptimizeRun, cfg: OptimizeConfig) -> None:
    first = [
        "fold",
        "phase",
        "trial",
        "point",
        *cfg.names,
        "window_start",
        "window_end",
        cfg.settings.objective,
    ]
    write_rows(run.out / RESULTS, run.rows, first)
    if run.walk_forward:
        write_rows(run.out / WALK_FORWARD, run.walk_forward, ["fold"])
    run.errors = [r["error"] for r in run.rows if r.get("error")]
    if run.rows and len(run.errors) == len(run.rows):
        raise HftlabError(
            f"every evaluation failed ({len(run.errors)}); the first: {run.errors[0]} "
            f"(rows kept in {run.out / RESULTS})"
        )


def run_search(
    data: str,
    strategy: str,
    strategy_cls: Any,
    cfg: OptimizeConfig,
    executor: Executor,
    out: Path,
    *,
    search: str = "grid",
    trials: int | None = None,
    storage: str | None = None,
    study: str | None = None,
    walk_forward: WalkForward | None = None,
    progress: ProgressFn | None = None,
) -> OptimizeRun:
    """Dispatch to :func:`run_grid` or :func:`run_optuna` (``search`` = grid | optuna)."""
    t0 = time.perf_counter()
    if search == "grid":
        for opt, v in (("--trials", trials), ("--storage", storage), ("--study", study)):
            if v is not None:
                raise ConfigError(f"{opt} is for --search optuna")
        run = run_grid(
            data, strategy, cfg, executor, out, walk_forward=walk_forward, progress=progress
        )
    elif search == "optuna":
        if trials is None:
            raise ConfigError("--search optuna needs --trials N")
        run = run_optuna(
            data,
            strategy,
            strategy_cls,
            cfg,
            executor,
            out,
            trials=trials,
            storage=storage,
            study=study,
            walk_forward=walk_forward,
            progress=progress,
        )
    else:
        raise ConfigError(f"--search {search!r}: expected grid or optuna")
    log.info("search done in %.2f s: %d evaluation(s) run", time.perf_counter() - t0, run.evaluated)
    return run
