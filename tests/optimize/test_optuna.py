"""Optuna search: distributions from the grid spec; a killed study resumes where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from optimize_helpers import BASE, QUOTER

optuna = pytest.importorskip("optuna")

from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState  # noqa: E402

from hftlab.optimize.cli import optimize_from_cli  # noqa: E402
from hftlab.optimize.search import distributions  # noqa: E402
from hftlab.optimize.spec import parse_optimize_config  # noqa: E402
from hftlab.strategies.simple_quoter import SimpleQuoter  # noqa: E402

CONTINUOUS = (
    BASE
    + """
[grid]
strategy.half_spread_ticks = { start = 0.5, stop = 3.0, num = 6 }
strategy.skew_ticks = { start = 0.25, stop = 4.0, num = 5, log = true }
strategy.interval_ms = { start = 100, stop = 300, step = 50 }
[optimize]
objective = "pnl"
seed = 1
"""
)


def test_distributions_follow_the_grid_spec() -> None:
    import tomllib

    doc = tomllib.loads(
        BASE
        + """
[grid]
sim.queue_model = ["risk_averse", "prob_power"]
strategy.half_spread_ticks = { start = 0.5, stop = 3.0, num = 6 }
strategy.skew_ticks = { start = 0.25, stop = 4.0, num = 5, log = true }
strategy.interval_ms = { start = 100, stop = 290, step = 50 }
strategy.size = { start = 0.001, stop = 0.003, step = 0.001 }
strategy.instrument = { start = 0, stop = 0, num = 1 }
"""
    )
    d = distributions(parse_optimize_config(doc, SimpleQuoter), SimpleQuoter)
    assert d["sim.queue_model"] == CategoricalDistribution(["risk_averse", "prob_power"])
    assert d["strategy.half_spread_ticks"] == FloatDistribution(0.5, 3.0)
    assert d["strategy.skew_ticks"] == FloatDistribution(0.25, 4.0, log=True)
    # an integer step range (stop rounded down onto its grid)
    assert d["strategy.interval_ms"] == IntDistribution(100, 250, step=50)
    assert d["strategy.size"] == FloatDistribution(0.001, 0.003, step=0.001)
    # an int field keeps integer suggestions
    assert d["strategy.instrument"] == IntDistribution(0, 0)


def _finished(db: Path, study: str) -> tuple[list[tuple[int, dict, float]], int]:
    """Completed trials (number, params, value), and RUNNING trials that kept their row."""
    st = optuna.load_study(study_name=study, storage=f"sqlite:///{db}")
    complete = [
        (t.number, t.params, t.value) for t in st.get_trials() if t.state == TrialState.COMPLETE
    ]
    kept = sum(
        1 for t in st.get_trials() if t.state == TrialState.RUNNING and "row" in t.user_attrs
    )
    return complete, kept


def test_killed_study_resumes_without_redoing_trials(store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "opt.toml"
    cfg.write_text(CONTINUOUS)
    out = tmp_path / "out"
    db = out / "optuna.db"
    trials = 40
    args = [
        sys.executable, "-m", "hftlab", "optimize", "--data", str(store), "--strategy", QUOTER,
        "--config", str(cfg), "--out", str(out), "--executor", "serial",
        "--search", "optuna", "--trials", str(trials),
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        before: list = []
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    before, _ = _finished(db, "opt")
                except Exception:  # the study table is being created
                    before = []
                if len(before) >= 4:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before, kept = _finished(db, "opt")
    assert 4 <= len(before) < trials
    # re-running the same command continues the study
    run = optimize_from_cli(
        data=store,
        strategy=QUOTER,
        config=cfg,
        out=out,
        executor="serial",
        search="optuna",
        trials=trials,
        echo=lambda m: None,
    )
    after, _ = _finished(db, "opt")
    assert len(after) == trials
    done_after = {n: (p, v) for n, p, v in after}
    for n, p, v in before:  # completed trials are kept as they were
        assert done_after[n] == (p, v)
    assert run.evaluated == trials - len(before) - kept  # nothing done twice
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert sorted(r["trial"] for r in rows) == sorted(n for n, _, _ in after)
    # and once complete, a re-run evaluates nothing
    again = optimize_from_cli(
        data=store,
        strategy=QUOTER,
        config=cfg,
        out=out,
        executor="serial",
        search="optuna",
        trials=trials,
        echo=lambda m: None,
    )
    assert again.evaluated == 0
    assert (out / "report.html").exists()
