"""Performance metrics of a run, each a small function over numpy arrays.

Inputs are plain arrays — int64 nanosecond timestamps (UTC epoch) and float64 values — or, for
tables, a mapping of column name to array (see :data:`FILL_COLUMNS` and
:data:`ORDER_EVENT_COLUMNS`). Nothing here knows how a run folder is stored.

Annualisation assumes a 24/7 market: a year is 365·24·3600 s, so a sampling interval Δt gives
``365·24·3600 s / Δt`` periods per year. Ratios refuse to annualise spans too short to mean
anything: they return an :class:`Estimate` whose ``value`` is ``None`` and whose ``reason`` says
why (see :class:`AnnualisationPolicy`). ``docs/metrics.md`` has every formula.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum
from typing import Final, Literal, NamedTuple

import msgspec
import numpy as np

from hftlab.errors import ConfigError, DataError
from hftlab.units import NS_PER_DAY, format_duration

#: A 24/7 market trades every second of a 365-day year.
NS_PER_YEAR: Final = 365 * NS_PER_DAY

ReturnKind = Literal["simple", "log", "pnl"]
Clock = Literal["exchange", "local"]

DEFAULT_PERCENTILES: Final = (50.0, 90.0, 99.0)
DEFAULT_LATENCY_PERCENTILES: Final = (50.0, 90.0, 99.0, 99.9)


# --------------------------------------------------------------------------------------------
# Input schemas
# --------------------------------------------------------------------------------------------

#: Fill table columns (one row per fill). ``side`` is +1 when we bought, −1 when we sold;
#: ``fee`` is in quote currency, positive when paid and negative for a rebate.
FILL_COLUMNS: Final[dict[str, np.dtype]] = {
    "ts_exchange": np.dtype(np.int64),
    "ts_local": np.dtype(np.int64),
    "side": np.dtype(np.int8),
    "price": np.dtype(np.float64),
    "qty": np.dtype(np.float64),
    "fee": np.dtype(np.float64),
}


class OrderEventType(IntEnum):
    """Kinds of order event in :data:`ORDER_EVENT_COLUMNS` ``type``."""

    NEW = 1
    MODIFY = 2
    CANCEL = 3
    FILL = 4  # partial or complete; ``leaves_qty`` tells which


#: Order event table columns (one row per event of one of our orders).
#:
#: ``type``        an :class:`OrderEventType` code.
#: ``qty``         NEW/MODIFY: the order's (new) size; FILL: the filled quantity; CANCEL: the
#:                 cancelled quantity (informational).
#: ``leaves_qty``  open quantity after the event; ``<= 0`` means the order is finished.
#: Clocks: request rows (NEW, MODIFY, CANCEL) carry the send time in ``ts_local`` and the
#: exchange's processing time in ``ts_exchange``; FILL rows carry the exchange's match time in
#: ``ts_exchange`` and our receive time in ``ts_local``.
ORDER_EVENT_COLUMNS: Final[dict[str, np.dtype]] = {
    "order_id": np.dtype(np.int64),
    "ts_exchange": np.dtype(np.int64),
    "ts_local": np.dtype(np.int64),
    "type": np.dtype(np.int8),
    "qty": np.dtype(np.float64),
    "leaves_qty": np.dtype(np.float64),
}


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


class Estimate(msgspec.Struct, frozen=True):
    """A figure, or ``None`` with the reason it was refused. Exactly one of the two is set."""

    value: float | None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise ValueError("an Estimate carries either a value or a reason, not both/neither")

    @property
    def ok(self) -> bool:
        """True when the figure was computed."""
        return self.value is not None


class AnnualisationPolicy(msgspec.Struct, frozen=True):
    """When a ratio is too poorly supported to report.

    Attributes
    ----------
    min_span_ns
        Shortest span (number of returns × interval) for which an annualised figure is given.
    min_returns
        Fewest returns for any figure, per-period or annualised (never fewer than 2).
    """

    min_span_ns: int = NS_PER_DAY
    min_returns: int = 30


DEFAULT_POLICY: Final = AnnualisationPolicy()


class Ratio(msgspec.Struct, frozen=True):
    """A risk-adjusted ratio, per sampling period and annualised."""

    name: str
    per_period: Estimate
    annualised: Estimate
    n_returns: int
    interval_ns: int
    span_ns: int
    periods_per_year: float


class Series(NamedTuple):
    """Aligned timestamps (int64 ns) and float64 values."""

    ts: np.ndarray
    values: np.ndarray


class Drawdown(msgspec.Struct, frozen=True):
    """Maximum drawdown and time under water of an equity series.

    Attributes
    ----------
    max_abs
        Largest fall from a running peak, in equity units (≥ 0).
    max_rel
        Largest fall as a fraction of its running peak (or of the capital, when one is given);
        ``None`` (see ``rel_reason``) when the running peak is ever ≤ 0, e.g. for a PnL series
        starting at 0.
    peak_ts, trough_ts, recovery_ts
        The episode of the maximum absolute drawdown: when its peak was set, its lowest point,
        and the first time equity regained the peak (``None`` if it never did, or no drawdown).
    recovered
        Whether that episode recovered before the series ended.
    duration_ns
        Peak to recovery of that episode; peak to the last sample if unrecovered.
    longest_underwater_ns
        Longest peak-to-recovery time of any episode (unrecovered: peak to last sample).
    longest_underwater_recovered
        Whether that longest episode recovered.
    n_episodes
        Number of separate under-water episodes.
    """

    max_abs: float
    max_rel: float | None
    rel_reason: str | None
    peak_ts: int | None
    trough_ts: int | None
    recovery_ts: int | None
    recovered: bool
    duration_ns: int
    longest_underwater_ns: int
    longest_underwater_recovered: bool
    n_episodes: int


class Performance(msgspec.Struct, frozen=True):
    """Sharpe, Sortino, Calmar and drawdown of one equity series."""

    sharpe: Ratio
    sortino: Ratio
    calmar: Ratio
    drawdown: Drawdown
    kind: str
    capital: float | None


class PnlDecomposition(msgspec.Struct, frozen=True):
    """A market maker's PnL split as ``total = spread + inventory + fees``.

    Attributes
    ----------
    total
        Cash flows of the fills plus the change in position value marked to mid.
    spread
        Spread capture: Σ side·qty·(mid at fill − fill price).
    inventory
        Mark-to-market of the held inventory: Σ position·Δmid over the span.
    fees
        Net fee contribution to PnL: rebates − fees paid.
    fees_paid, rebates
        Gross fees paid (≥ 0) and rebates received (≥ 0).
    """

    total: float
    spread: float
    inventory: float
    fees: float
    fees_paid: float
    rebates: float
    n_fills: int
    volume: float
    notional: float
    initial_position: float
    final_position: float
    start_mid: float
    end_mid: float


class Distribution(msgspec.Struct, frozen=True):
    """Summary of a sample: count, mean, extremes, percentiles, and how many were negative.

    ``percentiles`` maps the percentile (e.g. ``99.0``) to its value. Statistics are ``None``
    when the sample is empty.
    """

    count: int
    n_negative: int
    mean: float | None
    min: float | None
    max: float | None
    percentiles: dict[float, float]


class QuoteLifetimes(NamedTuple):
    """Per finished order: its id and lifetime (NEW to CANCEL or final FILL), ns."""

    order_id: np.ndarray
    lifetime_ns: np.ndarray
    n_open: int


class OrderStats(msgspec.Struct, frozen=True):
    """Quoting statistics from the order event table.

    Attributes
    ----------
    hit_rate
        Orders with at least one fill / orders placed.
    fill_rate
        Filled quantity / quoted quantity (NEW and MODIFY sizes; a modify re-offers its size).
    order_to_trade
        (NEW + MODIFY + CANCEL messages) / FILL events.
    lifetime_ns
        Lifetime distribution of finished orders; ``n_open`` orders had not finished.
    """

    n_orders: int
    n_new: int
    n_modify: int
    n_cancel: int
    n_fill: int
    n_hit: int
    n_open: int
    hit_rate: Estimate
    fill_rate: Estimate
    order_to_trade: Estimate
    lifetime_ns: Distribution


class OrderLatency(msgspec.Struct, frozen=True):
    """Entry latency of requests (exchange − local) and response latency of fills (local −
    exchange), ns."""

    entry: Distribution
    response: Distribution


class InventoryStats(msgspec.Struct, frozen=True):
    """Time-weighted inventory figures of a position step series.

    Attributes
    ----------
    turnover
        Traded volume / time-weighted mean |position|.
    turnover_per_day
        ``turnover`` scaled to a 24 h day.
    time_at_limit_ns
        Time with |position| at (or beyond) the limit; split into long and short.
    """

    span_ns: int
    mean_abs_position: float
    max_abs_position: float
    volume: float
    turnover: Estimate
    turnover_per_day: Estimate
    time_at_limit_ns: int
    time_at_long_limit_ns: int
    time_at_short_limit_ns: int
    time_at_limit_fraction: Estimate


# --------------------------------------------------------------------------------------------
# Input checks (private)
# --------------------------------------------------------------------------------------------


def _timestamps(ts: np.ndarray | Sequence[int], name: str, *, sort: bool = True) -> np.ndarray:
    a = np.asarray(ts)
    if a.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise DataError(
            f"{name} must be integer nanoseconds, got dtype {a.dtype}",
            hint="timestamps are int64 ns since the Unix epoch",
        )
    a = a.astype(np.int64, copy=False)
    if sort and a.size > 1:
        bad = np.flatnonzero(np.diff(a) < 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise DataError(
                f"{name} is not sorted: {name}[{i}]={a[i]} < {name}[{i - 1}]={a[i - 1]}",
                hint="sort by time first",
            )
    return a


def _floats(
    x: np.ndarray | Sequence[float],
    name: str,
    *,
    size: int | None = None,
    size_of: str = "",
    finite: bool = True,
) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {a.shape}")
    if size is not None and a.size != size:
        raise DataError(f"{name} has {a.size} values but {size_of} has {size}")
    if finite:
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"{name}[{i}] is {a[i]}: values must be finite")
    return a


def _interval(interval_ns: int) -> int:
    if int(interval_ns) <= 0:
        raise ConfigError(f"sampling interval must be > 0 ns, got {interval_ns}")
    return int(interval_ns)


def _columns(
    table: Mapping[str, np.ndarray], names: Iterable[str], schema: Mapping[str, np.dtype], what: str
) -> dict[str, np.ndarray]:
    """The named columns of ``table`` as arrays of the schema dtype, all of one length."""
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name not in table:
            raise DataError(
                f"{what} has no column {name!r} (has: {', '.join(sorted(table)) or 'none'})"
            )
        col = np.asarray(table[name])
        if col.ndim != 1:
            raise DataError(f"{what} column {name!r} must be one-dimensional")
        dtype = schema[name]
        if dtype.kind in "iu" and col.size and col.dtype.kind not in "iu":
            raise DataError(f"{what} column {name!r} must be integer, got dtype {col.dtype}")
        out[name] = col.astype(dtype, copy=False)
    lengths = {n: c.size for n, c in out.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"{what} columns differ in length: {lengths}")
    return out


def _clock_column(clock: Clock) -> str:
    if clock not in ("exchange", "local"):
        raise ConfigError(f"clock must be 'exchange' or 'local', got {clock!r}")
    return f"ts_{clock}"


def _refused(reason: str) -> Estimate:
    return Estimate(None, reason)


def _zero_scale(dispersion: float, values: np.ndarray) -> bool:
    # Constant returns give a standard deviation of rounding noise, not exactly 0: compare with
    # the returns' own magnitude.
    return not dispersion > 8 * np.finfo(np.float64).eps * float(np.max(np.abs(values)))


# --------------------------------------------------------------------------------------------
# Equity resampling and returns
# --------------------------------------------------------------------------------------------


def periods_per_year(interval_ns: int) -> float:
    """Sampling periods in a 24/7 year: ``365·24·3600 s / interval``.

    Parameters
    ----------
    interval_ns
        Sampling interval in nanoseconds (> 0).
    """
    return NS_PER_YEAR / _interval(interval_ns)


def resample(
    ts: np.ndarray,
    values: np.ndarray,
    interval_ns: int,
    *,
    start: int | None = None,
    end: int | None = None,
) -> Series:
    """Sample a step series onto a regular grid, carrying the last value forward.

    The value at grid time ``g`` is the last observation with timestamp ``≤ g``.

    Parameters
    ----------
    ts
        Observation times, int64 ns, sorted (ties allowed: the last one wins).
    values
        Observed values (e.g. equity marked to mid), finite.
    interval_ns
        Grid step, ns.
    start, end
        First grid time (default: the first observation) and last admissible grid time
        (default: the last observation); the grid is ``start, start + Δ, …`` up to ``end``.

    Returns
    -------
    Series
        Grid times and the values in force at them.

    Raises
    ------
    DataError
        Empty, unsorted or non-finite input, or ``start`` before the first observation.
    """
    step = _interval(interval_ns)
    t = _timestamps(ts, "ts")
    v = _floats(values, "values", size=t.size, size_of="ts")
    if t.size == 0:
        raise DataError("cannot resample an empty series")
    first = int(t[0]) if start is None else int(start)
    last = int(t[-1]) if end is None else int(end)
    if first < t[0]:
        raise DataError(
            f"grid start {first} precedes the first observation at {int(t[0])}: "
            "there is no value to carry forward"
        )
    if last < first:
        raise ConfigError(f"grid end {last} precedes grid start {first}")
    grid = first + np.arange((last - first) // step + 1, dtype=np.int64) * step
    idx = np.searchsorted(t, grid, side="right") - 1
    return Series(grid, v[idx])


def returns(
    values: np.ndarray, *, kind: ReturnKind = "simple", capital: float | None = None
) -> np.ndarray:
    """Period returns of a sampled equity series.

    ``simple``: ``e[i]/e[i-1] − 1``; ``log``: ``ln(e[i]/e[i-1])``; ``pnl``:
    ``(e[i] − e[i-1]) / capital`` — a market maker's capital base is a choice, so PnL returns
    take it explicitly and work for series that start at 0 or go negative.

    Parameters
    ----------
    values
        Equity (or cumulative PnL for ``pnl``) on a regular grid, finite.
    kind
        ``"simple"``, ``"log"`` or ``"pnl"``.
    capital
        Capital base for ``pnl`` returns (> 0); not accepted for the other kinds.

    Returns
    -------
    numpy.ndarray
        ``len(values) − 1`` float64 returns.
    """
    v = _floats(values, "values")
    if kind == "pnl":
        if capital is None or not capital > 0 or not math.isfinite(capital):
            raise ConfigError(f"pnl returns need a finite capital > 0, got {capital}")
        return np.diff(v) / float(capital)
    if kind not in ("simple", "log"):
        raise ConfigError(f"return kind must be 'simple', 'log' or 'pnl', got {kind!r}")
    if capital is not None:
        raise ConfigError(f"capital only applies to kind='pnl', not {kind!r}")
    base = v[:-1] if kind == "simple" else v
    bad = np.flatnonzero(base <= 0)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{kind} returns need positive equity, but values[{i}]={v[i]}",
            hint="use kind='pnl' with a capital for PnL series",
        )
    if kind == "simple":
        return v[1:] / v[:-1] - 1.0
    return np.diff(np.log(v))


def equity_returns(
    ts: np.ndarray,
    equity: np.ndarray,
    interval_ns: int,
    *,
    kind: ReturnKind = "simple",
    capital: float | None = None,
    start: int | None = None,
    end: int | None = None,
) -> Series:
    """Resample equity onto a regular grid, then take its returns.

    Returns
    -------
    Series
        Each return stamped with the end of its period.

    See Also
    --------
    resample, returns
    """
    grid = resample(ts, equity, interval_ns, start=start, end=end)
    return Series(grid.ts[1:], returns(grid.values, kind=kind, capital=capital))


# --------------------------------------------------------------------------------------------
# Risk-adjusted ratios
# --------------------------------------------------------------------------------------------


def _ratio(
    name: str,
    r: np.ndarray,
    interval_ns: int,
    policy: AnnualisationPolicy,
    per_period: float | None,
    reason: str | None,
    annual_scale: float,
) -> Ratio:
    """Assemble a Ratio, refusing the annualised figure on a short span."""
    span = r.size * interval_ns
    pp = _refused(reason) if per_period is None else Estimate(per_period)
    if not pp.ok:
        annual = _refused(reason or "")
    elif span < policy.min_span_ns:
        annual = _refused(
            f"span {format_duration(span)} is shorter than the "
            f"{format_duration(policy.min_span_ns)} minimum for an annualised figure"
        )
    else:
        annual = Estimate(per_period * annual_scale)
    return Ratio(
        name=name,
        per_period=pp,
        annualised=annual,
        n_returns=int(r.size),
        interval_ns=interval_ns,
        span_ns=int(span),
        periods_per_year=NS_PER_YEAR / interval_ns,
    )


def _sample_reason(n: int, policy: AnnualisationPolicy) -> str | None:
    need = max(2, policy.min_returns)
    if n < need:
        return f"only {n} returns; at least {need} are needed"
    return None


def sharpe(
    returns: np.ndarray, interval_ns: int, *, policy: AnnualisationPolicy = DEFAULT_POLICY
) -> Ratio:
    """Sharpe ratio: mean / sample standard deviation (ddof=1) of period returns.

    Annualised by ``√(periods per year)``; the risk-free rate is taken as 0.

    Parameters
    ----------
    returns
        Returns at a regular sampling interval (see :func:`equity_returns`).
    interval_ns
        That interval, ns.
    policy
        Minimum span and sample size; below them the figure is ``None`` with a reason.
    """
    step = _interval(interval_ns)
    r = _floats(returns, "returns")
    reason = _sample_reason(r.size, policy)
    value = None
    if reason is None:
        sd = float(np.std(r, ddof=1))
        if _zero_scale(sd, r):
            reason = "returns have zero variance: the ratio is undefined"
        else:
            value = float(np.mean(r)) / sd
    return _ratio("sharpe", r, step, policy, value, reason, math.sqrt(NS_PER_YEAR / step))


def sortino(
    returns: np.ndarray,
    interval_ns: int,
    *,
    target: float = 0.0,
    policy: AnnualisationPolicy = DEFAULT_POLICY,
) -> Ratio:
    """Sortino ratio: (mean − target) / downside deviation.

    Downside deviation is ``√(mean(min(r − target, 0)²))`` over *all* returns. With no return
    below the target it is 0 and the ratio is refused (``None`` with a reason), not infinite.
    Annualised by ``√(periods per year)``.
    """
    step = _interval(interval_ns)
    r = _floats(returns, "returns")
    reason = _sample_reason(r.size, policy)
    value = None
    if reason is None:
        below = np.minimum(r - target, 0.0)
        if not np.any(below < 0):
            reason = (
                f"no return below the target {target:g}: downside deviation is zero and the "
                "ratio is unbounded"
            )
        else:
            dd = math.sqrt(float(np.mean(below**2)))
            value = (float(np.mean(r)) - target) / dd
    return _ratio("sortino", r, step, policy, value, reason, math.sqrt(NS_PER_YEAR / step))


def _wealth_drawdown(r: np.ndarray, kind: ReturnKind) -> float:
    """Max drawdown of the wealth index the returns imply, as a fraction."""
    if kind == "pnl":
        # Fixed capital: wealth is additive and the drawdown is a fraction of the capital.
        wealth = np.concatenate(([1.0], 1.0 + np.cumsum(r)))
        return float(np.max(np.maximum.accumulate(wealth) - wealth))
    if kind == "simple":
        wealth = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    elif kind == "log":
        wealth = np.exp(np.concatenate(([0.0], np.cumsum(r))))
    else:
        raise ConfigError(f"return kind must be 'simple', 'log' or 'pnl', got {kind!r}")
    peak = np.maximum.accumulate(wealth)
    return float(np.max(1.0 - wealth / peak))


def calmar(
    returns: np.ndarray,
    interval_ns: int,
    *,
    kind: ReturnKind = "simple",
    policy: AnnualisationPolicy = DEFAULT_POLICY,
) -> Ratio:
    """Calmar ratio: annualised mean return / maximum drawdown.

    The drawdown is that of the wealth index implied by the returns (compounded for
    ``simple``/``log``, additive on the capital for ``pnl``). The annualised return is the
    arithmetic ``mean · periods per year`` — compounding a short span to a year explodes.
    Per-period figure: ``mean / max drawdown``. Refused when there is no drawdown.
    """
    step = _interval(interval_ns)
    r = _floats(returns, "returns")
    reason = _sample_reason(r.size, policy)
    value = None
    if reason is None:
        mdd = _wealth_drawdown(r, kind)
        if not mdd > 0:
            reason = "no drawdown: the ratio is unbounded"
        else:
            value = float(np.mean(r)) / mdd
    return _ratio("calmar", r, step, policy, value, reason, NS_PER_YEAR / step)


# --------------------------------------------------------------------------------------------
# Drawdown
# --------------------------------------------------------------------------------------------


def max_drawdown(
    ts: np.ndarray,
    equity: np.ndarray,
    *,
    tolerance: float = 0.0,
    capital: float | None = None,
) -> Drawdown:
    """Maximum drawdown (absolute and relative) and time under water.

    Equity is under water while ``running peak − equity > tolerance``; an episode runs from the
    time its peak was set to the first sample back at (or within ``tolerance`` of) the peak.
    An episode still under water at the last sample is *unrecovered*; its duration runs to the
    last sample.

    Parameters
    ----------
    ts
        Sample times, int64 ns, sorted.
    equity
        Equity (or cumulative PnL), finite.
    tolerance
        Falls of at most this much (equity units, ≥ 0) do not count as under water, so that
        rounding noise on a mark does not split episodes.
    capital
        When given, ``max_rel`` is ``max_abs / capital`` — the drawdown as a fraction of a
        chosen capital base, as for PnL returns — instead of relative to the running peak.
    """
    t = _timestamps(ts, "ts")
    v = _floats(equity, "equity", size=t.size, size_of="ts")
    if t.size == 0:
        raise DataError("cannot compute the drawdown of an empty series")
    if not tolerance >= 0:
        raise ConfigError(f"drawdown tolerance must be ≥ 0, got {tolerance}")
    idx = np.arange(v.size)
    peak = np.maximum.accumulate(v)
    dd = peak - v
    # Index at which the running peak was last set (v == peak exactly there: peak is a max of v).
    peak_at = np.maximum.accumulate(np.where(v >= peak, idx, 0))

    if capital is not None:
        if not capital > 0 or not math.isfinite(capital):
            raise ConfigError(f"capital must be finite and > 0, got {capital}")
        max_rel, rel_reason = float(np.max(dd)) / float(capital), None
    elif np.any(peak <= 0):
        max_rel, rel_reason = None, "running peak is ≤ 0: relative drawdown is undefined"
    else:
        with np.errstate(over="ignore"):  # a tiny positive peak overflows; refused below
            max_rel, rel_reason = float(np.max(dd / peak)), None
        if not math.isfinite(max_rel):
            max_rel, rel_reason = None, "running peak is too close to 0 for a relative drawdown"

    under = dd > tolerance
    edges = np.diff(under.astype(np.int8))
    starts = np.flatnonzero(edges == 1) + 1  # first under-water sample of each episode
    ends = np.flatnonzero(edges == -1) + 1  # first sample back at the peak
    n_ep = starts.size
    if n_ep == 0:
        return Drawdown(
            max_abs=float(np.max(dd)),
            max_rel=max_rel,
            rel_reason=rel_reason,
            peak_ts=None,
            trough_ts=None,
            recovery_ts=None,
            recovered=True,
            duration_ns=0,
            longest_underwater_ns=0,
            longest_underwater_recovered=True,
            n_episodes=0,
        )
    # under[0] is False (dd[0] = 0), so every episode has a start; only the last may lack an end.
    recovered = np.arange(n_ep) < ends.size
    peak_ts = t[peak_at[starts]]
    end_ts = np.full(n_ep, t[-1], dtype=np.int64)
    end_ts[: ends.size] = t[ends]
    durations = end_ts - peak_ts

    trough = int(np.argmax(dd))
    k = int(np.searchsorted(starts, trough, side="right")) - 1
    longest = int(np.argmax(durations))
    return Drawdown(
        max_abs=float(dd[trough]),
        max_rel=max_rel,
        rel_reason=rel_reason,
        peak_ts=int(peak_ts[k]),
        trough_ts=int(t[trough]),
        recovery_ts=int(end_ts[k]) if recovered[k] else None,
        recovered=bool(recovered[k]),
        duration_ns=int(durations[k]),
        longest_underwater_ns=int(durations[longest]),
        longest_underwater_recovered=bool(recovered[longest]),
        n_episodes=int(n_ep),
    )


def performance(
    ts: np.ndarray,
    equity: np.ndarray,
    interval_ns: int,
    *,
    kind: ReturnKind = "simple",
    capital: float | None = None,
    policy: AnnualisationPolicy = DEFAULT_POLICY,
) -> Performance:
    """Sharpe, Sortino and Calmar at one sampling interval, and the drawdown, of an equity series.

    The ratios use returns on the regular grid (:func:`equity_returns`); the drawdown uses the
    raw series so troughs between grid points are not missed; for ``pnl`` returns its relative
    figure is a fraction of ``capital``.
    """
    r = equity_returns(ts, equity, interval_ns, kind=kind, capital=capital).values
    return Performance(
        sharpe=sharpe(r, interval_ns, policy=policy),
        sortino=sortino(r, interval_ns, policy=policy),
        calmar=calmar(r, interval_ns, kind=kind, policy=policy),
        drawdown=max_drawdown(ts, equity, capital=capital if kind == "pnl" else None),
        kind=kind,
        capital=capital,
    )


# --------------------------------------------------------------------------------------------
# PnL decomposition
# --------------------------------------------------------------------------------------------


def mid_at(
    query_ts: np.ndarray, mid_ts: np.ndarray, mid: np.ndarray, *, what: str = "query"
) -> np.ndarray:
    """The mid in force at each query time: the last mid with timestamp ``≤`` it.

    Raises
    ------
    DataError
        A query precedes the first mid.
    """
    q = _timestamps(query_ts, what, sort=False)
    if np.asarray(mid_ts).size == 0 and q.size:
        raise DataError("mid series is empty")
    idx = np.searchsorted(mid_ts, q, side="right") - 1
    bad = np.flatnonzero(idx < 0)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{what}[{i}]={int(q[i])} precedes the first mid at {int(mid_ts[0])}: no mid to use"
        )
    return mid[idx]


def _side(side: np.ndarray, what: str) -> np.ndarray:
    bad = np.flatnonzero((side != 1) & (side != -1))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{what} side[{i}] is {int(side[i])}: must be +1 (buy) or -1 (sell)")
    return side.astype(np.float64)


def pnl_decomposition(
    fills: Mapping[str, np.ndarray],
    mid_ts: np.ndarray,
    mid: np.ndarray,
    *,
    clock: Clock = "exchange",
    initial_position: float = 0.0,
    start_ts: int | None = None,
    end_ts: int | None = None,
    multiplier: float = 1.0,
) -> PnlDecomposition:
    """Split a market maker's PnL into spread capture, inventory and fees.

    With ``s`` = side (+1 buy), ``q`` = qty, ``p`` = fill price, ``m_f`` = mid at the fill,
    ``m_0``/``m_T`` = mid at start/end and positions ``P_0``/``P_T`` (linear contract, size
    ``multiplier``)::

        spread    = k·Σ s·q·(m_f − p)
        inventory = k·(P_T·m_T − P_0·m_0 − Σ s·q·m_f)        (= Σ position·Δmid)
        fees      = −Σ fee
        total     = k·(P_T·m_T − P_0·m_0 − Σ s·q·p) − Σ fee  (cash + position marked to mid)

    so ``total = spread + inventory + fees`` exactly.

    Parameters
    ----------
    fills
        Columns ``side``, ``price``, ``qty``, ``fee`` and ``ts_<clock>`` (:data:`FILL_COLUMNS`).
    mid_ts, mid
        The mid series, stamped in the same clock as ``clock``; sorted, mids finite where used.
    clock
        ``"exchange"`` or ``"local"``: which fill timestamp finds the mid at the fill.
    initial_position
        Position held at ``start_ts``.
    start_ts, end_ts
        Marking times (default: first and last mid). Fills must lie within them.
    multiplier
        Contract size (quote currency per unit price per unit qty); 1 for spot.
    """
    col = _clock_column(clock)
    f = _columns(fills, (col, "side", "price", "qty", "fee"), FILL_COLUMNS, "fill table")
    mt = _timestamps(mid_ts, "mid_ts")
    m = _floats(mid, "mid", size=mt.size, size_of="mid_ts", finite=False)
    if mt.size == 0:
        raise DataError("mid series is empty")
    t0 = int(mt[0]) if start_ts is None else int(start_ts)
    t1 = int(mt[-1]) if end_ts is None else int(end_ts)
    ts = f[col]
    outside = np.flatnonzero((ts < t0) | (ts > t1))
    if outside.size:
        i = int(outside[0])
        raise DataError(f"fill {i} at {col}={int(ts[i])} lies outside the span [{t0}, {t1}]")
    side = _side(f["side"], "fill")
    price = _floats(f["price"], "fill price")
    qty = _floats(f["qty"], "fill qty")
    fee = _floats(f["fee"], "fill fee")
    if np.any(qty <= 0):
        i = int(np.flatnonzero(qty <= 0)[0])
        raise DataError(f"fill qty[{i}] is {qty[i]}: must be > 0")
    m_f = mid_at(ts, mt, m, what=f"fill {col}")
    m_0, m_T = (float(x) for x in mid_at(np.array([t0, t1]), mt, m, what="start/end"))
    for label, arr in (("mid at fill", m_f), ("start/end mid", np.array([m_0, m_T]))):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise DataError(f"{label} [{int(bad[0])}] is not finite: the book was one-sided")
    k = float(multiplier)
    signed = side * qty
    p_t = float(initial_position) + float(np.sum(signed))
    paid = float(np.sum(fee[fee > 0]))
    rebates = float(-np.sum(fee[fee < 0]))
    fees = -float(np.sum(fee))
    position_value = p_t * m_T - float(initial_position) * m_0
    return PnlDecomposition(
        total=k * (position_value - float(np.sum(signed * price))) + fees,
        spread=k * float(np.sum(signed * (m_f - price))),
        inventory=k * (position_value - float(np.sum(signed * m_f))),
        fees=fees,
        fees_paid=paid,
        rebates=rebates,
        n_fills=int(ts.size),
        volume=float(np.sum(qty)),
        notional=k * float(np.sum(qty * price)),
        initial_position=float(initial_position),
        final_position=p_t,
        start_mid=m_0,
        end_mid=m_T,
    )


# --------------------------------------------------------------------------------------------
# Distributions, orders, latency
# --------------------------------------------------------------------------------------------


def distribution(
    values: np.ndarray, percentiles: Sequence[float] = DEFAULT_PERCENTILES
) -> Distribution:
    """Count, negatives, mean, min, max and percentiles (linear interpolation) of a sample."""
    x = _floats(values, "values")
    qs = tuple(float(q) for q in percentiles)
    if any(not 0 <= q <= 100 for q in qs):
        raise ConfigError(f"percentiles must lie in [0, 100], got {qs}")
    if x.size == 0:
        return Distribution(0, 0, None, None, None, {})
    pv = np.percentile(x, qs) if qs else np.array([])
    return Distribution(
        count=int(x.size),
        n_negative=int(np.count_nonzero(x < 0)),
        mean=float(np.mean(x)),
        min=float(np.min(x)),
        max=float(np.max(x)),
        percentiles={q: float(v) for q, v in zip(qs, pv, strict=True)},
    )


def _order_columns(events: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    cols = _columns(events, ORDER_EVENT_COLUMNS, ORDER_EVENT_COLUMNS, "order event table")
    known = np.array([int(k) for k in OrderEventType], dtype=np.int8)
    bad = np.flatnonzero(~np.isin(cols["type"], known))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"order event {i} has type {int(cols['type'][i])}",
            hint="types are " + ", ".join(f"{k.name}={int(k)}" for k in OrderEventType),
        )
    return cols


def _first_per_order(ids: np.ndarray, ts: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique order ids among rows in ``mask`` and the earliest timestamp of each."""
    sel = np.flatnonzero(mask)
    order = sel[np.lexsort((ts[sel], ids[sel]))]  # by id, then time
    uniq, first = np.unique(ids[order], return_index=True)
    return uniq, ts[order[first]]


