"""Exponentially weighted moving averages and volatility in *time*, for irregular event times.

Decay is set by a half-life in nanoseconds, not in samples. An observation ``x_i`` at time
``t_i`` stands for the interval ``(t_{i-1}, t_i]`` and is blended in with the weight that
interval earns::

    a_i = exp(-ln2 * (t_i - t_{i-1}) / H)
    v_i = a_i * v_{i-1} + (1 - a_i) * x_i                      (the first observation sets v)

Weights depend only on elapsed time, so an input that drops from 1 to 0 at ``t0`` leaves exactly
``1/2`` at ``t0 + H`` however many samples fall in between (``Π a_i = exp(-ln2) = 1/2``).

Volatility (:class:`EwmaVolatility`) is the EWMA above applied to the *variance rate* of log
returns, ``x_i = r_i² / Δt_i`` with ``r_i = ln(p_i / p_{i-1})`` and ``Δt_i`` in seconds:
``E[r²] = σ² Δt`` makes each ``x_i`` an unbiased estimate of ``σ²`` however long its interval,
and the time weights give each interval its due share. ``σ = sqrt(v)`` is per ``sqrt(second)``;
:func:`annualise` scales it to a year of a market that never closes.

Sampling: ``sample_interval_ns=None`` uses every price update (event time: sensitive to
bid/ask bounce of the mid at high frequency). ``sample_interval_ns=Δ`` samples the price
prevailing *just before* each multiple of ``Δ`` (previous-tick sampling; grid aligned to the
epoch so online and offline agree), giving returns over a fixed ``Δ``; intervals without a
price change contribute zero returns, as they should.

Several updates at one timestamp count as one: the last price (or value) at a timestamp wins.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
from numba import njit

from hftlab.errors import DataError
from hftlab.events import NS_PER_S
from hftlab.signals._checks import (
    as_float_array,
    as_int_array,
    check_sorted,
    positive,
    positive_int,
    same_length,
)

LN2: Final = math.log(2.0)
SECONDS_PER_DAY: Final = 86_400
#: Days in a year of a 24/7 market (the crypto convention: calendar days, no holidays).
DAYS_PER_YEAR_24_7: Final = 365.0


def decay_rate(half_life_ns: float) -> float:
    """``λ = ln2 / H`` per ns, for a half-life ``H`` in ns (:class:`ConfigError` if not > 0)."""
    return LN2 / positive("half_life_ns", half_life_ns)


def annualise(sigma_per_sqrt_s: Any, *, days_per_year: float = DAYS_PER_YEAR_24_7) -> Any:
    """Volatility per ``sqrt(second)`` to per ``sqrt(year)`` for a 24/7 market.

    ``σ_year = σ_s * sqrt(days_per_year * 86400)`` (square-root-of-time scaling, i.i.d.
    returns). With the default 365 days: ``σ_s * 5615.69…``.

    Examples
    --------
    >>> round(annualise(1e-4), 6)   # 1e-4 * sqrt(31_536_000)
    0.561569
    """
    days = positive("days_per_year", days_per_year)
    return sigma_per_sqrt_s * math.sqrt(days * SECONDS_PER_DAY)


class Ewma:
    """Time-decayed EWMA of irregularly spaced observations (online, O(1) per update).

    Parameters
    ----------
    half_life_ns
        Time for an observation's weight to halve, ns.

    Examples
    --------
    >>> e = Ewma(half_life_ns=1_000)
    >>> e.update(0, 1.0)
    1.0
    >>> e.update(400, 0.0); e.update(1_000, 0.0)   # any sampling: half after one half-life
    0.5
    """

    __slots__ = ("_a_last", "_lam", "_t", "_v", "_v_prev")

    def __init__(self, half_life_ns: float) -> None:
        self._lam = decay_rate(half_life_ns)
        self._t: int | None = None
        self._v = math.nan
        self._v_prev = math.nan  # state before the last timestamp, to redo same-time updates
        self._a_last = 0.0

    @property
    def value(self) -> float:
        """Current average (NaN before the first update)."""
        return self._v

    def update(self, ts: int, x: float) -> float:
        """Blend in ``x`` observed at ``ts`` (ns, non-decreasing); return the new average."""
        t = self._t
        if t is None:
            self._t, self._v, self._a_last = ts, x, 0.0
        elif ts > t:
            a = math.exp(-self._lam * (ts - t))
            self._v_prev, self._a_last, self._t = self._v, a, ts
            self._v = a * self._v + (1.0 - a) * x
        elif ts == t:  # same timestamp: the last value wins, redo the blend
            if self._v_prev != self._v_prev:  # still at the first timestamp
                self._v = x
            else:
                self._v = self._a_last * self._v_prev + (1.0 - self._a_last) * x
        else:
            raise DataError(f"Ewma: time goes back ({ts} after {t})")
        return self._v


@njit(cache=True)
def _ewma_kernel(ts: np.ndarray, x: np.ndarray, lam: float, out: np.ndarray) -> int:
    """Offline :class:`Ewma`; returns the first row going back in time, or -1."""
    v = np.nan
    v_prev = np.nan
    a_last = 0.0
    for i in range(ts.shape[0]):
        if i == 0:
            v = x[0]
        elif ts[i] > ts[i - 1]:
            a = np.exp(-lam * (ts[i] - ts[i - 1]))
            v_prev = v
            a_last = a
            v = a * v + (1.0 - a) * x[i]
        elif ts[i] == ts[i - 1]:
            v = x[i] if np.isnan(v_prev) else a_last * v_prev + (1.0 - a_last) * x[i]
        else:
            return i
        out[i] = v
    return -1


def ewma(ts: Any, x: Any, half_life_ns: float) -> np.ndarray:
    """Offline :class:`Ewma`: the average after each row (vectorised input, compiled loop).

    Parameters
    ----------
    ts
        Times, int64 ns, non-decreasing.
    x
        Observations.
    half_life_ns
        Half-life in ns.
    """
    t = as_int_array("ts", ts)
    v = as_float_array("x", x)
    same_length(ts=t, x=v)
    check_sorted("ts", t)
    out = np.full(len(t), np.nan)
    _ewma_kernel(t, v, decay_rate(half_life_ns), out)
    return out


class EwmaVolatility:
    """Online EWMA volatility of log returns with a half-life in time.

    Parameters
    ----------
    half_life_ns
        Half-life of the weights, ns.
    sample_interval_ns
        ``None``: a return per price update (event time). ``Δ``: returns between the prices
        prevailing just before successive multiples of ``Δ``.

    Notes
    -----
    :meth:`update` is O(1) whatever the gap since the last update: ``k`` empty sampling
    intervals are ``k`` zero returns, applied at once as ``v *= a**k``. ``sigma`` is NaN until
    the first return.
    """

    __slots__ = (
        "_a_step",
        "_ewma",
        "_lam",
        "_next_grid",
        "_p_base",
        "_p_last",
        "_p_sampled",
        "_step",
        "_t_base",
        "_t_last",
        "_v",
    )

    def __init__(self, half_life_ns: float, sample_interval_ns: int | None = None) -> None:
        self._lam = decay_rate(half_life_ns)
        self._step = (
            None
            if sample_interval_ns is None
            else positive_int("sample_interval_ns", sample_interval_ns)
        )
        self._a_step = 0.0 if self._step is None else math.exp(-self._lam * self._step)
        self._ewma = Ewma(half_life_ns)  # event-time mode: EWMA of r²/Δt
        self._t_last: int | None = None
        self._p_last = math.nan
        self._t_base = 0
        self._p_base = math.nan
        self._next_grid = 0
        self._p_sampled = math.nan
        self._v = math.nan  # sampled mode: variance rate, per second

    @property
    def variance(self) -> float:
        """Variance rate of log returns, per second (NaN before the first return)."""
        return self._ewma.value if self._step is None else self._v

    @property
    def sigma(self) -> float:
        """Volatility of log returns per ``sqrt(second)``."""
        return math.sqrt(self.variance)

    def update(self, ts: int, price: float) -> float:
        """Feed a price at ``ts`` (ns, non-decreasing); return ``sigma`` (per sqrt second)."""
        if not price > 0.0:
            raise DataError(f"EwmaVolatility: price must be positive, got {price!r} at {ts}")
        t = self._t_last
        if t is not None and ts < t:
            raise DataError(f"EwmaVolatility: time goes back ({ts} after {t})")
        if self._step is None:
            self._update_event(ts, price)
        else:
            self._update_sampled(ts, price)
        return self.sigma

    def _update_event(self, ts: int, price: float) -> None:
        t = self._t_last
        if t is None:
            self._t_last, self._p_last = ts, price
            return
        if ts > t:  # the previous distinct timestamp becomes the base of this return
            self._t_base, self._p_base = t, self._p_last
        self._t_last, self._p_last = ts, price
        if self._p_base == self._p_base:  # a base exists (not NaN)
            r = math.log(price / self._p_base)
            self._ewma.update(ts, r * r * NS_PER_S / (ts - self._t_base))

    def _update_sampled(self, ts: int, price: float) -> None:
        step = self._step
        assert step is not None
        if self._t_last is None:
            self._t_last, self._p_last = ts, price
            self._next_grid = (ts // step + 1) * step
            return
        if ts >= self._next_grid:
            k = (ts - self._next_grid) // step + 1  # grid points in (last, ts], all see p_last
            p = self._p_last
            if self._p_sampled != self._p_sampled:  # first grid point: nothing to return from
                self._p_sampled = p
                k -= 1
            if k > 0:
                r = math.log(p / self._p_sampled)
                x = r * r * NS_PER_S / step
                a = self._a_step
                self._v = x if self._v != self._v else a * self._v + (1.0 - a) * x
                self._p_sampled = p
                if k > 1:  # the other k-1 grid intervals saw no change: zero returns
                    self._v *= a ** (k - 1)
            self._next_grid += ((ts - self._next_grid) // step + 1) * step
        self._t_last, self._p_last = ts, price


@njit(cache=True)
def _vol_event_kernel(ts: np.ndarray, p: np.ndarray, lam: float, out: np.ndarray) -> None:
    # Mirrors EwmaVolatility._update_event + Ewma.update, row by row.
    t_base = 0
    p_base = np.nan
    v = np.nan
    v_prev = np.nan
    a_last = 0.0
    t_e = 0  # time of the last EWMA update
    started = False
    for i in range(ts.shape[0]):
        if i > 0:
            if ts[i] > ts[i - 1]:
                t_base = ts[i - 1]
                p_base = p[i - 1]
            if not np.isnan(p_base):
                r = np.log(p[i] / p_base)
                x = r * r * 1e9 / (ts[i] - t_base)
                if not started:
                    v = x
                    t_e = ts[i]
                    started = True
                elif ts[i] > t_e:
                    a = np.exp(-lam * (ts[i] - t_e))
                    v_prev = v
                    a_last = a
                    v = a * v + (1.0 - a) * x
                    t_e = ts[i]
                else:
                    v = x if np.isnan(v_prev) else a_last * v_prev + (1.0 - a_last) * x
        out[i] = np.sqrt(v)


@njit(cache=True)
def _vol_sampled_kernel(
    ts: np.ndarray, p: np.ndarray, lam: float, step: int, out: np.ndarray
) -> None:
    # Mirrors EwmaVolatility._update_sampled.
    a = np.exp(-lam * step)
    v = np.nan
    p_sampled = np.nan
    next_grid = 0
    for i in range(ts.shape[0]):
        if i == 0:
            next_grid = (ts[0] // step + 1) * step
        elif ts[i] >= next_grid:
            k = (ts[i] - next_grid) // step + 1
            pl = p[i - 1]
            if np.isnan(p_sampled):
                p_sampled = pl
                k -= 1
            if k > 0:
                r = np.log(pl / p_sampled)
                x = r * r * 1e9 / step
                v = x if np.isnan(v) else a * v + (1.0 - a) * x
                p_sampled = pl
                if k > 1:
                    v *= a ** (k - 1)
            next_grid += ((ts[i] - next_grid) // step + 1) * step
        out[i] = np.sqrt(v)


def ewma_volatility(
    ts: Any, price: Any, half_life_ns: float, sample_interval_ns: int | None = None
) -> np.ndarray:
    """Offline :class:`EwmaVolatility`: ``sigma`` (per sqrt second) after each row.

    Parameters
    ----------
    ts
        Times, int64 ns, non-decreasing.
    price
        Positive prices (mid, last trade, …), any unit.
    half_life_ns, sample_interval_ns
        As for :class:`EwmaVolatility`.

    Returns
    -------
    numpy.ndarray
        Same length as ``price``; NaN until the first return.
    """
    t = as_int_array("ts", ts)
    p = as_float_array("price", price)
    same_length(ts=t, price=p)
    check_sorted("ts", t)
    bad = np.flatnonzero(~(p > 0))
    if bad.size:
        raise DataError(f"price must be positive, got {p[bad[0]]!r} at row {int(bad[0])}")
    lam = decay_rate(half_life_ns)
    out = np.empty(len(t))
    if sample_interval_ns is None:
        _vol_event_kernel(t, p, lam, out)
    else:
        step = positive_int("sample_interval_ns", sample_interval_ns)
        _vol_sampled_kernel(t, p, lam, step, out)
    return out
