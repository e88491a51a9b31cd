"""``hftlab backtest``: build the run from the options, run it with a progress bar, summarise.

The config file's tables (``[data] [sim] [strategy] [risk]``) are described in
:mod:`hftlab.engine.spec`, which reads and checks them; this module only handles the command
line, the progress bar and the summary.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hftlab.backtest.engine import core_is_compiled, run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.engine.spec import load_run_spec, open_events
from hftlab.units import NS_PER_S


def run_from_cli(
    data: Path,
    strategy_spec: str,
    config_path: Path | None,
    out: Path,
    *,
    echo: Any,
    show_progress: bool,
) -> BacktestResult:
    """Everything ``hftlab backtest`` does besides printing the summary.

    Raises
    ------
    ConfigError
        The options or the config file, as one line naming the file and table.
    """
    spec = load_run_spec(config_path, data=data, strategy=strategy_spec)
    strategy = spec.make_strategy()
    stream = open_events(spec)
    if not core_is_compiled():
        echo("compiling the simulation core (first run only; cached afterwards, ~30 s)...")
    info = spec.run_info()
    if show_progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("backtest", total=stream.rows)
            result = run_backtest(
                stream,
                strategy,
                spec.sim,
                run_info=info,
                progress=lambda n: bar.update(task, completed=n),
                risk=spec.risk,
            )
    else:
        result = run_backtest(stream, strategy, spec.sim, run_info=info, risk=spec.risk)
    stats = getattr(strategy, "stats", None)
    if callable(stats):  # e.g. the market makers' quote-manager counters
        result.summary["strategy_stats"] = stats()
    result.save(out)
    return result


def render_summary(result: BacktestResult, out: Path) -> None:
    """One screen: run figures and a table per instrument."""
    from rich.console import Console
    from rich.table import Table

    s = result.summary
    info = result.run_info
    # Not a terminal (logs, CI): a fixed width rather than truncated columns.
    console = Console(width=None if sys.stdout.isatty() else 140)
    span = ""
    if s.get("first_ts") is not None and s.get("last_ts") is not None:
        span = f", {(s['last_ts'] - s['first_ts']) / NS_PER_S:,.1f} s simulated"
    console.print(
        f"[bold]{s['strategy']}[/bold]: {s['events']:,} events{span} in "
        f"{info['wall_seconds']:.2f} s ({info['events_per_second'] or 0:,.0f} events/s)"
    )
    table = Table(show_edge=False)
    for col in (
        "instrument",
        "position",
        "equity",
        "fees",
        "max DD",
        "fills m/t",
        "volume",
        "orders",
        "rejected",
        "cxl lost",
    ):
        table.add_column(col, justify="left" if col == "instrument" else "right")
    for key, v in s["instruments"].items():
        table.add_row(
            key,
            f"{v['position']:g}",
            f"{v['equity']:,.6g}",
            f"{v['fees']:,.6g}",
            f"{v['max_drawdown']:,.6g}",
            f"{v['maker_fills']}/{v['taker_fills']}",
            f"{v['volume']:g}",
            f"{v['orders_sent']}",
            f"{v['rejected']}",
            f"{v['cancel_rejected']}",
        )
    console.print(table)
    for key, v in s["instruments"].items():
        if v.get("unsynced_rows"):
            gaps = v.get("sync_gaps", 0)
            console.print(
                f"book sync {key}: {gaps} gap(s) in the depth data, {v['unsynced_rows']:,} "
                f"unsynced rows not applied, {v.get('unsynced_s', 0.0):.6g} s out of sync"
                + ("" if gaps else " (waiting for the first snapshot)")
            )
    risk = s.get("risk") or {}
    fired = {rule: n for rule, n in (risk.get("triggers") or {}).items() if n}
    if fired or risk.get("killed"):
        what = ", ".join(f"{rule} {n}" for rule, n in fired.items())
        kill = f"; KILLED at t={risk['kill_ts']} ns" if risk.get("killed") else ""
        console.print(f"risk triggers: {what or 'none'}{kill} (risk.parquet)")
    for key, counts in (s.get("book_dropped") or {}).items():
        what = ", ".join(f"{k} {n:,}" for k, n in counts.items() if n)
        console.print(
            f"[bold red]book overflow[/bold red] {key}: levels refused ({what}); "
            "raise sim.book_capacity or sim.book_window"
        )
    if s.get("strategy_stats"):
        console.print(
            "strategy: "
            + ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                for k, v in s["strategy_stats"].items()
            )
        )
    console.print(f"results -> {out}")