def quote_lifetimes(
    events: Mapping[str, np.ndarray], *, clock: Clock = "exchange"
) -> QuoteLifetimes:
    """Lifetime of each finished order: first NEW to its first CANCEL or finishing FILL.

    An order finishes at a CANCEL or at a FILL leaving ``leaves_qty <= 0``; orders that never
    finish are counted in ``n_open`` (they are censored, not given a lifetime).
    """
    c = _order_columns(events)
    ts = c[_clock_column(clock)]
    ids, kind = c["order_id"], c["type"]
    new_ids, t_new = _first_per_order(ids, ts, kind == OrderEventType.NEW)
    done = (kind == OrderEventType.CANCEL) | (
        (kind == OrderEventType.FILL) & (c["leaves_qty"] <= 0)
    )
    end_ids, t_end = _first_per_order(ids, ts, done)
    pos = np.searchsorted(end_ids, new_ids)
    has_end = pos < end_ids.size
    has_end[has_end] = end_ids[pos[has_end]] == new_ids[has_end]
    life = t_end[pos[has_end]] - t_new[has_end]
    bad = np.flatnonzero(life < 0)
    if bad.size:
        oid = int(new_ids[has_end][bad[0]])
        raise DataError(f"order {oid} finishes before its NEW on the {clock} clock")
    return QuoteLifetimes(new_ids[has_end], life, int(np.count_nonzero(~has_end)))


