"""``hftlab report``: one standalone, offline HTML page of a run, and a summary in the terminal.

The page is Bokeh with every script inline (:data:`bokeh.resources.INLINE`), so it opens from
disk without a network. It shows equity and drawdown, and per instrument: price with our quotes
and fills, inventory, our quoted spread with the mid's volatility, the markout curve, the fill
rate by distance from the mid, the PnL decomposition; then the table of every metric of
:func:`~hftlab.analytics.run.compute_metrics`. Series are thinned per pixel bucket
(:func:`~hftlab.analytics.plots.downsample_minmax`) so a run of any length gives a page of a few
MB.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np

from hftlab.analytics.markouts import markout_curve
from hftlab.analytics.run import (
    Metrics,
    RunData,
    RunLike,
    as_run,
    compute_metrics,
    contract,
    equity_series,
    fill_rate_by_distance,
    position_limit,
    position_series,
    run_end_ts,
    run_markouts,
    run_pnl_decomposition,
)
from hftlab.errors import ConfigError

log = logging.getLogger(__name__)

#: Markout horizons drawn in the report's curve, ns.
CURVE_HORIZONS_NS: Final = tuple(
    int(s * 1e9) for s in (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
)
#: Buckets (about pixels) a time series is thinned to.
DEFAULT_BUCKETS: Final = 2000
#: Most fills drawn as markers per instrument (evenly strided beyond that).
MAX_FILL_MARKERS: Final = 5000
VOL_WINDOW_S: Final = 60.0


class Report(msgspec.Struct, frozen=True):
    """What :func:`build_report` wrote.

    Attributes
    ----------
    path
        The HTML file.
    size_bytes
        Its size.
    metrics
        The metrics row shown in the page.
    points
        Data points drawn (after thinning), over all figures.
    figures
        Names of the figures in the page.
    seconds
        Time taken to build and write the page.
    """

    path: str
    size_bytes: int
    metrics: dict[str, float | int | str | None]
    points: int
    figures: list[str]
    seconds: float


# --------------------------------------------------------------------------------------------
# Metric table rows
# --------------------------------------------------------------------------------------------

_GROUPS: Final[tuple[tuple[str, Callable[[str], bool]], ...]] = (
    ("run", lambda k: k in {"run", "strategy", "instruments", "events", "span_s", "interval"}),
    (
        "PnL",
        lambda k: (
            k in {"pnl", "equity_end", "fees", "fees_paid", "rebates"} or k.startswith("pnl_")
        ),
    ),
    (
        "risk-adjusted",
        lambda k: (
            k == "n_returns"
            or k.startswith(("sharpe", "sortino", "calmar", "max_drawdown", "longest_"))
        ),
    ),
    ("markouts", lambda k: k.startswith("markout_")),
    (
        "inventory",
        lambda k: k.startswith(("position", "mean_abs", "max_abs", "inventory_", "time_at_limit")),
    ),
    ("risk", lambda k: k.startswith("risk_")),
    ("latency", lambda k: "latency" in k),
    ("quoting", lambda k: True),
)
_ORDER: Final = (
    "run",
    "PnL",
    "risk-adjusted",
    "quoting",
    "markouts",
    "inventory",
    "latency",
    "risk",
)


def _fmt(key: str, value: float | int | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if key.endswith("_ts") and isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1e9, tz=dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, bool | int | np.integer):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    if key.endswith(("_rate", "_fraction")):
        return f"{value:.4f}  ({value * 100:.2f} %)"
    return f"{value:,.6g}"


def metric_rows(metrics: Metrics) -> list[tuple[str, str, str]]:
    """``(group, metric, value)`` rows of a metrics dict, grouped, refusals with their reason."""
    rows: dict[str, list[tuple[str, str, str]]] = {g: [] for g, _ in _GROUPS}
    for key, value in metrics.items():
        if key.endswith("_reason"):
            continue
        text = _fmt(key, value)
        reason = metrics.get(f"{key}_reason")
        if value is None and reason:
            text = f"— ({reason})"
        group = next(g for g, test in _GROUPS if test(key))
        rows[group].append((group, key, text))
    return [row for g in _ORDER for row in rows[g]]


def render_metrics(metrics: Metrics, console: Any = None) -> None:
    """Print the metrics as a rich table grouped by topic."""
    import sys

    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if sys.stdout.isatty() else 120)
    table = Table(title=f"run {metrics.get('run')}", show_edge=False, title_justify="left")
    table.add_column("group", style="dim")
    table.add_column("metric")
    table.add_column("value", justify="right")
    last = None
    for group, key, text in metric_rows(metrics):
        if last is not None and group != last:
            table.add_section()
        table.add_row(group if group != last else "", key, text)
        last = group
    console.print(table)


# --------------------------------------------------------------------------------------------
# Series for the figures (private)
# --------------------------------------------------------------------------------------------


def _rolling_vol_bps(ts: np.ndarray, mid: np.ndarray, window_s: float) -> np.ndarray:
    """``1e4·√(Σ r² / Σ Δt)`` over the last ``window_s`` of mid log returns (bps per √s).

    NaN until the window holds at least a quarter of ``window_s`` of returns.
    """
    out = np.full(ts.size, np.nan)
    if ts.size < 3:
        return out
    r = np.diff(np.log(mid))
    dts = np.diff(ts) / 1e9
    ok = np.isfinite(r) & (dts > 0)
    r2 = np.cumsum(np.where(ok, r * r, 0.0))
    tt = np.cumsum(np.where(ok, dts, 0.0))
    end_t = ts[1:]
    start = np.searchsorted(end_t, end_t - int(window_s * 1e9), side="right")
    prev_r2 = np.where(start > 0, r2[np.maximum(start - 1, 0)], 0.0)
    prev_tt = np.where(start > 0, tt[np.maximum(start - 1, 0)], 0.0)
    span = tt - prev_tt
    # a window less than a quarter full is too thin to show (the first seconds of a run)
    enough = span >= 0.25 * window_s
    with np.errstate(invalid="ignore", divide="ignore"):
        vol = np.where(enough & (span > 0), 1e4 * np.sqrt((r2 - prev_r2) / span), np.nan)
    out[1:] = vol
    return out


def _state_cols(run: RunData, i: int) -> dict[str, np.ndarray]:
    import pyarrow.compute as pc

    st = run.state.filter(pc.equal(run.state["instrument"], i))
    return {c: st[c].to_numpy() for c in ("ts", "mid", "bid", "ask")}


class _Builder:
    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self.points = 0

    def source(self, ts: np.ndarray, cols: dict[str, np.ndarray], thin: Sequence[str]) -> Any:
        from bokeh.models import ColumnDataSource

        from hftlab.analytics.plots import downsample_minmax, to_ms

        keep = downsample_minmax(ts, [cols[c] for c in thin], self.buckets)
        data = {"t": to_ms(ts[keep])}
        data.update({k: np.asarray(v, dtype=np.float64)[keep] for k, v in cols.items()})
        self.points += int(keep.size) * len(data)
        return ColumnDataSource(data)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def _header(run: RunData, metrics: Metrics) -> str:
    first = run.summary.get("first_ts")
    when = (
        dt.datetime.fromtimestamp(first / 1e9, tz=dt.UTC).isoformat(timespec="seconds")
        if isinstance(first, int)
        else "?"
    )
    span = metrics.get("span_s")
    parts = (
        [
            f"<h1 style='margin:4px 0'>hftlab report: {html.escape(run.name)}</h1>",
            "<p style='margin:2px 0;color:#444'>",
            f"strategy <b>{html.escape(str(metrics.get('strategy')))}</b> on "
            f"<b>{html.escape(', '.join(run.instruments))}</b>; start {when}, span "
            f"{span:,.1f} s, {metrics.get('events') or 0:,} events; PnL "
            f"<b>{_fmt('pnl', metrics.get('pnl'))}</b>, {metrics.get('fills')} fills.",
            "</p>",
        ]
        if isinstance(span, float)
        else [f"<h1>hftlab report: {html.escape(run.name)}</h1>"]
    )
    return "".join(parts)


def build_report(
    run: RunLike,
    out: str | Path | None = None,
    *,
    interval: str = "1s",
    buckets: int = DEFAULT_BUCKETS,
    metrics: Metrics | None = None,
) -> Report:
    """Write the run's HTML report.

    Parameters
    ----------
    run
        A run folder, ``BacktestResult`` or :class:`~hftlab.analytics.run.RunData`.
    out
        The HTML file (default ``RUN/report.html``; required for an in-memory result).
    interval
        Sampling interval of the returns behind Sharpe/Sortino/Calmar.
    buckets
        Time buckets (≈ pixels) every series is thinned to.
    metrics
        The run's metrics if already computed (:func:`compute_metrics` with ``interval``).

    Raises
    ------
    ConfigError
        Bokeh is not installed, or no output path was given for an in-memory run.
    """
    try:
        from bokeh.embed import file_html
        from bokeh.models import ColumnDataSource, Div
        from bokeh.resources import INLINE
    except ImportError:  # pragma: no cover - bokeh is an extra
        raise ConfigError("hftlab report needs bokeh: pip install 'hftlab[dashboard]'") from None
    from bokeh.layouts import row

    from hftlab.analytics import plots

    t_start = time.perf_counter()
    r = as_run(run)
    if out is None:
        if r.path is None:
            raise ConfigError("build_report: give `out` (an HTML path) for an in-memory result")
        out = r.path / "report.html"
    out = Path(out)
    m = metrics if metrics is not None else compute_metrics(r, interval=interval)
    b = _Builder(buckets)
    items: list[Any] = [Div(text=_header(r, m), sizing_mode="stretch_width")]
    names: list[str] = []

    ts, eq = equity_series(r)
    dd = eq - np.maximum.accumulate(eq)
    src = b.source(ts, {"equity": eq, "drawdown": dd}, ("equity", "drawdown"))
    eq_fig = plots.equity_figure(src)
    x_range = eq_fig.x_range
    items += [eq_fig, plots.drawdown_figure(src, x_range=x_range)]
    names += ["equity", "drawdown"]
    end = run_end_ts(r)
    multi = len(r.instruments) > 1

    for i, key in enumerate(r.instruments):
        sfx = f"-{i}" if multi else ""
        ctype, _ = contract(r, i)
        currency = "coin" if ctype == "inverse" else ""
        if multi:
            items.append(Div(text=f"<h2>{html.escape(key)}</h2>"))
        s = _state_cols(r, i)
        if s["ts"].size == 0:
            continue
        mid = s["mid"].astype(np.float64)
        # price, quotes, fills
        series = b.source(
            s["ts"], {"mid": mid, "bid": s["bid"], "ask": s["ask"]}, ("mid", "bid", "ask")
        )
        fills = r.fills.filter(r.fills["instrument"].to_numpy() == i) if multi else r.fills
        f_ts = fills["ts_exchange"].to_numpy()
        step = max(1, math.ceil(f_ts.size / MAX_FILL_MARKERS))
        side = fills["side"].to_numpy()[::step]
        fsrc = ColumnDataSource(
            {
                "t": plots.to_ms(f_ts[::step]),
                "price": fills["last_price"].to_numpy()[::step],
                "qty": fills["last_qty"].to_numpy()[::step],
                "side": np.where(side > 0, "buy", "sell"),
                "color": np.where(side > 0, plots.BUY_COLOR, plots.SELL_COLOR),
                "marker": np.where(side > 0, "triangle", "inverted_triangle"),
            }
        )
        b.points += int(f_ts[::step].size) * 6
        shown = "" if step == 1 else f" (every {step}th of {f_ts.size:,} fills drawn)"
        pf = plots.price_figure(
            series, fsrc, title=f"{key}: price, our quotes and fills{shown}", x_range=x_range
        )
        # inventory (exact step series from the fills)
        p_ts, pos = position_series(r, i)
        p_ts, pos = np.r_[p_ts, end], np.r_[pos, pos[-1]]
        inv = plots.inventory_figure(
            b.source(p_ts, {"position": pos}, ("position",)),
            limit=position_limit(r, i),
            x_range=x_range,
        )
        # our spread and the mid's volatility
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = (s["ask"] - s["bid"]) / mid * 1e4
        vol = _rolling_vol_bps(s["ts"], mid, VOL_WINDOW_S)
        sv = plots.spread_vol_figure(
            b.source(s["ts"], {"spread_bps": spread, "vol_bps": vol}, ("spread_bps", "vol_bps")),
            window=f"{VOL_WINDOW_S:g} s",
            x_range=x_range,
        )
        # markouts, fill rate, PnL decomposition
        curve = markout_curve(run_markouts(r, i, CURVE_HORIZONS_NS))
        msrc = ColumnDataSource(
            {
                "horizon_s": np.array(CURVE_HORIZONS_NS) / 1e9,
                "all": _nan(curve.all.mean_bps),
                "buy": _nan(curve.buy.mean_bps),
                "sell": _nan(curve.sell.mean_bps),
                "count": list(curve.all.count),
            }
        )
        mk = plots.markout_figure(
            msrc, title=f"Markouts: mean mid move after our fills ({sum(1 for _ in f_ts):,} fills)"
        )
        fr = fill_rate_by_distance(r, i)
        frf = plots.fill_rate_figure(
            ColumnDataSource(
                {
                    "distance": fr.distance,
                    "fill_rate": np.nan_to_num(fr.fill_rate),
                    "n_quotes": fr.n_quotes,
                    "offered": fr.offered,
                    "filled": fr.filled,
                }
            ),
            unit=fr.unit,
            bucket=fr.bucket,
        )
        if f_ts.size:
            d = run_pnl_decomposition(r, i)
            comp = {"spread": d.spread, "inventory": d.inventory, "fees": d.fees, "total": d.total}
        else:
            comp = {"spread": 0.0, "inventory": 0.0, "fees": 0.0, "total": 0.0}
        pnl = plots.pnl_decomposition_figure(comp, currency=currency)
        for fig, base in (
            (pf, "price"),
            (inv, "inventory"),
            (sv, "spread_vol"),
            (mk, "markouts"),
            (frf, "fill_rate"),
            (pnl, "pnl_decomposition"),
        ):
            fig.name = base + sfx
            names.append(fig.name)
        items += [pf, inv, sv, row(mk, frf), pnl]

    rows = metric_rows(m)
    items.append(Div(text="<h2>Metrics</h2>"))
    items.append(plots.metrics_table(rows, height=min(28 * len(rows) + 30, 2400)))
    names.append("metrics")
    page = file_html(plots.stack(*items), resources=INLINE, title=f"hftlab report: {r.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    seconds = time.perf_counter() - t_start
    size = out.stat().st_size
    log.info("report %s: %d points, %.1f MB, %.2f s", out, b.points, size / 1e6, seconds)
    return Report(str(out), size, dict(m), b.points, names, seconds)


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
