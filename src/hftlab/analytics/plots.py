"""Bokeh figure builders shared by ``hftlab report`` and the live dashboard.

Each builder takes a :class:`~bokeh.models.ColumnDataSource` with documented columns (so the
dashboard can ``stream`` into it) and returns a figure carrying a stable ``name`` that pages
and tests look figures up by. Times are float milliseconds since the epoch (Bokeh's datetime
unit); :func:`to_ms` converts int64 nanoseconds.

Large series are thinned before they reach a browser with :func:`downsample_minmax`: per
pixel-wide time bucket it keeps the first, last, lowest and highest sample, so spikes and
steps survive while the page stays small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
from bokeh.layouts import column
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    HoverTool,
    LinearAxis,
    Range1d,
    Span,
    TableColumn,
)
from bokeh.plotting import figure

WIDTH: Final = 1100
HEIGHT: Final = 260
TOOLS: Final = "pan,xwheel_zoom,box_zoom,reset,save"
BUY_COLOR: Final = "#2ca02c"
SELL_COLOR: Final = "#d62728"
LINE_COLOR: Final = "#1f77b4"
MUTED: Final = "#7f7f7f"

#: Names of the figures a report contains (per instrument ones are suffixed ``-<index>``).
FIGURE_NAMES: Final = (
    "equity",
    "drawdown",
    "inventory",
    "price",
    "spread_vol",
    "markouts",
    "fill_rate",
    "pnl_decomposition",
    "metrics",
)


def to_ms(ts_ns: np.ndarray) -> np.ndarray:
    """int64 ns since the epoch to float64 ms (Bokeh's datetime axis unit)."""
    return np.asarray(ts_ns, dtype=np.int64) / 1e6


def downsample_minmax(x: np.ndarray, ys: Sequence[np.ndarray], buckets: int) -> np.ndarray:
    """Indices of the samples to draw so ``buckets`` x-buckets keep their shape.

    Per bucket of equal x width it keeps the first and last sample and, for each series in
    ``ys``, the samples of its minimum and maximum (NaN ignored). Returns sorted, unique
    indices; all of them when there are no more than ``4·buckets`` samples.

    Parameters
    ----------
    x
        Sorted x values (e.g. times).
    ys
        Series aligned with ``x``.
    buckets
        Number of buckets, about the plot's width in pixels.
    """
    n = int(np.asarray(x).size)
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}")
    if n <= 4 * buckets:
        return np.arange(n)
    xf = np.asarray(x, dtype=np.float64)
    span = xf[-1] - xf[0]
    if not span > 0:
        return np.array([0, n - 1])
    b = np.minimum(((xf - xf[0]) / span * buckets).astype(np.int64), buckets - 1)
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    ends = np.r_[starts[1:], n] - 1
    keep = [starts, ends]
    lengths = ends - starts + 1
    bucket_of = np.repeat(np.arange(starts.size), lengths)
    for y in ys:
        yf = np.asarray(y, dtype=np.float64)
        for reduce, fill in ((np.fmin, np.inf), (np.fmax, -np.inf)):
            v = np.where(np.isnan(yf), fill, yf)
            ext = reduce.reduceat(v, starts)
            hit = np.flatnonzero(v == ext[bucket_of])
            # the first hit of each bucket
            first = hit[np.r_[True, bucket_of[hit][1:] != bucket_of[hit][:-1]]] if hit.size else hit
            keep.append(first)
    return np.unique(np.concatenate(keep))


def _time_figure(
    title: str, y_label: str, name: str, x_range: Any = None, height: int = HEIGHT
) -> Any:
    kw: dict[str, Any] = {} if x_range is None else {"x_range": x_range}
    p = figure(
        title=title,
        name=name,
        x_axis_type="datetime",
        width=WIDTH,
        height=height,
        tools=TOOLS,
        active_scroll="xwheel_zoom",
        **kw,
    )
    p.yaxis.axis_label = y_label
    p.toolbar.logo = None
    return p


def equity_figure(source: ColumnDataSource, *, currency: str = "", x_range: Any = None) -> Any:
    """Equity marked to mid, fees included. Columns: ``t`` (ms), ``equity``."""
    unit = f" ({currency})" if currency else ""
    p = _time_figure("Equity (marked to mid, fees included)", f"equity{unit}", "equity", x_range)
    p.line("t", "equity", source=source, color=LINE_COLOR, line_width=1.5)
    p.add_tools(
        HoverTool(
            tooltips=[("t", "@t{%F %T.%3N}"), ("equity", "@equity{0.[000000]}")],
            formatters={"@t": "datetime"},
            mode="vline",
        )
    )
    return p


