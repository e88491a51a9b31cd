"""Trade-intensity calibration: ``λ(δ) = A exp(-k δ)``, the rate at which market orders reach
a resting order ``δ`` away from the mid (Avellaneda & Stoikov 2008, §2.4; Guéant, Lehalle &
Fernandez-Tapia 2013).

Estimator ("how far did market orders reach", as in hftbacktest's GLFT calibration example):

1. For each trade, its depth ``δ = s * (price - mid) / tick`` in ticks, where ``mid`` is the mid
   *prevailing at the trade* (the last quote strictly before the trade's timestamp, so a quote
   stamped with the trade, possibly already showing its effect, is not used) and ``s`` the
   aggressor side (+1 buy, -1 sell; ``|price - mid|`` when unknown). Negative depths (a stale
   mid) count as 0.
2. A market order that reached ``δ`` would have filled every resting order at ``δ_j <= δ``, so
   on a grid ``δ_0 < δ_1 < …`` the intensity is ``λ_j = N(δ >= δ_j) / T`` (per second over the
   window ``T``), with ``N`` a count of trades or their summed quantity (``weight="volume"``).
3. Weighted least squares on the logs, ``ln λ_j = ln A - k δ_j``, weights ``w_j = count_j``
   (the Poisson variance of ``ln N`` is about ``1/N``); grid points with fewer than
   ``min_count`` trades are left out. The fit reports the weighted ``R²`` of the log rates and
   the number of points used.

``A`` is in events per second at ``δ = 0``; ``k`` is per tick (divide by the tick size for per
price unit). :func:`fit_intensity` fits a batch; :class:`IntensityEstimator` keeps a rolling
window online (O(1) amortised per event, O(grid) per refit).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any, Literal

import msgspec
import numpy as np

from hftlab.errors import ConfigError, DataError
from hftlab.events import NS_PER_S
from hftlab.signals._checks import (
    as_float_array,
    as_int_array,
    check_sorted,
    positive,
    positive_int,
    same_length,
)

#: Default depth grid: 0 to 20 ticks in half ticks (a trade at the touch with a one-tick spread
#: is half a tick from the mid).
DEFAULT_DEPTHS: tuple[float, ...] = tuple(0.5 * i for i in range(41))
_EPS = 1e-9  # a trade at exactly a grid depth reaches it despite float rounding


class IntensityFit(msgspec.Struct, frozen=True, kw_only=True):
    """``λ(δ) = A exp(-k δ)`` fitted on a window of trades.

    Attributes
    ----------
    a
        ``A``: events (trades or volume) per second reaching depth 0.
    k
        Decay per tick of depth.
    r2
        Weighted ``R²`` of the log-linear fit on the log rates (NaN if the rates are all equal).
    n_points
        Grid depths used in the fit.
    n_trades
        Trades in the window with a prevailing mid.
    duration_s
        Window length ``T`` in seconds.
    depths, rates
        The points fitted: depth (ticks) and observed ``λ_j`` per second.
    """

    a: float
    k: float
    r2: float
    n_points: int
    n_trades: int
    duration_s: float
    depths: list[float]
    rates: list[float]

    def intensity(self, depth_ticks: Any) -> Any:
        """``A exp(-k δ)`` at ``depth_ticks`` (scalar or array)."""
        return self.a * np.exp(-self.k * np.asarray(depth_ticks, dtype=np.float64))


def _grid(depths: Any) -> np.ndarray:
    grid = as_float_array("depths", DEFAULT_DEPTHS if depths is None else depths)
    if grid.size < 2 or np.any(~np.isfinite(grid)) or np.any(np.diff(grid) <= 0) or grid[0] < 0:
        raise ConfigError("depths must be at least 2 increasing, finite, non-negative ticks")
    return grid


def _check_weight(weight: str) -> None:
    if weight not in ("count", "volume"):
        raise ConfigError(f"weight must be 'count' or 'volume', got {weight!r}")


def _fit_points(
    grid: np.ndarray,
    counts: np.ndarray,
    amounts: np.ndarray,
    duration_s: float,
    n_trades: int,
    min_count: int,
) -> IntensityFit | None:
    """WLS of ``ln(amount_j / T)`` on ``δ_j`` with weights ``counts_j``; None if < 2 points."""
    use = (counts >= min_count) & (amounts > 0)
    if use.sum() < 2 or duration_s <= 0:
        return None
    x = grid[use]
    y = np.log(amounts[use] / duration_s)
    w = counts[use].astype(np.float64)
    sw = w.sum()
    xm = (w * x).sum() / sw
    ym = (w * y).sum() / sw
    sxx = (w * (x - xm) ** 2).sum()
    slope = (w * (x - xm) * (y - ym)).sum() / sxx
    intercept = ym - slope * xm
    ss_res = (w * (y - intercept - slope * x) ** 2).sum()
    ss_tot = (w * (y - ym) ** 2).sum()
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    return IntensityFit(
        a=math.exp(intercept),
        k=-slope,
        r2=float(r2),
        n_points=int(use.sum()),
        n_trades=n_trades,
        duration_s=duration_s,
        depths=x.tolist(),
        rates=np.exp(y).tolist(),
    )


def trade_depths(
    trade_ts: Any,
    trade_price: Any,
    quote_ts: Any,
    bid: Any,
    ask: Any,
    *,
    trade_side: Any = None,
    tick_size: float = 1.0,
) -> np.ndarray:
    """Depth ``δ`` in ticks of each trade from the mid prevailing just before it.

    NaN for trades before the first quote. See the module docstring for the sign convention.
    """
    tt = as_int_array("trade_ts", trade_ts)
    tp = as_float_array("trade_price", trade_price)
    qt = as_int_array("quote_ts", quote_ts)
    b = as_float_array("bid", bid)
    a = as_float_array("ask", ask)
    same_length(trade_ts=tt, trade_price=tp)
    same_length(quote_ts=qt, bid=b, ask=a)
    check_sorted("trade_ts", tt)
    check_sorted("quote_ts", qt)
    tick = positive("tick_size", tick_size)
    side = np.zeros(len(tt)) if trade_side is None else as_float_array("trade_side", trade_side)
    same_length(trade_ts=tt, trade_side=side)
    j = np.searchsorted(qt, tt, side="left") - 1  # last quote strictly before the trade
    has = j >= 0
    mid = np.where(has, (b[np.maximum(j, 0)] + a[np.maximum(j, 0)]) * 0.5, np.nan)
    off = (tp - mid) / tick
    depth = np.where(side > 0, off, np.where(side < 0, -off, np.abs(off)))
    return np.where(has, np.maximum(depth, 0.0), np.nan)


def fit_intensity(
    trade_ts: Any,
    trade_price: Any,
    quote_ts: Any,
    bid: Any,
    ask: Any,
    *,
    trade_qty: Any = None,
    trade_side: Any = None,
    tick_size: float = 1.0,
    depths: Any = None,
    start: int | None = None,
    end: int | None = None,
    side: int = 0,
    weight: Literal["count", "volume"] = "count",
    min_count: int = 1,
) -> IntensityFit:
    """Fit ``λ(δ) = A exp(-k δ)`` from trades and the quotes around them.

    Parameters
    ----------
    trade_ts, trade_price
        Trades (ns, price), time-ordered.
    quote_ts, bid, ask
        L1 quotes (ns, prices), time-ordered; the mid prevailing before each trade is used.
    trade_qty
        Trade quantities; needed for ``weight="volume"``.
    trade_side
        Aggressor side (+1 buy, -1 sell, 0 unknown); gives signed depths and side selection.
    tick_size
        Price units per tick; depths and ``k`` are in ticks.
    depths
        Depth grid in ticks (default 0, 0.5, …, 20).
    start, end
        Window ``[start, end)`` in ns; default from the first event to just after the last.
    side
        ``+1`` buy aggressors only (they reach asks), ``-1`` sells only, ``0`` both.
    weight
        ``"count"`` trades per second, ``"volume"`` quantity per second.
    min_count
        Grid depths reached by fewer trades are left out of the fit.

    Returns
    -------
    IntensityFit

    Raises
    ------
    DataError
        Bad inputs, or fewer than two grid depths reached by ``min_count`` trades.
    """
    grid = _grid(depths)
    _check_weight(weight)
    if side not in (-1, 0, 1):
        raise ConfigError(f"side must be -1, 0 or +1, got {side!r}")
    min_count = positive_int("min_count", min_count)
    tt = as_int_array("trade_ts", trade_ts)
    qt = as_int_array("quote_ts", quote_ts)
    depth = trade_depths(tt, trade_price, qt, bid, ask, trade_side=trade_side, tick_size=tick_size)
    sides = np.zeros(len(tt)) if trade_side is None else as_float_array("trade_side", trade_side)
    if weight == "volume":
        if trade_qty is None:
            raise ConfigError("weight='volume' needs trade_qty")
        qty = as_float_array("trade_qty", trade_qty)
        same_length(trade_ts=tt, trade_qty=qty)
    else:
        qty = np.ones(len(tt))
    if len(tt) == 0 and len(qt) == 0:
        raise DataError("no trades and no quotes to fit an intensity on")
    first = min(int(tt[0]) if len(tt) else 2**62, int(qt[0]) if len(qt) else 2**62)
    last = max(int(tt[-1]) if len(tt) else -(2**62), int(qt[-1]) if len(qt) else -(2**62))
    lo = first if start is None else int(start)
    hi = last + 1 if end is None else int(end)
    if hi <= lo:
        raise ConfigError(f"empty window: start={lo} >= end={hi}")
    sel = (tt >= lo) & (tt < hi) & ~np.isnan(depth)
    if side:
        sel &= sides == side
    d = depth[sel]
    q = qty[sel]
    reached = np.searchsorted(grid, d + _EPS, side="right")  # grid points with δ_j <= δ
    counts_bin = np.bincount(reached, minlength=len(grid) + 1)[1:]
    amounts_bin = np.bincount(reached, weights=q, minlength=len(grid) + 1)[1:]
    # N(δ >= δ_j): trades whose deepest reached grid point is j or beyond.
    counts = np.cumsum(counts_bin[::-1])[::-1]
    amounts = np.cumsum(amounts_bin[::-1])[::-1]
    fit = _fit_points(grid, counts, amounts, (hi - lo) / NS_PER_S, int(sel.sum()), min_count)
    if fit is None:
        raise DataError(
            f"only {int((counts >= min_count).sum())} depth(s) reached by {min_count}+ trades "
            f"among {int(sel.sum())} trades in the window; need 2",
            hint="widen the window or the depth grid, or lower min_count",
        )
    return fit


class IntensityEstimator:
    """Online ``λ(δ) = A exp(-k δ)`` on a rolling window of trades.

    Feed quotes and trades in arrival order; call :meth:`fit` whenever a fresh estimate is
    wanted (it costs O(grid size)). The window at time ``now`` holds trades with
    ``now - window_ns < ts <= now``; before a whole window has elapsed it starts at the first
    event seen, so early rates are not diluted. Matches :func:`fit_intensity` with
    ``start = max(first event, now - window_ns + 1)`` and ``end = now + 1``.

    Parameters
    ----------
    window_ns
        Window length, ns.
    depths, tick_size, side, weight, min_count
        As for :func:`fit_intensity`.
    """

    def __init__(
        self,
        window_ns: int,
        *,
        depths: Any = None,
        tick_size: float = 1.0,
        side: int = 0,
        weight: Literal["count", "volume"] = "count",
        min_count: int = 1,
    ) -> None:
        self.window_ns = positive_int("window_ns", window_ns)
        self._grid = _grid(depths)
        self._grid_list = self._grid.tolist()
        self._tick = positive("tick_size", tick_size)
        if side not in (-1, 0, 1):
            raise ConfigError(f"side must be -1, 0 or +1, got {side!r}")
        self._side = side
        _check_weight(weight)
        self._volume = weight == "volume"
        self._min_count = positive_int("min_count", min_count)
        n = len(self._grid)
        self._counts = [0] * (n + 1)  # by deepest grid point reached (index 0: none reached)
        self._amounts = [0.0] * (n + 1)
        self._trades: deque[tuple[int, int, float]] = deque()
        self._mid = math.nan
        self._mid_ts = -(2**63)
        self._mid_before = math.nan  # mid as of the last quote strictly before _mid_ts
        self._first_ts: int | None = None
        self._last_ts = -(2**63)

    def _clock(self, ts: int) -> None:
        if ts < self._last_ts:
            raise DataError(f"IntensityEstimator: time goes back ({ts} after {self._last_ts})")
        self._last_ts = ts
        if self._first_ts is None:
            self._first_ts = ts

    def on_quote(self, ts: int, bid: float, ask: float) -> None:
        """A new best bid/ask at ``ts`` (ns)."""
        self._clock(ts)
        if ts > self._mid_ts:
            self._mid_before = self._mid
            self._mid_ts = ts
        self._mid = (bid + ask) * 0.5

    def on_trade(self, ts: int, price: float, qty: float = 1.0, side: int = 0) -> None:
        """A trade at ``ts`` (ns); ``side`` is the aggressor's (+1 buy, -1 sell, 0 unknown)."""
        self._clock(ts)
        if self._side and side != self._side:
            return
        mid = self._mid if self._mid_ts < ts else self._mid_before  # strictly before the trade
        if mid != mid:  # no quote yet
            return
        off = (price - mid) / self._tick
        depth = off if side > 0 else (-off if side < 0 else abs(off))
        j = bisect.bisect_right(self._grid_list, max(depth, 0.0) + _EPS)
        amount = qty if self._volume else 1.0
        self._counts[j] += 1
        self._amounts[j] += amount
        self._trades.append((ts, j, amount))
        self._evict(ts)

    def _evict(self, now: int) -> None:
        horizon = now - self.window_ns
        trades = self._trades
        while trades and trades[0][0] <= horizon:
            _, j, amount = trades.popleft()
            self._counts[j] -= 1
            self._amounts[j] -= amount
            if self._counts[j] == 0:
                self._amounts[j] = 0.0  # no float drift left behind in an empty bin

    @property
    def n_trades(self) -> int:
        """Trades currently in the window."""
        return len(self._trades)

    def fit(self, now: int) -> IntensityFit | None:
        """Fit on the window ending at ``now`` (ns); None while fewer than 2 depths qualify."""
        if self._first_ts is None:
            return None
        self._evict(now)
        counts = np.cumsum(np.asarray(self._counts[:0:-1]))[::-1]
        amounts = np.cumsum(np.asarray(self._amounts[:0:-1]))[::-1]
        start = max(self._first_ts, now - self.window_ns + 1)
        duration = (now + 1 - start) / NS_PER_S
        return _fit_points(
            self._grid, counts, amounts, duration, len(self._trades), self._min_count
        )
