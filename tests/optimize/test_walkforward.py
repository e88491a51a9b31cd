"""Walk-forward: folds tile the span, train never overlaps its test, best-on-train is tested."""

from __future__ import annotations

import itertools
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from optimize_helpers import QUOTER

from hftlab.engine.spec import data_span
from hftlab.errors import ConfigError
from hftlab.optimize.executors import SerialExecutor
from hftlab.optimize.search import run_grid
from hftlab.optimize.spec import load_optimize_config
from hftlab.optimize.walkforward import parse_walk_forward
from hftlab.strategies.simple_quoter import SimpleQuoter

H = 3_600_000_000_000


@pytest.mark.parametrize(
    "text", ["train=2h,test=1h", "train=2h,test=1h,step=30m", "train=3h,test=1h,anchored"]
)
def test_rolling_folds_never_overlap_their_test(text: str) -> None:
    wf = parse_walk_forward(text)
    start, end = 1_700_000_000_000_000_000, 1_700_000_000_000_000_000 + 10 * H + 123
    folds = wf.folds(start, end)
    assert folds
    for f in folds:
        assert start <= f.train_start < f.train_end == f.test_start < f.test_end <= end
        if "anchored" in text:
            assert f.train_start == start
        else:
            assert f.train_end - f.train_start == wf.train
        assert f.test_end - f.test_start == wf.test
    # successive folds move on by the step; with the default step the tests tile the span
    steps = {b.test_start - a.test_start for a, b in itertools.pairwise(folds)}
    assert steps == {wf.step or wf.test}
    # the span is used to its end: one more fold would not fit
    assert folds[-1].test_end + (wf.step or wf.test) > end


def test_folds_n_cover_the_span_exactly() -> None:
    wf = parse_walk_forward("folds=4")
    start, end = 1000, 1000 + 5 * 777 + 3
    folds = wf.folds(start, end)
    assert len(folds) == 4
    assert folds[0].train_start == start
    assert folds[-1].test_end == end
    for a, b in itertools.pairwise(folds):
        assert a.test_start == b.train_start and a.test_end == b.test_start
    for f in folds:
        assert f.train_end == f.test_start


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train=2h", "give both train= and test="),
        ("train=2h,test=1h,folds=3", "folds=N takes no other keys"),
        ("folds=0", "need at least 1"),
        ("train=2h,tset=1h", "unknown key 'tset'"),
        ("train=2x,test=1h", "expected a number and a unit"),
    ],
)
def test_bad_walk_forward_options(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_walk_forward(text)


def test_windows_longer_than_the_data_are_refused() -> None:
    with pytest.raises(ConfigError, match="longer than the data span"):
        parse_walk_forward("train=2h,test=1h").folds(0, H)


def test_walk_forward_grid_tests_the_best_train_point(
    store: Path, grid_toml: Path, tmp_path: Path
) -> None:
    cfg = load_optimize_config(grid_toml, SimpleQuoter)
    start, end = data_span(store, cfg.base)
    third = (end - start) // 3 // 1_000_000_000  # whole seconds: train 2/3, test 1/3
    wf = parse_walk_forward(f"train={third}s,test={third}s")
    folds = wf.folds(start, end)
    assert len(folds) == 2
    with SerialExecutor() as ex:
        run = run_grid(str(store), QUOTER, cfg, ex, tmp_path / "out", walk_forward=wf)
    rows = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    assert len(rows) == len(folds) * (cfg.size() + 1)
    summary = pq.read_table(tmp_path / "out" / "walk_forward.parquet").to_pylist()
    assert [s["fold"] for s in summary] == [0, 1]
    for f, s in zip(folds, summary, strict=True):
        train = [r for r in rows if r["fold"] == f.index and r["phase"] == "train"]
        test = [r for r in rows if r["fold"] == f.index and r["phase"] == "test"]
        assert len(train) == cfg.size() and len(test) == 1
        assert {(r["window_start"], r["window_end"]) for r in train} == {
            (f.train_start, f.train_end)
        }
        assert (test[0]["window_start"], test[0]["window_end"]) == (f.test_start, f.test_end)
        best = max(train, key=lambda r: r["pnl"])
        assert s["is_objective"] == best["pnl"]
        assert s["oos_objective"] == test[0]["pnl"]
        for name in cfg.names:
            assert test[0][name] == s[name] == best[name]
        assert s["degradation"] == pytest.approx(s["is_per_hour"] - s["oos_per_hour"])
    assert run.walk_forward == summary