def order_stats(
    events: Mapping[str, np.ndarray],
    *,
    clock: Clock = "exchange",
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
) -> OrderStats:
    """Hit rate, fill rate, order-to-trade ratio and quote lifetimes.

    Parameters
    ----------
    events
        The order event table (:data:`ORDER_EVENT_COLUMNS`).
    clock
        Clock for lifetimes.
    percentiles
        Lifetime percentiles to report.
    """
    c = _order_columns(events)
    kind, ids, qty = c["type"], c["order_id"], c["qty"]
    is_new = kind == OrderEventType.NEW
    is_mod = kind == OrderEventType.MODIFY
    is_fill = kind == OrderEventType.FILL
    n_new, n_mod = int(np.count_nonzero(is_new)), int(np.count_nonzero(is_mod))
    n_cancel = int(np.count_nonzero(kind == OrderEventType.CANCEL))
    n_fill = int(np.count_nonzero(is_fill))
    placed = np.unique(ids[is_new])
    hit = np.intersect1d(placed, ids[is_fill])
    quoted = float(np.sum(qty[is_new | is_mod]))
    lt = quote_lifetimes(events, clock=clock)
    return OrderStats(
        n_orders=int(placed.size),
        n_new=n_new,
        n_modify=n_mod,
        n_cancel=n_cancel,
        n_fill=n_fill,
        n_hit=int(hit.size),
        n_open=lt.n_open,
        hit_rate=Estimate(hit.size / placed.size) if placed.size else _refused("no orders placed"),
        fill_rate=Estimate(float(np.sum(qty[is_fill])) / quoted)
        if quoted > 0
        else _refused("no quantity quoted"),
        order_to_trade=Estimate((n_new + n_mod + n_cancel) / n_fill)
        if n_fill
        else _refused("no fills: the ratio is unbounded"),
        lifetime_ns=distribution(lt.lifetime_ns.astype(np.float64), percentiles),
    )