def drawdown_figure(source: ColumnDataSource, *, x_range: Any = None) -> Any:
    """Drawdown below the running peak (≤ 0). Columns: ``t`` (ms), ``drawdown``."""
    p = _time_figure("Drawdown from the running peak", "drawdown", "drawdown", x_range, 180)
    p.varea(x="t", y1="drawdown", y2=0.0, source=source, fill_color=SELL_COLOR, fill_alpha=0.35)
    p.line("t", "drawdown", source=source, color=SELL_COLOR, line_width=1)
    return p


def inventory_figure(
    source: ColumnDataSource, *, limit: float | None = None, x_range: Any = None
) -> Any:
    """Position as a step series, with the position limit. Columns: ``t`` (ms), ``position``."""
    title = "Inventory" + (f" (limit ±{limit:g})" if limit else "")
    p = _time_figure(title, "position", "inventory", x_range)
    p.step("t", "position", source=source, mode="after", color=LINE_COLOR, line_width=1.5)
    if limit:
        for level in (limit, -limit):
            p.add_layout(
                Span(
                    location=level,
                    dimension="width",
                    line_color=SELL_COLOR,
                    line_dash="dashed",
                    line_width=1,
                )
            )
    return p


def price_figure(
    series: ColumnDataSource, fills: ColumnDataSource, *, title: str = "", x_range: Any = None
) -> Any:
    """Mid, our best bid and ask, and our fills.

    ``series`` columns: ``t`` (ms), ``mid``, ``bid``, ``ask`` (NaN where we had no quote).
    ``fills`` columns: ``t``, ``price``, ``qty``, ``side`` (``"buy"``/``"sell"``), ``color``,
    ``marker``.
    """
    p = _time_figure(title or "Price, our quotes and fills", "price", "price", x_range, 340)
    p.line("t", "mid", source=series, color=MUTED, line_width=1, legend_label="mid")
    p.step(
        "t",
        "bid",
        source=series,
        mode="after",
        color=BUY_COLOR,
        line_alpha=0.7,
        legend_label="our bid",
    )
    p.step(
        "t",
        "ask",
        source=series,
        mode="after",
        color=SELL_COLOR,
        line_alpha=0.7,
        legend_label="our ask",
    )
    r = p.scatter(
        "t",
        "price",
        source=fills,
        color="color",
        marker="marker",
        size=8,
        line_color="black",
        line_width=0.5,
        legend_label="fills",
    )
    p.add_tools(
        HoverTool(
            renderers=[r],
            tooltips=[
                ("side", "@side"),
                ("price", "@price"),
                ("qty", "@qty"),
                ("t", "@t{%F %T.%3N}"),
            ],
            formatters={"@t": "datetime"},
        )
    )
    p.legend.location = "top_left"
    p.legend.click_policy = "hide"
    return p


def spread_vol_figure(source: ColumnDataSource, *, window: str = "", x_range: Any = None) -> Any:
    """Our quoted spread and the mid's volatility on a second axis.

    Columns: ``t`` (ms), ``spread_bps`` (our ask − bid, bps of mid), ``vol_bps`` (rolling
    standard deviation of mid log returns, bps per √s).
    """
    title = "Our quoted spread and mid volatility" + (f" ({window} window)" if window else "")
    p = _time_figure(title, "quoted spread (bps)", "spread_vol", x_range)
    p.step(
        "t",
        "spread_bps",
        source=source,
        mode="after",
        color=LINE_COLOR,
        legend_label="quoted spread (bps)",
    )
    vol = np.asarray(source.data.get("vol_bps", []), dtype=np.float64)
    top = float(np.nanmax(vol)) if vol.size and np.isfinite(vol).any() else 1.0
    p.extra_y_ranges = {"vol": Range1d(start=0.0, end=max(top, 1e-9) * 1.1)}
    p.add_layout(LinearAxis(y_range_name="vol", axis_label="volatility (bps/√s)"), "right")
    p.line(
        "t",
        "vol_bps",
        source=source,
        y_range_name="vol",
        color="#ff7f0e",
        legend_label="mid volatility (bps/√s)",
    )
    p.legend.location = "top_left"
    p.legend.click_policy = "hide"
    return p


