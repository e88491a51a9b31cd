"""Fixtures of the strategy tests: one synthetic market, replayed from memory by real backtests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hftlab.backtest import run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.data.store import Store
from hftlab.data.synthetic import synthesize
from hftlab.events import Instrument
from hftlab.sim.config import SimConfig
from hftlab.strategy import Strategy

Runner = Callable[..., BacktestResult]


@pytest.fixture(scope="session")
def synth_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic BTCUSDT store (tick 1, lot 0.0001) of a few minutes of market."""
    root = tmp_path_factory.mktemp("mm") / "store"
    synthesize(root, events=200_000, instruments=["BTCUSDT"], seed=21)
    return root


@pytest.fixture(scope="session")
def synth_events(synth_store: Path) -> tuple[list[np.ndarray], list[Instrument]]:
    stream = Store(synth_store).events()
    return list(stream), stream.instruments


@pytest.fixture(scope="session")
def run(synth_events: tuple[list[np.ndarray], list[Instrument]]) -> Runner:
    """``run(strategy, **sim)``: a backtest over the synthetic market (``sim``: a [sim] table)."""
    chunks, instruments = synth_events

    def go(strategy: Strategy, **sim: Any) -> BacktestResult:
        return run_backtest(chunks, strategy, SimConfig.from_dict(sim), instruments=instruments)

    return go
