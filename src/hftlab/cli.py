"""The ``hftlab`` command.

Each subcommand is a thin wrapper: it parses options and calls library code. Errors that are the
user's (``HftlabError``) print as one line on stderr and exit with status 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from hftlab import __version__
from hftlab.errors import HftlabError

app = typer.Typer(
    name="hftlab",
    help="High-frequency trading research: record, store, replay, backtest and report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hftlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="Logging level (default from settings).")
    ] = None,
) -> None:
    from hftlab.config import get_settings

    level = (log_level or get_settings().log_level).upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# --------------------------------------------------------------------------- synth
@app.command()
def synth(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Store folder (default: settings.store).")
    ] = None,
    events: Annotated[
        int | None,
        typer.Option("--events", "-n", help="Total rows over all streams (default: settings)."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", "-d", help="Seconds of exchange time.")
    ] = None,
    instrument: Annotated[
        list[str] | None,
        typer.Option("--instrument", "-i", help="BTCUSDT, ETHUSDT and/or ETHBTC (default all)."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default: settings).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace previous synthetic output in --out.")
    ] = False,
) -> None:
    """Generate the seeded synthetic market (L2 depth, trades, BBO, mispricing labels)."""
    from hftlab.config import get_settings
    from hftlab.data.synthetic import synthesize

    settings = get_settings()
    target = out if out is not None else settings.store
    kwargs = dict(
        events=events,
        duration_s=duration,
        instruments=instrument,
        seed=settings.synth_seed if seed is None else seed,
        force=force,
        row_group_rows=settings.row_group_rows,
    )
    if sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("synth"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("synth", total=1.0)
            summary = synthesize(target, **kwargs, progress=lambda f: bar.update(task, completed=f))
    else:
        summary = synthesize(target, **kwargs)
    rate = summary.rows / max(summary.generate_s + summary.write_s, 1e-9)
    typer.echo(
        f"{summary.rows:,} rows, {len(summary.instruments)} instruments, "
        f"{summary.span_s:,.1f} s of exchange time, {summary.mispricings} labelled mispricings "
        f"-> {summary.root}"
    )
    for stream, rows in summary.rows_by_stream.items():
        typer.echo(f"  {stream:<24} {rows:>12,}")
    typer.echo(
        f"generate {summary.generate_s:.2f} s + write {summary.write_s:.2f} s ({rate:,.0f} rows/s)"
    )


# --------------------------------------------------------------------------- inspect
@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(help="Store directory (or one of its Parquet files).")],
    instrument: Annotated[
        list[str] | None,
        typer.Option("--instrument", "-i", help="Only these instruments (SYMBOL or VENUE/SYMBOL)."),
    ] = None,
) -> None:
    """Per instrument and channel: span, rows per kind, feed latency, regressions, file sizes."""
    from hftlab.data.inspect import inspect_store, render_report

    report = inspect_store(path, instruments=instrument)
    render_report(report)


# --------------------------------------------------------------------------- import
@app.command("import")
def import_(
    src: Annotated[list[Path], typer.Argument(help="Input files (one recording per call).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Store directory (created if missing).")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="binance-capture, binance-csv, tardis-csv or auto."),
    ] = "auto",
    venue: Annotated[
        str | None, typer.Option(help="Venue (binance, binance-futures, binance-delivery, …).")
    ] = None,
    symbol: Annotated[str | None, typer.Option(help="Symbol (binance-csv only).")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="trades, aggTrades or bookTicker (binance-csv only).")
    ] = None,
    tick_size: Annotated[float | None, typer.Option(help="Price step (default: inferred).")] = None,
    lot_size: Annotated[float | None, typer.Option(help="Size step (default: inferred).")] = None,
    contract_size: Annotated[float | None, typer.Option(help="Contract size.")] = None,
    skip_bad_lines: Annotated[
        bool, typer.Option(help="Count and skip malformed lines instead of failing.")
    ] = False,
    validate: Annotated[
        bool, typer.Option(help="Fail (exit 1) if the rebuilt book ever differs or crosses.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Parse, sync and validate; write nothing.")] = False,
) -> None:
    """Import real market data (raw Binance captures, Binance or Tardis CSV) into a store."""
    from hftlab.data.importers import ImportOptions, import_files
    from hftlab.data.importers.report import render_summary, validation_failed
    from hftlab.errors import ConfigError

    if out is None and not dry_run:
        raise ConfigError("--out STORE is required (or --dry-run)")
    opts = ImportOptions(
        venue=venue,
        tick_size=tick_size,
        lot_size=lot_size,
        contract_size=contract_size,
        skip_bad_lines=skip_bad_lines,
    )
    extra = {k: v for k, v in (("symbol", symbol), ("dataset", dataset)) if v is not None}
    summary = import_files(fmt, src, None if dry_run else out, options=opts, **extra)
    render_summary(summary)
    problems = validation_failed(summary)
    if validate and problems:
        for p in problems:
            typer.echo(f"validation failed: {p}", err=True)
        raise typer.Exit(1)


# --------------------------------------------------------------------------- export
@app.command()
def export(
    store: Annotated[Path, typer.Argument(help="Store directory.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the CSV files.")],
    instrument: Annotated[
        list[str] | None,
        typer.Option("--instrument", "-i", help="Only these instruments (SYMBOL or VENUE/SYMBOL)."),
    ] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", "-c", help="depth, trade and/or bbo.")
    ] = None,
    gzip: Annotated[bool, typer.Option("--gzip/--no-gzip", help="Write .csv.gz.")] = False,
) -> None:
    """Export streams as Tardis-style CSV (µs timestamps): one file per instrument and channel."""
    from hftlab.data.export import export_csv

    written = export_csv(store, out, instruments=instrument, channels=channel, gzip=gzip)
    for path, rows in written:
        typer.echo(f"{path}  {rows:,} rows")


# --------------------------------------------------------------------------- backtest
@app.command()
def backtest(
    data: Annotated[Path, typer.Option("--data", help="Store directory.")],
    strategy: Annotated[
        str, typer.Option("--strategy", help="MODULE:CLASS or FILE.py:CLASS of a Strategy.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML: [sim], [data], [strategy], [risk].")
    ] = None,
) -> None:
    """Run a strategy tick by tick over stored data; write a Parquet run folder."""
    from hftlab.backtest.cli import render_summary, run_from_cli

    result = run_from_cli(
        data,
        strategy,
        config,
        out,
        echo=lambda m: typer.echo(m, err=True),
        show_progress=sys.stderr.isatty(),
    )
    render_summary(result, out)


# --------------------------------------------------------------------------- optimize
@app.command()
def optimize(
    data: Annotated[Path, typer.Option("--data", help="Store directory.")],
    strategy: Annotated[
        str, typer.Option("--strategy", help="MODULE:CLASS or FILE.py:CLASS of a Strategy.")
    ],
    config: Annotated[
        Path,
        typer.Option("--config", help="TOML: the backtest tables, a grid and an optimize table."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for results and report.")],
    executor: Annotated[
        str, typer.Option("--executor", help="process (local pool), serial or ray.")
    ] = "process",
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", help="Parallel evaluations (default: CPUs).")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster: auto or ray://host:port (default: local)."),
    ] = None,
    search: Annotated[str, typer.Option("--search", help="grid or optuna.")] = "grid",
    trials: Annotated[
        int | None, typer.Option("--trials", help="Optuna: finished trials wanted in total.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna storage URL (default: sqlite:///OUT/optuna.db)."),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Optuna study name (default: config file stem).")
    ] = None,
    walk_forward: Annotated[
        str | None,
        typer.Option("--walk-forward", help="train=2h,test=1h[,step=1h][,anchored] or folds=N."),
    ] = None,
    top: Annotated[int | None, typer.Option("--top", help="Rows of the top table.")] = None,
    start_method: Annotated[
        str,
        typer.Option(
            "--start-method", help="process pool: auto (fork if safe, else spawn), spawn, fork."
        ),
    ] = "auto",
) -> None:
    """Search strategy and simulator parameters (grid or Optuna), optionally walk-forward."""
    from hftlab.optimize.cli import optimize_from_cli

    optimize_from_cli(
        data=data,
        strategy=strategy,
        config=config,
        out=out,
        executor=executor,
        workers=workers,
        address=address,
        search=search,
        trials=trials,
        storage=storage,
        study=study,
        walk_forward=walk_forward,
        top=top,
        start_method=start_method,
        echo=lambda m: typer.echo(m, err=True),
        show_progress=sys.stderr.isatty(),
        argv=["hftlab", *sys.argv[1:]],
    )


# --------------------------------------------------------------------------- report
@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run folder (written by `hftlab backtest --out`).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML file to write (default: RUN/report.html)."),
    ] = None,
    interval: Annotated[
        str, typer.Option("--interval", help="Return sampling for Sharpe/Sortino/Calmar.")
    ] = "1s",
) -> None:
    """Metrics of a run in the terminal and one offline HTML page of interactive plots."""
    from hftlab.analytics.report import build_report, render_metrics
    from hftlab.analytics.run import compute_metrics, load_run
    from hftlab.units import parse_duration

    parse_duration(interval, "--interval")  # before the run is read: a typo fails at once
    data = load_run(run)
    metrics = compute_metrics(data, interval=interval)
    render_metrics(metrics)
    written = build_report(data, out, interval=interval, metrics=metrics)
    typer.echo(
        f"report -> {written.path} ({written.size_bytes / 1e6:.1f} MB, "
        f"{written.points:,} points, {written.seconds:.1f} s)"
    )


# --------------------------------------------------------------------------- demo
@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo's outputs.")] = Path(
        "out/demo"
    ),
    events: Annotated[int, typer.Option("--events", "-n", help="Synthetic events.")] = 1_000_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic market.")] = 7,
) -> None:
    """The main job: synthesize a market, inspect it, backtest the example quoter on it."""
    from hftlab.demo import run_demo

    run_demo(out, events=events, seed=seed, echo=typer.echo)


def main() -> None:
    """Entry point: run the app, turning hftlab errors into one line and exit status 2."""
    try:
        app()
    except HftlabError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
