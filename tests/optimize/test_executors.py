"""The same grid through every executor gives the same table; evaluate is deterministic."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from optimize_helpers import QUOTER

from hftlab.optimize.evaluate import EvalSpec, evaluate
from hftlab.optimize.executors import ProcessExecutor, RayExecutor, SerialExecutor, make_executor
from hftlab.optimize.search import run_grid
from hftlab.optimize.spec import load_optimize_config
from hftlab.strategies.simple_quoter import SimpleQuoter

VOLATILE = {"wall_s", "key"}


def _table(path: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(path).to_pylist()
    for r in rows:
        for k in VOLATILE:
            r.pop(k, None)
    return sorted(rows, key=lambda r: r["point"])


def _grid(store: Path, grid_toml: Path, out: Path, executor: Any) -> list[dict[str, Any]]:
    cfg = load_optimize_config(grid_toml, SimpleQuoter)
    with executor as ex:
        run = run_grid(str(store), QUOTER, cfg, ex, out)
    assert run.evaluated == cfg.size()
    assert not run.errors
    return _table(out / "results.parquet")


@pytest.fixture(scope="module")
def serial_rows(store: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    from optimize_helpers import GRID

    d = tmp_path_factory.mktemp("serial")
    (d / "grid.toml").write_text(GRID)
    return _grid(store, d / "grid.toml", d / "out", SerialExecutor())


def test_evaluate_is_pure_and_picklable(store: Path) -> None:
    spec = EvalSpec(
        data=str(store),
        strategy=QUOTER,
        tables={"data": {"instruments": ["synth/BTCUSDT"]}, "strategy": {"size": 0.001}},
        values={"strategy.half_spread_ticks": 1, "sim.queue_model": "risk_averse"},
        tags={"point": 7},
    )
    clone = pickle.loads(pickle.dumps(spec))
    assert clone == spec
    a, b = evaluate(spec), evaluate(clone)  # the second comes from the event cache
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b
    assert a["point"] == 7
    assert a["strategy.half_spread_ticks"] == 1
    assert a["fills"] > 0  # a real run: the quoter traded
    assert spec.tables["strategy"] == {"size": 0.001}  # the spec was not modified


def test_results_have_one_row_per_point_with_params_and_metrics(
    serial_rows: list[dict[str, Any]],
) -> None:
    assert len(serial_rows) == 12
    row = serial_rows[0]
    for col in ("strategy.half_spread_ticks", "sim.queue_model", "pnl", "fills", "sharpe"):
        assert col in row
    # the points differ, so the runs do: not every row may be identical
    assert len({(r["fills"], r["pnl"]) for r in serial_rows}) > 1


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_process_pool_matches_serial(
    store: Path,
    grid_toml: Path,
    tmp_path: Path,
    serial_rows: list[dict[str, Any]],
    start_method: str,
) -> None:
    rows = _grid(store, grid_toml, tmp_path / "out", ProcessExecutor(2, start_method))
    assert rows == serial_rows


def test_ray_local_instance_matches_serial(
    store: Path, grid_toml: Path, tmp_path: Path, serial_rows: list[dict[str, Any]]
) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ex = make_executor("ray", 2)
        assert isinstance(ex, RayExecutor)
        rows = _grid(store, grid_toml, tmp_path / "out", ex)
    finally:
        ray.shutdown()
    assert rows == serial_rows


class _Interrupted(SerialExecutor):
    """A serial executor whose run is interrupted after ``after`` evaluations."""

    def __init__(self, after: int) -> None:
        self.after = after

    def imap_unordered(self, specs: Any) -> Any:
        for n, outcome in enumerate(super().imap_unordered(specs)):
            if n == self.after:
                raise KeyboardInterrupt
            yield outcome


def test_grid_resumes_from_its_journal(
    store: Path, grid_toml: Path, tmp_path: Path, serial_rows: list[dict[str, Any]]
) -> None:
    cfg = load_optimize_config(grid_toml, SimpleQuoter)
    out = tmp_path / "out"
    # a run cut short (Ctrl-C) after 5 evaluations reached the journal
    with pytest.raises(KeyboardInterrupt):
        run_grid(str(store), QUOTER, cfg, _Interrupted(after=5), out)
    journal = out / "evaluations.jsonl"
    lines = journal.read_text().splitlines()
    assert len(lines) == 5
    # and a crash tore the last line in half: that point is redone, the others are kept
    journal.write_text("\n".join(lines[:4]) + "\n" + lines[4][: len(lines[4]) // 2])
    with SerialExecutor() as ex:
        run = run_grid(str(store), QUOTER, cfg, ex, out)
    assert run.evaluated == cfg.size() - 4
    assert _table(out / "results.parquet") == serial_rows
    # a third run finds everything done
    with SerialExecutor() as ex:
        assert run_grid(str(store), QUOTER, cfg, ex, out).evaluated == 0


def test_unknown_executor_and_misplaced_address() -> None:
    from hftlab.errors import ConfigError

    with pytest.raises(ConfigError, match="expected one of process, serial, ray"):
        make_executor("threads")
    with pytest.raises(ConfigError, match="--address is for --executor ray"):
        make_executor("process", 2, "auto")
