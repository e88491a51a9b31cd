"""The report's pieces without a browser: thinning, metric rows, the page, the CLI's errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hftlab.analytics.plots import downsample_minmax
from hftlab.analytics.report import build_report, metric_rows
from hftlab.analytics.run import compute_metrics
from hftlab.backtest import BacktestResult, run_backtest
from hftlab.data.store import Store
from hftlab.data.synthetic import synthesize
from hftlab.errors import ConfigError
from hftlab.sim.config import SimConfig
from hftlab.strategies.simple_quoter import SimpleQuoter, SimpleQuoterConfig


def test_downsample_keeps_bucket_ends_and_extremes() -> None:
    x = np.arange(100, dtype=np.float64)
    y = np.zeros(100)
    y[37], y[50] = 5.0, -3.0
    # 5 buckets of width 99/5: [0..19], [20..39], [40..59], [60..79], [80..99]
    keep = downsample_minmax(x, [y], 5)
    # first/last of each bucket, the spike (37) and the dip (50); flat buckets add nothing new
    assert keep.tolist() == [0, 19, 20, 37, 39, 40, 50, 59, 60, 79, 80, 99]
    # a second series adds its own extremes
    z = np.zeros(100)
    z[65] = 1.0
    assert 65 in downsample_minmax(x, [y, z], 5).tolist()
    # NaN is ignored when looking for extremes
    y2 = y.copy()
    y2[:20] = np.nan
    y2[5] = 2.0
    assert 5 in downsample_minmax(x, [y2], 5).tolist()
    # small series are kept whole
    assert downsample_minmax(x, [y], 25).tolist() == list(range(100))
    with pytest.raises(ValueError):
        downsample_minmax(x, [y], 0)


@pytest.fixture(scope="module")
def two_instrument_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestResult, Path]:
    root = tmp_path_factory.mktemp("rep")
    synthesize(root / "store", events=60_000, instruments=["BTCUSDT", "ETHUSDT"], seed=4)
    res = run_backtest(
        Store(root / "store").events(),
        SimpleQuoter(SimpleQuoterConfig(instrument=0, size=0.001, max_position=0.003)),
        SimConfig(record_interval_ms=5.0),  # dense state: the series must be thinned
    )
    return res, res.save(root / "run")


def test_report_page_for_two_instruments(
    two_instrument_run: tuple[BacktestResult, Path], tmp_path: Path
) -> None:
    res, run = two_instrument_run
    rep = build_report(run, tmp_path / "r.html", buckets=300)
    assert Path(rep.path).is_file() and rep.size_bytes == Path(rep.path).stat().st_size
    for base in ("price", "inventory", "spread_vol", "markouts", "fill_rate"):
        assert f"{base}-0" in rep.figures and f"{base}-1" in rep.figures
    assert {"equity", "drawdown", "metrics"} <= set(rep.figures)
    # thinning: per series at most first/last + min/max of each series per bucket
    samples = res.state.num_rows // 2
    assert samples > 4 * 300
    page = Path(rep.path).read_text()
    assert "<script src=" not in page and "cdn.bokeh.org" not in page
    full = build_report(run, tmp_path / "full.html", buckets=10**9)  # nothing thinned
    assert rep.points < full.points / 3 and rep.size_bytes < full.size_bytes
    # the page's metrics are those of compute_metrics
    assert rep.metrics == compute_metrics(run)
    with pytest.raises(ConfigError, match="give `out`"):
        build_report(res)


def test_metric_rows_groups_and_reasons() -> None:
    m = {
        "run": "r",
        "pnl": 1.5,
        "sharpe": None,
        "sharpe_reason": "span 2 min is shorter than the 1 d minimum",
        "fill_rate": 0.25,
        "fills": 1234,
        "risk_kill_ts": 1_700_000_000_000_000_000,
        "order_ack_latency_p50_us": 800.0,
        "markout_1s_bps": -0.5,
    }
    rows = metric_rows(m)
    assert [r[0] for r in rows] == [
        "run",
        "PnL",
        "risk-adjusted",
        "quoting",
        "quoting",
        "markouts",
        "latency",
        "risk",
    ]
    values = {r[1]: r[2] for r in rows}
    assert "sharpe_reason" not in values
    assert values["sharpe"] == "— (span 2 min is shorter than the 1 d minimum)"
    assert values["fill_rate"] == "0.2500  (25.00 %)"
    assert values["fills"] == "1,234"
    assert values["risk_kill_ts"] == "2023-11-14T22:13:20.000+00:00"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hftlab", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_errors_are_one_line(
    two_instrument_run: tuple[BacktestResult, Path], tmp_path: Path
) -> None:
    missing = _cli("report", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert re.fullmatch(r"error: .*nope: run folder does not exist .*\n", missing.stderr)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("state.parquet", "orders.parquet", "fills.parquet", "summary.json"):
        (broken / name).write_bytes((two_instrument_run[1] / name).read_bytes())
    (broken / "fills.parquet").write_bytes(b"not parquet")
    bad = _cli("report", str(broken))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "fills.parquet: cannot read Parquet" in bad.stderr
    interval = _cli("report", str(two_instrument_run[1]), "--interval", "soon")
    assert interval.returncode == 2 and "interval 'soon'" in interval.stderr
