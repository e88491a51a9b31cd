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
