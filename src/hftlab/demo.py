"""``hftlab demo``: the main job on the embedded synthetic market, end to end.

1. synthesize a seeded market into ``OUT/store`` (replacing a previous demo's synthetic output);
2. inspect it (spans, rows per kind, feed latency, regressions, sizes);
3. backtest the example two-sided quoter on it (``configs/demo_simple_quoter.toml``) into
   ``OUT/run`` and print the run summary.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from hftlab.data.inspect import inspect_store, render_report
from hftlab.data.synthetic import synthesize

DEMO_STRATEGY = "hftlab.strategies.simple_quoter:SimpleQuoter"


def demo_config_path() -> Path:
    """The demo backtest config shipped with the package (a copy of configs/ in the repo)."""
    return Path(str(resources.files("hftlab").joinpath("_configs/demo_simple_quoter.toml")))


def run_demo(out: Path, *, events: int, seed: int, echo: Callable[[str], None]) -> None:
    """Run the demo steps, printing as it goes."""
    from hftlab.backtest.cli import render_summary, run_from_cli

    store = out / "store"
    echo(f"[1/3] synthesizing {events:,} events (seed {seed}) into {store}")
    summary = synthesize(store, events=events, seed=seed, force=True)
    echo(
        f"      {summary.rows:,} rows, {summary.span_s:,.0f} s of market, "
        f"{summary.mispricings} labelled triangle mispricings "
        f"(generate {summary.generate_s:.2f} s, write {summary.write_s:.2f} s)"
    )
    echo("[2/3] inspecting the store")
    render_report(inspect_store(store))
    run = out / "run"
    echo(f"[3/3] backtesting {DEMO_STRATEGY} on synth/BTCUSDT into {run}")
    result = run_from_cli(
        store, DEMO_STRATEGY, demo_config_path(), run, echo=echo, show_progress=False
    )
    render_summary(result, run)
