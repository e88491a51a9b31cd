"""Grid files: expansion of lists and ranges, and validation before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from optimize_helpers import BASE, QUOTER
from typer.testing import CliRunner

from hftlab.cli import app
from hftlab.errors import ConfigError
from hftlab.optimize.spec import Choice, Range, load_optimize_config, parse_optimize_config
from hftlab.strategies.simple_quoter import SimpleQuoter


def _parse(grid: str, extra: str = "") -> object:
    import tomllib

    return parse_optimize_config(tomllib.loads(BASE + "[grid]\n" + grid + extra), SimpleQuoter)


def test_lists_and_ranges_expand_to_the_cartesian_product(grid_toml: Path) -> None:
    cfg = load_optimize_config(grid_toml, SimpleQuoter)
    assert cfg.names == [
        "strategy.half_spread_ticks",
        "strategy.interval_ms",
        "sim.queue_model",
    ]
    points = cfg.points()
    assert cfg.size() == len(points) == 3 * 2 * 2
    assert points[0] == {
        "strategy.half_spread_ticks": 0,
        "strategy.interval_ms": 100,
        "sim.queue_model": "risk_averse",
    }
    assert points[-1]["strategy.half_spread_ticks"] == 2
    assert len({tuple(p.values()) for p in points}) == len(points)  # all distinct
    assert cfg.settings.objective == "pnl"
    assert cfg.settings.metrics == ("fills",)


def test_range_forms() -> None:
    assert Range(0.1, 0.5, step=0.1).grid() == [0.1, 0.2, 0.3, 0.4, 0.5]  # no 0.30000000000000004
    assert Range(1, 10, step=4).grid() == [1, 5, 9]  # stop not on the grid: not passed
    assert Range(1, 10, step=4).is_int
    assert Range(0.0, 1.0, num=5).grid() == [0.0, 0.25, 0.5, 0.75, 1.0]
    logs = Range(1.0, 100.0, num=3, log=True).grid()
    assert logs == pytest.approx([1.0, 10.0, 100.0])
    assert Range(2.0, 2.0, num=1).grid() == [2.0]


def test_nested_sim_parameters_are_known() -> None:
    cfg = _parse("sim.fees.maker = [-0.0001, 0.0]\nsim.entry_latency.value_us = [100, 500]\n")
    assert cfg.names == ["sim.fees.maker", "sim.entry_latency.value_us"]
    assert isinstance(cfg.params[0].values, Choice)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (
            "strategy.half_spred_ticks = [1, 2]\n",
            "unknown parameter 'strategy.half_spred_ticks' "
            "(did you mean 'strategy.half_spread_ticks'?)",
        ),
        ("sim.queue_modle = ['l1']\n", "did you mean 'sim.queue_model'?"),
        ("half_spread_ticks = [1, 2]\n", "must start with one of strategy., sim., risk."),
        ("strategy.size = []\n", "give at least one value"),
        ("strategy.size = 0.001\n", "expected a list of values or a range"),
        ("strategy.size = { start = 0.002, stop = 0.001, step = 0.001 }\n", "stop 0.001 < start"),
        ("strategy.size = { start = 0.001, stop = 0.002, step = 0 }\n", "step must be > 0"),
        ("strategy.size = { start = 0.001, stop = 0.002 }\n", "needs step or num"),
        ("strategy.size = { start = 0, stop = 1, num = 3, log = true }\n", "needs start > 0"),
        ("strategy.size = { start = 1, stop = 2, num = 0 }\n", "num must be an integer >= 1"),
        ("strategy.size = { start = 1, stop = 2, stpe = 1 }\n", "unknown range key(s) ['stpe']"),
        ("strategy.half_spread_ticks = [1, -1]\n", "half_spread_ticks = -1"),
        ("sim.queue_model = ['risk_averse', 'fifo']\n", "sim.queue_model = 'fifo'"),
    ],
)
def test_invalid_grids_are_one_line_config_errors(grid: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(grid)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_empty_or_missing_grid() -> None:
    import tomllib

    for doc in (BASE, BASE + "[grid]\n"):
        with pytest.raises(ConfigError, match=r"\[grid\] table is missing or empty"):
            parse_optimize_config(tomllib.loads(doc), SimpleQuoter)


def test_bad_data_table() -> None:
    import tomllib

    doc = (
        BASE.replace("[data]\n", '[data]\ninstrument = ["x"]\n')
        + "[grid]\nstrategy.size = [0.001]\n"
    )
    with pytest.raises(ConfigError, match="did you mean 'instruments'"):
        parse_optimize_config(tomllib.loads(doc), SimpleQuoter)
    doc = (
        BASE.replace("[data]\n", '[data]\nstart = "yesterday"\n')
        + "[grid]\nstrategy.size = [0.001]\n"
    )
    with pytest.raises(ConfigError, match="not an ISO time"):
        parse_optimize_config(tomllib.loads(doc), SimpleQuoter)


def test_unknown_optimize_key_and_table() -> None:
    with pytest.raises(ConfigError, match="did you mean 'objective'"):
        _parse("strategy.size = [0.001]\n", "[optimize]\nobjectiv = 'pnl'\n")
    with pytest.raises(ConfigError, match=r"unknown table\(s\) \['grdi'\]"):
        import tomllib

        parse_optimize_config(tomllib.loads(BASE + "[grdi]\na = [1]\n"), SimpleQuoter)


def test_cli_refuses_an_unknown_parameter_before_any_work(store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(BASE + "[grid]\nstrategy.half_spred_ticks = [1, 2]\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "optimize",
            "--data",
            str(store),
            "--strategy",
            QUOTER,
            "--config",
            str(cfg),
            "--out",
            str(out),
        ],
    )
    assert isinstance(res.exception, ConfigError), res.output
    assert "did you mean 'strategy.half_spread_ticks'?" in str(res.exception)
    assert not out.exists()  # nothing ran, nothing written


def test_cli_refuses_an_unknown_objective_before_the_search(store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        BASE + "[grid]\nstrategy.half_spread_ticks = [1, 2]\n"
        "[optimize]\nobjective = 'sharp_per_period'\n"
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "optimize",
            "--data",
            str(store),
            "--strategy",
            QUOTER,
            "--config",
            str(cfg),
            "--out",
            str(out),
            "--executor",
            "serial",
        ],
    )
    assert isinstance(res.exception, ConfigError), res.output
    assert "did you mean 'sharpe_per_period'?" in str(res.exception)
    assert not (out / "results.parquet").exists()
