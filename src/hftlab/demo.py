"""``hftlab demo``: the main job on the embedded synthetic market, end to end.

1. synthesize a seeded market into ``OUT/store`` (replacing a previous demo's synthetic output);
2. inspect it (spans, rows per kind, feed latency, regressions, sizes);
3. backtest the Avellaneda–Stoikov market maker on it (``configs/as_synth.toml``, shipped in
   the package) into ``OUT/run`` and print the run summary;
4. report it: the metrics table in the terminal and ``OUT/run/report.html`` (interactive plots,
   works offline).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from hftlab.data.inspect import inspect_store, render_report
from hftlab.data.synthetic import synthesize

DEMO_STRATEGY = "hftlab.strategies.avellaneda_stoikov:AvellanedaStoikov"


def demo_config_path() -> Path:
    """The demo backtest config shipped with the package (a copy of configs/as_synth.toml)."""
    return Path(str(resources.files("hftlab").joinpath("_configs/demo_avellaneda_stoikov.toml")))


def run_demo(out: Path, *, events: int, seed: int, echo: Callable[[str], None]) -> None:
    """Run the demo steps, printing as it goes."""
    from hftlab.analytics.report import build_report, render_metrics
    from hftlab.analytics.run import compute_metrics, load_run
    from hftlab.backtest.cli import render_summary, run_from_cli

    store = out / "store"
    echo(f"[1/4] synthesizing {events:,} events (seed {seed}) into {store}")
    summary = synthesize(store, events=events, seed=seed, force=True)
    echo(
        f"      {summary.rows:,} rows, {summary.span_s:,.0f} s of market, "
        f"{summary.mispricings} labelled triangle mispricings "
        f"(generate {summary.generate_s:.2f} s, write {summary.write_s:.2f} s)"
    )
    echo("[2/4] inspecting the store")
    render_report(inspect_store(store))
    run = out / "run"
    echo(f"[3/4] backtesting {DEMO_STRATEGY} on synth/BTCUSDT into {run}")
    result = run_from_cli(
        store, DEMO_STRATEGY, demo_config_path(), run, echo=echo, show_progress=False
    )
    render_summary(result, run)
    echo("[4/4] reporting the run")
    data = load_run(run)
    metrics = compute_metrics(data)
    render_metrics(metrics)
    written = build_report(data, None, metrics=metrics)
    echo(f"report -> {written.path} (open it in a browser; it works offline)")
