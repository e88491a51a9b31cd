"""compute_metrics / load_run over a real backtest run folder (synthetic store, SimpleQuoter)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from hftlab.analytics import RunData, compute_metrics, load_run, run_pnl_decomposition
from hftlab.backtest import BacktestResult, run_backtest
from hftlab.data.store import Store
from hftlab.data.synthetic import synthesize
from hftlab.errors import DataError, StoreError
from hftlab.sim.config import Fees, SimConfig
from hftlab.strategies.simple_quoter import SimpleQuoter, SimpleQuoterConfig


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestResult, Path]:
    root = tmp_path_factory.mktemp("runm")
    synthesize(root / "store", events=60_000, instruments=["BTCUSDT"], seed=11)
    cfg = SimConfig(fees=Fees(maker=-0.0001, taker=0.0004), seed=3)
    strat = SimpleQuoter(SimpleQuoterConfig(size=0.001, max_position=0.004))
    res = run_backtest(
        Store(root / "store").events(),
        strat,
        cfg,
        run_info={"data": str(root / "store")},
    )
    return res, res.save(root / "run")


def test_same_inputs_same_dict(result: tuple[BacktestResult, Path]) -> None:
    res, path = result
    a = compute_metrics(path)
    b = compute_metrics(load_run(path))
    c = compute_metrics(res)
    assert a == b
    assert a["run"] == "run" and c["run"] == "<memory>"
    assert {k: v for k, v in a.items() if k != "run"} == {k: v for k, v in c.items() if k != "run"}
    for value in a.values():
        assert value is None or isinstance(value, int | float | str)


def test_figures_agree_with_the_summary(result: tuple[BacktestResult, Path]) -> None:
    res, path = result
    m = compute_metrics(path)
    per = res.summary["instruments"]["synth/BTCUSDT"]
    assert m["fills"] == per["fills"] > 0
    assert m["maker_fills"] == per["maker_fills"]
    assert m["taker_fills"] == per["taker_fills"]
    assert m["maker_fills"] + m["taker_fills"] == m["fills"]
    assert m["volume"] == pytest.approx(per["volume"], rel=1e-12)
    assert m["fees"] == pytest.approx(per["fees"], rel=1e-9)
    assert m["pnl"] == pytest.approx(per["equity"], abs=1e-9)
    assert m["position_end"] == pytest.approx(per["position"], abs=1e-12)
    assert m["orders_sent"] == per["orders_sent"]
    # the decomposition's identity, against the simulator's own equity
    total = m["pnl_spread"] + m["pnl_inventory"] + m["pnl_fees"]
    assert total == pytest.approx(per["equity"], abs=1e-9)
    assert m["pnl_fees"] == pytest.approx(-per["fees"], abs=1e-12)


def test_short_run_refuses_to_annualise(result: tuple[BacktestResult, Path]) -> None:
    m = compute_metrics(result[1], interval="1s")
    assert m["span_s"] < 86_400
    for name in ("sharpe", "sortino", "calmar"):
        assert m[name] is None
        assert "shorter than the 1 d minimum" in str(m[f"{name}_reason"])
    assert m["sharpe_per_period"] is not None and math.isfinite(m["sharpe_per_period"])
    # n returns = whole seconds between the first and the last equity sample
    state = pq.read_table(result[1] / "state.parquet")
    ts = state["ts"].to_numpy()
    assert m["n_returns"] == (ts[-1] - ts[0]) // 1_000_000_000
    coarse = compute_metrics(result[1], interval="10s")
    assert coarse["n_returns"] == (ts[-1] - ts[0]) // 10_000_000_000


def test_position_limit_and_latency_fields(result: tuple[BacktestResult, Path]) -> None:
    m = compute_metrics(result[1])
    assert m["position_limit"] == 0.004
    assert m["max_abs_position"] <= 0.004 + 1e-12
    assert 0 <= m["time_at_limit_fraction"] <= 1
    # default latency models are constant 0: every request is processed and answered at once
    assert m["order_entry_latency_p50_us"] == 0.0
    assert m["order_ack_latency_p99_us"] == 0.0
    # the store is named in run.json, so the feed latency of the replayed data is known
    assert m["feed_latency_p50_us"] is not None and m["feed_latency_p50_us"] > 0
    assert compute_metrics(result[1], feed_latency=False)["feed_latency_p50_us"] is None
    assert m["risk_triggers"] == 0 and m["risk_killed"] == 0


def test_decomposition_matches_equity(result: tuple[BacktestResult, Path]) -> None:
    d = run_pnl_decomposition(result[1], 0)
    assert d.total == pytest.approx(result[0].summary["instruments"]["synth/BTCUSDT"]["equity"])
    assert d.n_fills == result[0].fills.num_rows


# ------------------------------------------------------------------ load_run errors


def _copy(path: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(path, dst)
    return dst


def test_load_run_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run folder does not exist") as exc:
        load_run(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(exc.value)


@pytest.mark.parametrize(
    "name", ["state.parquet", "orders.parquet", "fills.parquet", "summary.json"]
)
def test_load_run_missing_file(
    result: tuple[BacktestResult, Path], tmp_path: Path, name: str
) -> None:
    run = _copy(result[1], tmp_path)
    (run / name).unlink()
    with pytest.raises(StoreError, match="run file is missing") as exc:
        load_run(run)
    assert str(run / name) in str(exc.value)


def test_load_run_corrupt_files(result: tuple[BacktestResult, Path], tmp_path: Path) -> None:
    run = _copy(result[1], tmp_path)
    data = (run / "orders.parquet").read_bytes()
    (run / "orders.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot read Parquet") as exc:
        load_run(run)
    assert "orders.parquet" in str(exc.value)
    assert "\n" not in str(exc.value)
    shutil.copy(result[1] / "orders.parquet", run / "orders.parquet")
    (run / "summary.json").write_text('{"events": 3,')
    with pytest.raises(DataError, match="invalid JSON") as exc:
        load_run(run)
    assert "summary.json" in str(exc.value)
    (run / "summary.json").write_text(json.dumps({"events": 3}))
    with pytest.raises(DataError, match="'instruments'"):
        load_run(run)


def test_load_run_reads_tables(result: tuple[BacktestResult, Path]) -> None:
    run = load_run(result[1])
    assert isinstance(run, RunData)
    assert run.instruments == ("synth/BTCUSDT",)
    # a run without a risk manager's triggers has no (or an empty) risk log
    assert run.risk is None or run.risk.num_rows == 0
    assert run.state.num_rows == result[0].state.num_rows
    assert np.array_equal(run.fills["fee"].to_numpy(), result[0].fills["fee"].to_numpy())


def test_feed_latency_from_a_relative_store_path(
    result: tuple[BacktestResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `hftlab backtest --data store --out run` run from the folder holding both
    run = result[1].parent / "run_relative"
    shutil.copytree(result[1], run, dirs_exist_ok=True)
    info = json.loads((run / "run.json").read_text())
    info["data"] = "store"
    (run / "run.json").write_text(json.dumps(info))
    monkeypatch.chdir(tmp_path)  # elsewhere: the path resolves from the run folder's parent
    rel = compute_metrics(run)
    assert rel["feed_latency_p50_us"] == compute_metrics(result[1])["feed_latency_p50_us"]
    info["data"] = "gone"
    (run / "run.json").write_text(json.dumps(info))
    assert compute_metrics(run)["feed_latency_p50_us"] is None


def test_risk_counts_of_a_real_guarded_run(
    result: tuple[BacktestResult, Path], tmp_path: Path
) -> None:
    from hftlab.risk import RiskConfig

    store = result[1].parent / "store"
    # a position limit below the quote size blocks every order the quoter tries
    res = run_backtest(
        Store(store).events(),
        SimpleQuoter(SimpleQuoterConfig(size=0.001, max_position=0.004)),
        SimConfig(),
        risk=RiskConfig(max_position=0.0005),
    )
    path = res.save(tmp_path / "guarded")
    summary = json.loads((path / "summary.json").read_text())["risk"]
    m = compute_metrics(path, feed_latency=False)
    assert m["risk_max_position"] == summary["triggers"]["max_position"] > 0
    assert m["risk_triggers"] == sum(summary["triggers"].values())
    assert m["risk_killed"] == int(summary["killed"])
    assert m["fills"] == 0 and m["orders_sent"] == 0  # nothing got past the limit
    assert m["position_limit"] == 0.0005  # the risk limit is tighter than the strategy's
