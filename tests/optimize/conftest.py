"""Shared fixtures of the optimiser tests: one small synthetic store, grid configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from optimize_helpers import GRID

from hftlab.data.synthetic import synthesize


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BTCUSDT-only synthetic store (small: evaluations take a fraction of a second)."""
    root = tmp_path_factory.mktemp("optimize") / "store"
    synthesize(root, events=30_000, instruments=["BTCUSDT"], seed=5)
    return root


@pytest.fixture
def grid_toml(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path