def latency_stats(
    latency_ns: np.ndarray, percentiles: Sequence[float] = DEFAULT_LATENCY_PERCENTILES
) -> Distribution:
    """Distribution of latencies in ns; negatives (unsynced clocks) are kept and counted."""
    return distribution(np.asarray(latency_ns, dtype=np.float64), percentiles)


def feed_latency(
    ts_exchange: np.ndarray,
    ts_local: np.ndarray,
    percentiles: Sequence[float] = DEFAULT_LATENCY_PERCENTILES,
) -> Distribution:
    """Feed latency ``ts_local − ts_exchange`` of market events, ns."""
    te = _timestamps(ts_exchange, "ts_exchange", sort=False)
    tl = _timestamps(ts_local, "ts_local", sort=False)
    if te.size != tl.size:
        raise DataError(f"ts_exchange has {te.size} values but ts_local has {tl.size}")
    return latency_stats(tl - te, percentiles)


def order_latency(
    events: Mapping[str, np.ndarray],
    percentiles: Sequence[float] = DEFAULT_LATENCY_PERCENTILES,
) -> OrderLatency:
    """Entry latency of requests and response latency of fills (see :data:`ORDER_EVENT_COLUMNS`)."""
    c = _order_columns(events)
    delta = c["ts_exchange"] - c["ts_local"]
    request = c["type"] != OrderEventType.FILL
    return OrderLatency(
        entry=latency_stats(delta[request], percentiles),
        response=latency_stats(-delta[~request], percentiles),
    )


