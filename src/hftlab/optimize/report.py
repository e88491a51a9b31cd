"""Presenting an optimisation: a standalone HTML report (bokeh) and a terminal table (rich).

The HTML file carries bokeh's JavaScript inline (``bokeh.resources.INLINE``): it opens offline,
from a mail attachment or a CI artefact, with nothing else beside it.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from hftlab.optimize.search import OptimizeRun

__all__ = ["render_top", "write_report"]

_MAX_LEVELS = 12  # more distinct values than this are binned for the heatmaps
_BINS = 8
_TABLE_ROWS = 200


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _levels(values: list[Any]) -> tuple[list[str], list[str]]:
    """Labels of ``values`` for a categorical axis: ``(label per value, ordered labels)``.

    Numbers sort numerically; more than ``_MAX_LEVELS`` distinct numbers fall into quantile
    bins labelled by their range.
    """
    distinct = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in distinct)
    if numeric and len(distinct) > _MAX_LEVELS:
        arr = np.asarray(values, dtype=float)
        edges = np.unique(np.quantile(arr, np.linspace(0, 1, _BINS + 1)))
        idx = np.clip(np.searchsorted(edges, arr, "right") - 1, 0, len(edges) - 2)
        names = [f"{edges[i]:.4g}–{edges[i + 1]:.4g}" for i in range(len(edges) - 1)]
        labels = [names[i] for i in idx]
        return labels, [n for n in names if n in set(labels)]
    return [_fmt(v) for v in values], [_fmt(v) for v in distinct]


def _aggregate(values: list[float], how: str, maximize: bool) -> float:
    if how == "mean":
        return float(np.mean(values))
    return float(max(values) if maximize else min(values))


def _heatmap(
    run: OptimizeRun, rows: list[dict[str, Any]], a: str, b: str, metric: str, how: str
) -> Any:
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure

    pts = [r for r in rows if isinstance(r.get(metric), int | float) and math.isfinite(r[metric])]
    xa, x_levels = _levels([r[a] for r in pts])
    yb, y_levels = _levels([r[b] for r in pts])
    cells: dict[tuple[str, str], list[float]] = {}
    for x, y, r in zip(xa, yb, pts, strict=True):
        cells.setdefault((x, y), []).append(float(r[metric]))
    # "best" follows the objective's direction; for other metrics "best" is the max.
    maximize = run.maximize if metric == run.objective else True
    data: dict[str, list[Any]] = {"x": [], "y": [], "v": [], "n": []}
    for (x, y), vals in cells.items():
        data["x"].append(x)
        data["y"].append(y)
        data["v"].append(_aggregate(vals, how, maximize))
        data["n"].append(len(vals))
    lo = min(data["v"], default=0.0)
    hi = max(data["v"], default=1.0)
    mapper = LinearColorMapper(palette=Viridis256, low=lo, high=hi if hi > lo else lo + 1e-12)
    label = "best" if how == "best" else "mean"
    p = figure(
        title=f"{metric} ({label} over the other parameters)",
        x_range=x_levels,
        y_range=y_levels,
        width=430,
        height=360,
        toolbar_location="right",
        tools="save,reset",
        x_axis_label=a,
        y_axis_label=b,
    )
    p.rect(
        "x",
        "y",
        1,
        1,
        source=ColumnDataSource(data),
        fill_color={"field": "v", "transform": mapper},
        line_color=None,
    )
    p.add_tools(
        HoverTool(
            tooltips=[(a, "@x"), (b, "@y"), (metric, "@v{0.[000000]}"), ("evaluations", "@n")]
        )
    )
    p.add_layout(ColorBar(color_mapper=mapper, width=10), "right")
    p.xaxis.major_label_orientation = 0.8
    return p


def _line(run: OptimizeRun, rows: list[dict[str, Any]], a: str, metric: str) -> Any:
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    pts = [r for r in rows if isinstance(r.get(metric), int | float) and math.isfinite(r[metric])]
    xa, levels = _levels([r[a] for r in pts])
    maximize = run.maximize if metric == run.objective else True
    groups: dict[str, list[float]] = {}
    for x, r in zip(xa, pts, strict=True):
        groups.setdefault(x, []).append(float(r[metric]))
    xs = [lv for lv in levels if lv in groups]
    src = ColumnDataSource(
        {
            "x": xs,
            "best": [_aggregate(groups[x], "best", maximize) for x in xs],
            "mean": [_aggregate(groups[x], "mean", maximize) for x in xs],
        }
    )
    p = figure(
        title=f"{metric} by {a}",
        x_range=xs,
        width=600,
        height=320,
        tools="save,reset",
        x_axis_label=a,
        y_axis_label=metric,
    )
    p.line("x", "best", source=src, legend_label="best", line_width=2)
    p.scatter("x", "best", source=src, size=7)
    p.line("x", "mean", source=src, legend_label="mean", line_dash="dashed", color="orange")
    p.add_tools(HoverTool(tooltips=[(a, "@x"), ("best", "@best"), ("mean", "@mean")]))
    return p


def _walk_forward_chart(run: OptimizeRun) -> Any:
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure
    from bokeh.transform import dodge

    wf = run.walk_forward
    per_hour = "is_per_hour" in wf[0]
    is_key, oos_key = (
        ("is_per_hour", "oos_per_hour") if per_hour else ("is_objective", "oos_objective")
    )
    folds = [str(r["fold"]) for r in wf]
    src = ColumnDataSource(
        {
            "fold": folds,
            "is": [np.nan if r[is_key] is None else r[is_key] for r in wf],
            "oos": [np.nan if r[oos_key] is None else r[oos_key] for r in wf],
            "deg": [np.nan if r["degradation"] is None else r["degradation"] for r in wf],
        }
    )
    unit = f"{run.objective} per hour" if per_hour else run.objective
    p = figure(
        title=f"walk-forward: in-sample (best on train) vs out-of-sample (same parameters on "
        f"the next window), {unit}",
        x_range=folds,
        width=900,
        height=340,
        tools="save,reset",
        x_axis_label="fold",
        y_axis_label=unit,
    )
    p.vbar(
        x=dodge("fold", -0.18, range=p.x_range),
        top="is",
        width=0.34,
        source=src,
        legend_label="in-sample",
        color="#1f77b4",
    )
    p.vbar(
        x=dodge("fold", 0.18, range=p.x_range),
        top="oos",
        width=0.34,
        source=src,
        legend_label="out-of-sample",
        color="#ff7f0e",
    )
    p.add_tools(
        HoverTool(
            tooltips=[("fold", "@fold"), ("IS", "@is"), ("OOS", "@oos"), ("degradation", "@deg")]
        )
    )
    p.add_layout(p.legend[0], "right")
    return p


def _table(columns: list[str], rows: list[dict[str, Any]], height: int = 420) -> Any:
    from bokeh.models import ColumnDataSource, DataTable, NumberFormatter, TableColumn

    def numeric(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    data: dict[str, list[Any]] = {}
    specs = []
    for c in columns:
        values = [r.get(c) for r in rows]
        if all(v is None or numeric(v) for v in values):
            data[c] = [np.nan if v is None else v for v in values]
            ints = all(v is None or isinstance(v, int) for v in values)
            fmt = NumberFormatter(format="0,0" if ints else "0,0.[000000]")
            specs.append(TableColumn(field=c, title=c, formatter=fmt))
        else:
            data[c] = [_fmt(v) for v in values]
            specs.append(TableColumn(field=c, title=c))
    return DataTable(
        source=ColumnDataSource(data),
        columns=specs,
        sortable=True,
        width=min(1400, 120 * len(columns)),
        height=height,
        index_position=None,
    )


def _time(ns: Any) -> str:
    if ns is None:
        return ""
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def write_report(
    run: OptimizeRun,
    path: str | Path,
    *,
    metrics: tuple[str, ...] = (),
    title: str = "hftlab optimize",
    header: dict[str, Any] | None = None,
) -> Path:
    """Write the standalone HTML report of ``run``.

    Parameters
    ----------
    run
        The search result.
    path
        Output file (``DIR/report.html``).
    metrics
        Metrics shown as heatmaps besides the objective.
    title
        Page title.
    header
        ``name: value`` lines shown at the top (command, data, search, ...).

    Returns
    -------
    Path
        ``path``.
    """
    from bokeh.embed import file_html
    from bokeh.layouts import column, gridplot
    from bokeh.models import Div
    from bokeh.resources import INLINE

    path = Path(path)
    parts: list[Any] = []
    lines = "".join(
        f"<tr><td><b>{html.escape(str(k))}</b></td><td>{html.escape(str(v))}</td></tr>"
        for k, v in (header or {}).items()
    )
    best = run.top(1, "train" if run.walk_forward else None)
    best_txt = ""
    if best:
        b = best[0]
        best_txt = (
            f"<p>best {html.escape(run.objective)} = {_fmt(b[run.objective])} at "
            + ", ".join(f"{html.escape(n)} = {html.escape(_fmt(b[n]))}" for n in run.params)
            + "</p>"
        )
    parts.append(
        Div(
            text=f"<h1>{html.escape(title)}</h1><table>{lines}</table>{best_txt}"
            f"<p>{len(run.rows)} evaluations, {len(run.errors)} failed; objective "
            f"<b>{html.escape(run.objective)}</b> ({'max' if run.maximize else 'min'}imised)</p>",
            width=1200,
        )
    )
    if run.walk_forward:
        parts.append(Div(text="<h2>Walk-forward</h2>"))
        parts.append(_walk_forward_chart(run))
        cols = ["fold", "train", "test", *run.params, "is_objective", "oos_objective"]
        if "is_per_hour" in run.walk_forward[0]:
            cols += ["is_per_hour", "oos_per_hour"]
        cols.append("degradation")
        wf_rows = [
            {
                **r,
                "train": f"{_time(r['train_start'])} → {_time(r['train_end'])}",
                "test": f"{_time(r['test_start'])} → {_time(r['test_end'])}",
            }
            for r in run.walk_forward
        ]
        parts.append(_table(cols, wf_rows, height=40 + 28 * len(wf_rows)))
    rows = run.ok_rows("train" if run.walk_forward else None)
    shown = [run.objective, *[m for m in metrics if m != run.objective]]
    varying = [n for n in run.params if len({_fmt(r.get(n)) for r in rows}) > 1]
    if rows and varying:
        scope = " (train windows of every fold)" if run.walk_forward else ""
        parts.append(Div(text=f"<h2>Objective and metrics by parameter{scope}</h2>"))
        for metric in shown:
            if len(varying) == 1:
                parts.append(_line(run, rows, varying[0], metric))
                continue
            figs = []
            for a, b in itertools.combinations(varying, 2):
                figs.append(_heatmap(run, rows, a, b, metric, "best"))
                figs.append(_heatmap(run, rows, a, b, metric, "mean"))
            parts.append(Div(text=f"<h3>{html.escape(metric)}</h3>"))
            parts.append(gridplot(figs, ncols=2, toolbar_location=None))
    top = run.top(_TABLE_ROWS, "train" if run.walk_forward else None)
    if top:
        parts.append(Div(text=f"<h2>Top {len(top)} (click a header to sort)</h2>"))
        extra = [c for c in ("fold", "phase", "trial") if any(c in r for r in top)]
        metric_cols = [m for m in shown if m != run.objective]
        more = [c for c in ("fills", "fees", "max_drawdown") if c in top[0] and c not in shown]
        cols = ["rank", *extra, *run.params, run.objective, *metric_cols, *more, "wall_s"]
        parts.append(_table(cols, [{**r, "rank": i + 1} for i, r in enumerate(top)]))
    doc = column(*parts)
    path.write_text(file_html(doc, resources=INLINE, title=title), encoding="utf-8")
    return path


def render_top(
    run: OptimizeRun, n: int, metrics: tuple[str, ...] = (), console: Any = None
) -> None:
    """Print the ``n`` best rows (and the walk-forward folds) as rich tables."""
    import sys

    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if sys.stdout.isatty() else 160)
    if run.walk_forward:
        t = Table(title="walk-forward", show_edge=False)
        per_hour = "is_per_hour" in run.walk_forward[0]
        cols = ["fold", "train", "test", *run.params]
        cols += ["IS/h", "OOS/h"] if per_hour else ["IS", "OOS"]
        cols.append("degradation")
        for c in cols:
            t.add_column(c, justify="left" if c in ("train", "test") else "right")
        for r in run.walk_forward:
            a, b = (
                ("is_per_hour", "oos_per_hour") if per_hour else ("is_objective", "oos_objective")
            )
            t.add_row(
                str(r["fold"]),
                f"{_time(r['train_start'])[11:]}–{_time(r['train_end'])[11:]}",
                f"{_time(r['test_start'])[11:]}–{_time(r['test_end'])[11:]}",
                *[_fmt(r.get(p)) for p in run.params],
                _fmt(r.get(a)),
                _fmt(r.get(b)),
                _fmt(r.get("degradation")),
            )
        console.print(t)
    top = run.top(n, "train" if run.walk_forward else None)
    shown = [m for m in metrics if m != run.objective]
    t = Table(title=f"top {len(top)} by {run.objective}", show_edge=False)
    extra = ["fold"] if run.walk_forward else []
    for c in ["#", *extra, *run.params, run.objective, *shown, "wall s"]:
        t.add_column(c, justify="right")
    for i, r in enumerate(top):
        t.add_row(
            str(i + 1),
            *[_fmt(r.get(c)) for c in extra],
            *[_fmt(r.get(p)) for p in run.params],
            _fmt(r.get(run.objective)),
            *[_fmt(r.get(m)) for m in shown],
            f"{r.get('wall_s', 0):.2f}",
        )
    console.print(t)
    if run.errors:
        console.print(f"[red]{len(run.errors)} evaluation(s) failed[/red]; first: {run.errors[0]}")
