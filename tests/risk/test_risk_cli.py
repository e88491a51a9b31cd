"""`hftlab backtest` reads the [risk] table; its triggers land in the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from hftlab.cli import app
from hftlab.data.synthetic import synthesize
from hftlab.errors import ConfigError
from hftlab.risk import RISK_SCHEMA

QUOTER = "hftlab.strategies.simple_quoter:SimpleQuoter"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("riskcli") / "store"
    synthesize(root, events=20_000, instruments=["BTCUSDT"], seed=5)
    return root


def _invoke(store: Path, config: Path, out: Path) -> object:
    return CliRunner().invoke(
        app,
        [
            "backtest",
            "--data",
            str(store),
            "--strategy",
            QUOTER,
            "--config",
            str(config),
            "--out",
            str(out),
        ],
    )


def test_cli_risk_table_limits_the_run(store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "bt.toml"
    cfg.write_text(
        """
[strategy]
size = 0.002
max_position = 0.02
[risk]
max_position = { BTCUSDT = 0.004 }
max_order_rate = 10
"""
    )
    res = _invoke(store, cfg, tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert "risk triggers:" in res.output
    table = pq.read_table(tmp_path / "run" / "risk.parquet")
    assert table.schema.equals(RISK_SCHEMA)
    rules = table["rule"].to_pylist()
    assert "order_rate" in rules and set(rules) <= {"order_rate", "max_position"}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for rule in ("order_rate", "max_position"):
        assert summary["risk"]["triggers"][rule] == rules.count(rule)
    assert abs(summary["instruments"]["synth/BTCUSDT"]["position"]) <= 0.004 + 1e-12
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["risk_config"]["max_order_rate"] == 10


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("[risk]\nmax_loss = 5\nmax_los = 1\n", "max_los"),
        ("[risk]\nmax_loss = -5.0\n", "max_loss"),
        ("[risk]\nmax_position = { NOPE = 1.0 }\n", "NOPE"),
        ("[rsik]\nmax_loss = 5\n", "unknown table"),
    ],
)
def test_cli_risk_errors_are_one_line(store: Path, tmp_path: Path, body: str, match: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    res = _invoke(store, cfg, tmp_path / "o")
    assert res.exit_code != 0
    assert isinstance(res.exception, ConfigError), res.exception
    assert match in str(res.exception) and "\n" not in str(res.exception)