# --------------------------------------------------------------------------------------------
# Inventory and risk
# --------------------------------------------------------------------------------------------


def inventory_stats(
    ts: np.ndarray,
    position: np.ndarray,
    *,
    limit: float,
    fill_qty: np.ndarray,
    end_ts: int | None = None,
    rel_tolerance: float = 1e-9,
) -> InventoryStats:
    """Time-weighted inventory, turnover and time at the position limit.

    The position is a step series: ``position[i]`` holds from ``ts[i]`` to ``ts[i+1]`` (the
    last one until ``end_ts``, default the last sample).

    Parameters
    ----------
    ts, position
        The position series (sorted times, finite positions; + long, − short).
    limit
        The absolute position limit (> 0).
    fill_qty
        Quantities of all fills in the span (turnover numerator).
    end_ts
        End of the span.
    rel_tolerance
        ``|position| ≥ limit·(1 − rel_tolerance)`` counts as at the limit: positions are
        floats, and "at the limit" must not hinge on the last bit.
    """
    t = _timestamps(ts, "ts")
    p = _floats(position, "position", size=t.size, size_of="ts")
    q = _floats(fill_qty, "fill_qty")
    if t.size == 0:
        raise DataError("position series is empty")
    if not limit > 0:
        raise ConfigError(f"position limit must be > 0, got {limit}")
    end = int(t[-1]) if end_ts is None else int(end_ts)
    if end < t[-1]:
        raise ConfigError(f"end_ts {end} precedes the last position sample {int(t[-1])}")
    dt = np.diff(np.append(t, end))
    span = int(end - t[0])
    a = np.abs(p)
    mean_abs = float(np.sum(a * dt) / span) if span > 0 else float(a[-1])
    at = a >= limit * (1.0 - rel_tolerance)
    long_ns = int(np.sum(dt[at & (p > 0)]))
    short_ns = int(np.sum(dt[at & (p < 0)]))
    volume = float(np.sum(np.abs(q)))
    if mean_abs > 0:
        turnover = Estimate(volume / mean_abs)
    else:
        turnover = _refused("mean |position| is 0: turnover is unbounded")
    if turnover.ok and span > 0:
        per_day = Estimate(turnover.value * NS_PER_DAY / span)  # type: ignore[operator]
    else:
        per_day = _refused(turnover.reason or "empty span")
    return InventoryStats(
        span_ns=span,
        mean_abs_position=mean_abs,
        max_abs_position=float(np.max(a)),
        volume=volume,
        turnover=turnover,
        turnover_per_day=per_day,
        time_at_limit_ns=long_ns + short_ns,
        time_at_long_limit_ns=long_ns,
        time_at_short_limit_ns=short_ns,
        time_at_limit_fraction=Estimate((long_ns + short_ns) / span)
        if span > 0
        else _refused("empty span"),
    )


def risk_trigger_counts(
    kinds: Sequence[str] | np.ndarray, *, known: Iterable[str] = ()
) -> dict[str, int]:
    """How often each kind of risk trigger fired, most frequent first.

    Parameters
    ----------
    kinds
        One entry per trigger event, its kind (e.g. ``"position_limit"``, ``"kill_switch"``).
    known
        Kinds to report even when they never fired (with count 0).
    """
    arr = np.asarray(kinds, dtype=object)
    if arr.ndim != 1:
        raise DataError(f"trigger kinds must be one-dimensional, got shape {arr.shape}")
    counts: dict[str, int] = dict.fromkeys(known, 0)
    if arr.size:
        uniq, n = np.unique(arr.astype(str), return_counts=True)
        counts.update({str(k): int(c) for k, c in zip(uniq, n, strict=True)})
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
