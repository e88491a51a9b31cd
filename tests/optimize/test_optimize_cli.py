"""`hftlab optimize` end to end on a small synthetic store."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
from optimize_helpers import QUOTER
from typer.testing import CliRunner

from hftlab.cli import app


def _invoke(*args: str) -> str:
    res = CliRunner().invoke(app, ["optimize", *args])
    assert res.exit_code == 0, (res.output, res.exception)
    return res.output


def test_cli_writes_results_and_a_standalone_report(
    store: Path, grid_toml: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    text = _invoke(
        "--data", str(store), "--strategy", QUOTER, "--config", str(grid_toml),
        "--out", str(out), "--executor", "process", "--workers", "2", "--top", "3",
    )  # fmt: skip
    table = pq.read_table(out / "results.parquet")
    assert table.num_rows == 12
    for col in ("strategy.half_spread_ticks", "strategy.interval_ms", "sim.queue_model",
                "pnl", "fills", "wall_s", "error"):  # fmt: skip
        assert col in table.column_names
    assert all(e is None for e in table["error"].to_pylist())
    # the terminal shows the top 3, best first
    assert "top 3 by pnl" in text
    best = max(table["pnl"].to_pylist())
    ranks = re.findall(r"^\s*1 │.*$", text, flags=re.M)
    assert ranks and f"{best:.6g}" in ranks[0]
    page = (out / "report.html").read_text()
    assert "Bokeh" in page and "cdn.bokeh.org" not in page  # JS inline: opens offline
    assert "<script src=" not in page
    for needle in ("strategy.half_spread_ticks", "pnl (best over the other parameters)",
                   "pnl (mean over the other parameters)", "fills"):  # fmt: skip
        assert needle in page


def test_cli_walk_forward_report(store: Path, grid_toml: Path, tmp_path: Path) -> None:
    out = tmp_path / "wf"
    text = _invoke(
        "--data", str(store), "--strategy", QUOTER, "--config", str(grid_toml),
        "--out", str(out), "--executor", "serial", "--walk-forward", "folds=2",
    )  # fmt: skip
    assert "walk-forward" in text
    wf = pq.read_table(out / "walk_forward.parquet").to_pylist()
    assert [r["fold"] for r in wf] == [0, 1]
    assert all(r["oos_objective"] is not None for r in wf)
    page = (out / "report.html").read_text()
    assert "walk-forward: in-sample" in page


def test_cli_optuna_search(store: Path, grid_toml: Path, tmp_path: Path) -> None:
    out = tmp_path / "opt"
    _invoke(
        "--data", str(store), "--strategy", QUOTER, "--config", str(grid_toml),
        "--out", str(out), "--executor", "process", "--workers", "2",
        "--search", "optuna", "--trials", "6",
    )  # fmt: skip
    assert (out / "optuna.db").exists()
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert sorted(r["trial"] for r in rows) == list(range(6))


BOOM = """
from hftlab.strategies.simple_quoter import SimpleQuoter


class Boom(SimpleQuoter):
    def on_timer(self, ctx):
        if self.config.half_spread_ticks >= 2:
            raise RuntimeError("boom")
        super().on_timer(ctx)
"""


def test_failing_points_are_recorded_and_the_search_goes_on(store: Path, tmp_path: Path) -> None:
    from optimize_helpers import BASE

    from hftlab.errors import HftlabError

    (tmp_path / "boom.py").write_text(BOOM)
    strategy = f"{tmp_path / 'boom.py'}:Boom"
    cfg = tmp_path / "g.toml"
    cfg.write_text(BASE + "[grid]\nstrategy.half_spread_ticks = [1, 2]\n")
    out = tmp_path / "out"
    _invoke(
        "--data", str(store), "--strategy", strategy, "--config", str(cfg),
        "--out", str(out), "--workers", "2",
    )  # fmt: skip
    rows = {r["strategy.half_spread_ticks"]: r for r in pq.read_table(out / "results.parquet")
            .to_pylist()}  # fmt: skip
    assert rows[1]["error"] is None and rows[1]["pnl"] is not None
    assert "EngineError: strategy Boom.on_timer failed" in rows[2]["error"]
    assert "RuntimeError: boom" in rows[2]["error"]
    # when every point fails the command fails (one line), the rows still written
    cfg.write_text(BASE + "[grid]\nstrategy.half_spread_ticks = [2, 3]\n")
    res = CliRunner().invoke(
        app,
        ["optimize", "--data", str(store), "--strategy", strategy, "--config", str(cfg),
         "--out", str(tmp_path / "all"), "--executor", "serial"],
    )  # fmt: skip
    assert isinstance(res.exception, HftlabError)
    assert "every evaluation failed (2)" in str(res.exception)
    assert (tmp_path / "all" / "results.parquet").exists()
