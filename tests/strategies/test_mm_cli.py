"""The shipped example configs through the CLI: synthetic store and a real Binance capture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hftlab.cli import app
from hftlab.data.store import Store

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
AS = "hftlab.strategies.avellaneda_stoikov:AvellanedaStoikov"
GLFT = "hftlab.strategies.glft:Glft"
USDM = "hftbacktest/examples/usdm/btcusdt_20240808.gz"


def _backtest(store: Path, strategy: str, config: Path, out: Path) -> dict:
    res = CliRunner().invoke(
        app,
        [
            "backtest",
            "--data",
            str(store),
            "--strategy",
            strategy,
            "--config",
            str(config),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "results ->" in res.output
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def synth_cli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "store"
    res = CliRunner().invoke(
        app, ["synth", "--out", str(root), "--events", "150000", "--instrument", "BTCUSDT"]
    )
    assert res.exit_code == 0, res.output
    return root


@pytest.mark.parametrize(
    ("strategy", "config"), [(AS, "as_synth.toml"), (GLFT, "glft_synth.toml")], ids=["as", "glft"]
)
def test_example_configs_on_synthetic_store(
    synth_cli_store: Path, tmp_path: Path, strategy: str, config: str
) -> None:
    summary = _backtest(synth_cli_store, strategy, CONFIGS / config, tmp_path / "run")
    inst = summary["instruments"]["synth/BTCUSDT"]
    assert summary["strategy"] in ("AvellanedaStoikov", "Glft")
    assert inst["maker_fills"] > 0 and inst["taker_fills"] == 0  # post-only quotes only
    assert inst["orders_sent"] > 0
    assert abs(inst["position"]) <= 0.01 + 1e-12  # max_position of both configs
    # the quote manager's counters are in the summary and agree with the order log
    st = summary["strategy_stats"]
    assert st["sent"] == inst["orders_sent"] and st["wakeups"] > 0


def test_config_error_is_one_line_with_status_2(synth_cli_store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[strategy]\ngamma = -0.1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hftlab",
            "backtest",
            "--data",
            str(synth_cli_store),
            "--strategy",
            AS,
            "--config",
            str(bad),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert "\n" not in err and "gamma" in err and err.startswith("error:")


@pytest.fixture(scope="module")
def usdm_store(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = real_data / USDM
    if not src.is_file():
        pytest.fail(f"real-data file missing: {src}")
    root = tmp_path_factory.mktemp("usdm") / "store"
    res = CliRunner().invoke(app, ["import", str(src), "--out", str(root)])
    assert res.exit_code == 0, res.output
    return root


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("strategy", "config"),
    [(AS, "as_binance_usdm.toml"), (GLFT, "glft_binance_usdm.toml")],
    ids=["as", "glft"],
)
def test_example_configs_on_real_capture(
    usdm_store: Path, tmp_path: Path, strategy: str, config: str
) -> None:
    assert "binance-futures/BTCUSDT" in {i.key for i in Store(usdm_store).events().instruments}
    summary = _backtest(usdm_store, strategy, CONFIGS / config, tmp_path / "run")
    inst = summary["instruments"]["binance-futures/BTCUSDT"]
    assert inst["maker_fills"] > 0 and inst["taker_fills"] == 0
    assert abs(inst["position"]) <= 0.02 + 1e-12  # max_position of both configs
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["strategy_config"]["intensity"] == "online"
