"""The tick-level backtester: drive the sim core over stored data with a strategy.

>>> from hftlab.backtest import run_backtest
>>> result = run_backtest(store.events(), MyStrategy(), SimConfig())   # doctest: +SKIP
>>> result.save("runs/my-run")                                          # doctest: +SKIP
"""

from __future__ import annotations

from hftlab.backtest.engine import core_is_compiled, run_backtest
from hftlab.backtest.result import BacktestResult

__all__ = ["BacktestResult", "core_is_compiled", "run_backtest"]
