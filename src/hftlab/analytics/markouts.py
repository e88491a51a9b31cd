"""Markouts: how the mid moved after each of our fills (adverse selection).

For a fill at time ``t``, price ``p`` and side ``s`` (+1 bought, −1 sold), the markout at
horizon ``h`` is ``s·(mid(t+h) − p)`` in price units and ``1e4·s·(mid(t+h) − p)/p`` in basis
points. ``mid(x)`` is the last mid with timestamp ``≤ x``. Positive is good for us; a market
maker that is picked off shows negative markouts growing with the horizon.

Lookups are one vectorised ``searchsorted`` over all fills × horizons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import msgspec
import numpy as np

from hftlab.analytics.metrics import (
    FILL_COLUMNS,
    Clock,
    _clock_column,
    _columns,
    _floats,
    _side,
    _timestamps,
)
from hftlab.errors import ConfigError, DataError
from hftlab.units import NS_PER_MS, NS_PER_S

#: 100 ms, 1 s, 10 s, 60 s.
DEFAULT_HORIZONS_NS: Final = (100 * NS_PER_MS, NS_PER_S, 10 * NS_PER_S, 60 * NS_PER_S)


class Markouts(msgspec.Struct, frozen=True):
    """Per-fill markouts, one column per horizon.

    Attributes
    ----------
    horizons_ns
        int64, shape (H,).
    side, price
        The fills' sides (+1/−1) and prices, shape (N,).
    price_markout, bps_markout
        float64, shape (N, H); NaN where ``t+h`` lies past ``end_ts`` or before the first mid,
        or the mid there is NaN (one-sided book).
    """

    horizons_ns: np.ndarray
    side: np.ndarray
    price: np.ndarray
    price_markout: np.ndarray
    bps_markout: np.ndarray


class MarkoutCurve(msgspec.Struct, frozen=True):
    """Aggregate markout per horizon; entries are ``None`` where no fill had a markout."""

    horizons_ns: tuple[int, ...]
    count: tuple[int, ...]
    mean: tuple[float | None, ...]
    median: tuple[float | None, ...]
    mean_bps: tuple[float | None, ...]
    median_bps: tuple[float | None, ...]


class MarkoutSummary(msgspec.Struct, frozen=True):
    """Markout curves over all fills and per side (``buy``: we bought)."""

    all: MarkoutCurve
    buy: MarkoutCurve
    sell: MarkoutCurve


def markouts(
    fill_ts: np.ndarray,
    fill_price: np.ndarray,
    fill_side: np.ndarray,
    mid_ts: np.ndarray,
    mid: np.ndarray,
    *,
    horizons_ns: Sequence[int] = DEFAULT_HORIZONS_NS,
    end_ts: int | None = None,
) -> Markouts:
    """Markout of every fill at every horizon.

    Parameters
    ----------
    fill_ts
        Fill times, int64 ns, in the same clock as ``mid_ts`` (need not be sorted).
    fill_price
        Fill prices (> 0, for the bps figure).
    fill_side
        +1 when we bought, −1 when we sold.
    mid_ts, mid
        The mid series, sorted by time; NaN mids (one-sided book) give NaN markouts.
    horizons_ns
        Horizons, ns (≥ 0).
    end_ts
        Last time the mid is known (default: the last mid). Later horizons are NaN rather than
        the stale last mid.
    """
    t = _timestamps(fill_ts, "fill_ts", sort=False)
    p = _floats(fill_price, "fill_price", size=t.size, size_of="fill_ts")
    s_raw = np.asarray(fill_side)
    if s_raw.shape != t.shape:
        raise DataError(f"fill_side has shape {s_raw.shape} but fill_ts has {t.shape}")
    s = _side(s_raw, "fill")
    if np.any(p <= 0):
        i = int(np.flatnonzero(p <= 0)[0])
        raise DataError(f"fill_price[{i}] is {p[i]}: prices must be > 0")
    mt = _timestamps(mid_ts, "mid_ts")
    m = _floats(mid, "mid", size=mt.size, size_of="mid_ts", finite=False)
    h = np.asarray(horizons_ns, dtype=np.int64)
    if h.ndim != 1 or np.any(h < 0):
        raise ConfigError(f"horizons must be a list of ns ≥ 0, got {list(horizons_ns)}")
    if mt.size == 0:
        raise DataError("mid series is empty")
    end = int(mt[-1]) if end_ts is None else int(end_ts)

    query = t[:, None] + h[None, :]
    idx = np.searchsorted(mt, query, side="right") - 1
    known = (idx >= 0) & (query <= end)
    mid_h = np.where(known, m[np.clip(idx, 0, None)], np.nan)
    pm = s[:, None] * (mid_h - p[:, None])
    return Markouts(
        horizons_ns=h,
        side=s.astype(np.int8),
        price=p,
        price_markout=pm,
        bps_markout=1e4 * pm / p[:, None],
    )


def fill_markouts(
    fills: Mapping[str, np.ndarray],
    mid_ts: np.ndarray,
    mid: np.ndarray,
    *,
    clock: Clock = "exchange",
    horizons_ns: Sequence[int] = DEFAULT_HORIZONS_NS,
    end_ts: int | None = None,
) -> Markouts:
    """:func:`markouts` from a fill table (:data:`~hftlab.analytics.metrics.FILL_COLUMNS`).

    ``clock`` picks ``ts_exchange`` or ``ts_local`` of the fills; ``mid_ts`` must be stamped
    in the same clock.
    """
    col = _clock_column(clock)
    f = _columns(fills, (col, "side", "price"), FILL_COLUMNS, "fill table")
    return markouts(
        f[col], f["price"], f["side"], mid_ts, mid, horizons_ns=horizons_ns, end_ts=end_ts
    )


def _curve(h: np.ndarray, pm: np.ndarray, bps: np.ndarray) -> MarkoutCurve:
    ok = ~np.isnan(pm)
    count = ok.sum(axis=0)

    def agg(x: np.ndarray, fn: object) -> tuple[float | None, ...]:
        out: list[float | None] = []
        for j in range(h.size):  # a loop over horizons (a handful), not over fills
            col = x[ok[:, j], j]
            out.append(float(fn(col)) if col.size else None)  # type: ignore[operator]
        return tuple(out)

    return MarkoutCurve(
        horizons_ns=tuple(int(x) for x in h),
        count=tuple(int(c) for c in count),
        mean=agg(pm, np.mean),
        median=agg(pm, np.median),
        mean_bps=agg(bps, np.mean),
        median_bps=agg(bps, np.median),
    )


def markout_curve(m: Markouts) -> MarkoutSummary:
    """Mean, median and count of markouts per horizon, overall and per side."""
    buy, sell = m.side > 0, m.side < 0
    return MarkoutSummary(
        all=_curve(m.horizons_ns, m.price_markout, m.bps_markout),
        buy=_curve(m.horizons_ns, m.price_markout[buy], m.bps_markout[buy]),
        sell=_curve(m.horizons_ns, m.price_markout[sell], m.bps_markout[sell]),
    )
