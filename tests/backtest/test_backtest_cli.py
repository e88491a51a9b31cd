"""End to end: `hftlab backtest` over a synthetic store; determinism; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hftlab.cli import app
from hftlab.data.store import Store
from hftlab.data.synthetic import synthesize

QUOTER = "hftlab.strategies.simple_quoter:SimpleQuoter"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bt") / "store"
    synthesize(root, events=60_000, instruments=["BTCUSDT"], seed=11)
    return root


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bt.toml"
    path.write_text(
        """
[sim]
queue_model = "prob_power"
fees = { maker = -0.0001, taker = 0.0004 }
seed = 5
[sim.entry_latency]
kind = "empirical"
samples_us = [300.0, 500.0, 2000.0]
[sim.response_latency]
kind = "constant"
value_us = 400
[strategy]
size = 0.001
max_position = 0.005
half_spread_ticks = 1
"""
    )
    return path


def _run(store: Path, config: Path, out: Path) -> None:
    res = CliRunner().invoke(
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
    assert res.exit_code == 0, res.output
    assert "results ->" in res.output


def test_backtest_cli_writes_run_folder_deterministically(
    store: Path, config: Path, tmp_path: Path
) -> None:
    _run(store, config, tmp_path / "a")
    _run(store, config, tmp_path / "b")
    for name in ("state.parquet", "orders.parquet", "fills.parquet", "summary.json"):
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes(), name
    import pyarrow.parquet as pq

    fills = pq.read_table(tmp_path / "a" / "fills.parquet")
    state = pq.read_table(tmp_path / "a" / "state.parquet")
    orders = pq.read_table(tmp_path / "a" / "orders.parquet")
    assert fills.num_rows > 0
    assert state.num_rows > 100
    assert {"ts_local", "ts_exchange"} <= set(orders.column_names)
    assert {"equity", "position", "cash", "fees", "mid", "bid", "ask"} <= set(state.column_names)


def test_backtest_result_conservation_on_synthetic_data(store: Path) -> None:
    from hftlab.backtest import run_backtest
    from hftlab.sim.config import Fees, SimConfig
    from hftlab.strategies.simple_quoter import SimpleQuoter, SimpleQuoterConfig

    s = Store(store)
    res = run_backtest(
        s.events(),
        SimpleQuoter(SimpleQuoterConfig(size=0.001, max_position=0.003)),
        SimConfig(fees=Fees(maker=-0.0001, taker=0.0004)),
    )
    f = res.fills.to_pylist()
    summ = res.summary["instruments"]["synth/BTCUSDT"]
    assert summ["position"] == pytest.approx(sum(r["side"] * r["last_qty"] for r in f))
    assert summ["cash"] == pytest.approx(sum(r["cash_delta"] - r["fee"] for r in f))
    assert abs(summ["position"]) <= 0.003 + 0.001 + 1e-12  # one order in flight past the cap
    assert res.summary["events"] == s.events().rows


def test_backtest_cli_errors_are_one_line(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.toml"
    bad.write_text("[sim]\nqueue_model = 'fifo'\n")
    for args in (
        ["--strategy", QUOTER, "--config", str(bad)],
        ["--strategy", "hftlab.strategies.simple_quoter:Nope"],
        ["--strategy", "nosuchmodule:X"],
    ):
        res = runner.invoke(
            app, ["backtest", "--data", str(store), "--out", str(tmp_path / "o"), *args]
        )
        assert res.exit_code != 0
        assert isinstance(res.exception, Exception)
        from hftlab.errors import ConfigError

        assert isinstance(res.exception, ConfigError), res.exception


def test_strategy_exception_becomes_engine_error(store: Path) -> None:
    from hftlab.backtest import run_backtest
    from hftlab.errors import EngineError
    from hftlab.strategy import Strategy

    class Boom(Strategy):
        def on_start(self, ctx):
            ctx.every(1_000_000_000)

        def on_timer(self, ctx):
            raise ZeroDivisionError("oops")

    with pytest.raises(EngineError, match=r"Boom\.on_timer failed at t=\d+ ns: ZeroDivisionError"):
        run_backtest(Store(store).events(), Boom())
