"""Rendering of an :class:`~hftlab.data.importers.ImportSummary` as rich tables (for the CLI)."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.table import Table

from hftlab.data.importers._common import ImportSummary, InstrumentSummary
from hftlab.units import NS_PER_MS, NS_PER_S


def _ms(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / NS_PER_MS:,.1f}"


def _ts(ns: int | None) -> str:
    if ns is None:
        return "-"
    t = dt.datetime.fromtimestamp(ns / NS_PER_S, tz=dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _rows(s: InstrumentSummary) -> str:
    return "\n".join(f"{k} {v:,}" for k, v in s.rows.items() if v)


def _check(s: InstrumentSummary) -> str:
    v = s.validation
    if v is None:
        return "-"
    if v.compared == 0:
        return f"no comparable points ({v.book_updates:,} synced updates)"
    pct = v.match_pct
    return f"{pct:.2f} % of {v.compared:,}"


def validation_failed(summary: ImportSummary) -> list[str]:
    """Problems that ``--validate`` turns into a failure: mismatches and crossed books."""
    out = []
    for s in summary.instruments:
        v = s.validation
        if v is not None and v.compared and v.matched != v.compared:
            out.append(f"{s.key}: book != bookTicker at {v.compared - v.matched} of {v.compared}")
        if s.crossed:
            out.append(f"{s.key}: book crossed at {s.crossed} updates")
    return out


def render_summary(summary: ImportSummary, console: Console | None = None) -> None:
    """Print per-instrument rows, book health and latency, then skipped input and warnings."""
    con = console or Console()
    t = Table(title=f"import ({summary.format}): {len(summary.files)} file(s), "
              f"{summary.lines:,} lines, {summary.seconds:.2f} s")  # fmt: skip
    for col, just in [
        ("instrument", "left"),
        ("tick / lot", "right"),
        ("rows", "left"),
        ("gaps", "right"),
        ("resyncs", "right"),
        ("crossed", "right"),
        ("book = bookTicker", "right"),
        ("latency ms p1 / p50 / p99", "right"),
        ("negative latency", "right"),
        ("span (ts_local, UTC)", "left"),
    ]:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for s in summary.instruments:
        inst = s.instrument
        lat = s.latency
        t.add_row(
            inst.key,
            f"{inst.tick_size:g}{'*' if s.tick_inferred else ''} / "
            f"{inst.lot_size:g}{'*' if s.lot_inferred else ''}",
            _rows(s),
            str(s.gaps),
            str(s.resyncs),
            str(s.crossed),
            _check(s),
            f"{_ms(lat.p1)} / {_ms(lat.p50)} / {_ms(lat.p99)}",
            f"{lat.negative:,} of {lat.count:,}" if lat.count else "-",
            f"{_ts(s.ts_local_first)}\n{_ts(s.ts_local_last)}",
        )
    con.print(t)
    con.print("* inferred from the data (finest step seen); override with --tick-size/--lot-size")
    if summary.ignored:
        con.print(
            "not stored: " + ", ".join(f"{k} {v:,}" for k, v in sorted(summary.ignored.items()))
        )
    if summary.bad_lines:
        con.print(f"[yellow]skipped {summary.bad_lines:,} malformed line(s)[/yellow]")
    for w in summary.warnings:
        con.print(f"[yellow]warning:[/yellow] {w}")
    if summary.files_written:
        con.print(f"wrote {len(summary.files_written)} file(s)")
