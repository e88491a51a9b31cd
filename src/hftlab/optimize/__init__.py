"""Parameter search over backtests: grid and Optuna, walk-forward, local pool or Ray.

>>> from hftlab.optimize import EvalSpec, evaluate                      # doctest: +SKIP
>>> row = evaluate(EvalSpec(data="store", strategy="pkg.mod:Cls", values={"strategy.x": 1}))

See ``docs/optimize.md``. The command is ``hftlab optimize``.
"""

from __future__ import annotations

from hftlab.optimize.evaluate import EvalSpec, evaluate, metrics_of
from hftlab.optimize.executors import (
    Executor,
    ProcessExecutor,
    RayExecutor,
    SerialExecutor,
    make_executor,
)
from hftlab.optimize.search import OptimizeRun, run_grid, run_optuna, run_search
from hftlab.optimize.spec import OptimizeConfig, load_optimize_config, parse_optimize_config
from hftlab.optimize.walkforward import Fold, WalkForward, parse_walk_forward

__all__ = [
    "EvalSpec",
    "Executor",
    "Fold",
    "OptimizeConfig",
    "OptimizeRun",
    "ProcessExecutor",
    "RayExecutor",
    "SerialExecutor",
    "WalkForward",
    "evaluate",
    "load_optimize_config",
    "make_executor",
    "metrics_of",
    "parse_optimize_config",
    "parse_walk_forward",
    "run_grid",
    "run_optuna",
    "run_search",
]