def markout_figure(source: ColumnDataSource, *, title: str = "") -> Any:
    """Mean markout (bps) by horizon for all fills, buys and sells.

    Columns: ``horizon_s``, ``all``, ``buy``, ``sell`` (NaN where no fill had a markout),
    ``count``.
    """
    p = figure(
        title=title or "Markouts: mean mid move after our fills",
        name="markouts",
        x_axis_type="log",
        width=WIDTH // 2,
        height=320,
        tools=TOOLS,
    )
    p.toolbar.logo = None
    p.xaxis.axis_label = "horizon (s)"
    p.yaxis.axis_label = "markout (bps, + is good for us)"
    p.add_layout(Span(location=0, dimension="width", line_color=MUTED, line_width=1))
    for col, color in (("all", LINE_COLOR), ("buy", BUY_COLOR), ("sell", SELL_COLOR)):
        p.line("horizon_s", col, source=source, color=color, line_width=2, legend_label=col)
        p.scatter("horizon_s", col, source=source, color=color, size=6, legend_label=col)
    p.add_tools(
        HoverTool(
            tooltips=[
                ("horizon", "@horizon_s s"),
                ("all", "@all{0.00} bps"),
                ("buy", "@buy{0.00}"),
                ("sell", "@sell{0.00}"),
                ("fills", "@count"),
            ]
        )
    )
    p.legend.location = "bottom_left"
    p.legend.click_policy = "hide"
    return p


def fill_rate_figure(source: ColumnDataSource, *, unit: str = "ticks", bucket: float = 1.0) -> Any:
    """Fill rate of our quotes by distance from the mid at placement.

    Columns: ``distance`` (bucket start), ``fill_rate``, ``n_quotes``, ``offered``, ``filled``.
    """
    p = figure(
        title=f"Fill rate by distance from mid ({unit})",
        name="fill_rate",
        width=WIDTH // 2,
        height=320,
        tools=TOOLS,
    )
    p.toolbar.logo = None
    p.vbar(x="distance", top="fill_rate", width=0.8 * bucket, source=source, color=LINE_COLOR)
    p.xaxis.axis_label = f"distance behind the mid at placement ({unit})"
    p.yaxis.axis_label = "filled / offered"
    p.add_tools(
        HoverTool(
            tooltips=[
                ("distance", "@distance"),
                ("fill rate", "@fill_rate{0.000}"),
                ("quotes", "@n_quotes"),
                ("offered", "@offered"),
                ("filled", "@filled"),
            ]
        )
    )
    return p


def pnl_decomposition_figure(components: Mapping[str, float], *, currency: str = "") -> Any:
    """Bars of spread capture, inventory, fees and their total."""
    names = list(components)
    values = [float(components[k]) for k in names]
    colors = [BUY_COLOR if v >= 0 else SELL_COLOR for v in values]
    source = ColumnDataSource({"component": names, "value": values, "color": colors})
    unit = f" ({currency})" if currency else ""
    p = figure(
        title="PnL decomposition: total = spread + inventory + fees",
        name="pnl_decomposition",
        x_range=names,
        width=WIDTH // 2,
        height=320,
        tools="save",
    )
    p.toolbar.logo = None
    p.vbar(x="component", top="value", width=0.6, color="color", source=source)
    p.add_layout(Span(location=0, dimension="width", line_color=MUTED, line_width=1))
    p.yaxis.axis_label = f"PnL{unit}"
    p.add_tools(HoverTool(tooltips=[("", "@component"), ("PnL", "@value{0.[000000]}")]))
    return p


def metrics_table(rows: Sequence[tuple[str, str, str]], *, height: int = 600) -> DataTable:
    """A table of (group, metric, value) rows."""
    source = ColumnDataSource(
        {
            "group": [r[0] for r in rows],
            "metric": [r[1] for r in rows],
            "value": [r[2] for r in rows],
        }
    )
    return DataTable(
        source=source,
        name="metrics",
        columns=[
            TableColumn(field="group", title="group", width=140),
            TableColumn(field="metric", title="metric", width=260),
            TableColumn(field="value", title="value", width=560),
        ],
        width=960,
        height=height,
        index_position=None,
        sortable=False,
        reorderable=False,
    )


def stack(*items: Any) -> Any:
    """Lay figures out one under another, stretching to the page width."""
    return column(*items, sizing_mode="stretch_width")
