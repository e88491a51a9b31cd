"""Resampling, returns, Sharpe/Sortino/Calmar and the refusal to annualise short spans."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hftlab.analytics import (
    AnnualisationPolicy,
    Estimate,
    calmar,
    equity_returns,
    performance,
    periods_per_year,
    resample,
    returns,
    sharpe,
    sortino,
)
from hftlab.errors import ConfigError, DataError

S = 1_000_000_000
HOUR = 3600 * S
T0 = 1_723_161_600_000_000_000  # 2024-08-09 00:00 UTC


def alternating(n: int, up: float = 0.01, down: float = -0.005) -> np.ndarray:
    return np.where(np.arange(n) % 2 == 0, up, down)


def equity_from(r: np.ndarray, start: float = 100.0) -> np.ndarray:
    return start * np.concatenate(([1.0], np.cumprod(1.0 + r)))


def test_periods_per_year_is_24_7() -> None:
    # 365 days of 24 h, every hour a period: no trading-day calendar.
    assert periods_per_year(HOUR) == 365 * 24
    assert periods_per_year(S) == 365 * 24 * 3600
    with pytest.raises(ConfigError):
        periods_per_year(0)


def test_resample_carries_last_value_forward() -> None:
    ts = T0 + np.array([0, 3, 4, 4, 9]) * S  # a tie at 4 s: the later row wins
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    grid = resample(ts, v, 2 * S)
    assert list(grid.ts - T0) == [0, 2 * S, 4 * S, 6 * S, 8 * S]
    # at 0 → 1 (0 s); 2 s → still 1; 4 s → 4 (last of the tie); 6 s, 8 s → 4
    assert list(grid.values) == [1.0, 1.0, 4.0, 4.0, 4.0]
    explicit = resample(ts, v, 5 * S, start=T0 + S, end=T0 + 20 * S)
    assert list(explicit.values) == [1.0, 4.0, 5.0, 5.0]  # 1 s, 6 s, 11 s, 16 s


def test_resample_rejects_bad_input() -> None:
    with pytest.raises(DataError, match="not sorted"):
        resample(np.array([2, 1]), np.array([1.0, 2.0]), 1)
    with pytest.raises(DataError, match="precedes the first observation"):
        resample(np.array([5, 6]), np.array([1.0, 2.0]), 1, start=4)
    with pytest.raises(DataError, match=r"values\[1\] is nan"):
        resample(np.array([5, 6]), np.array([1.0, np.nan]), 1)
    with pytest.raises(DataError, match="integer nanoseconds"):
        resample(np.array([5.0, 6.0]), np.array([1.0, 2.0]), 1)


def test_returns_kinds() -> None:
    e = np.array([100.0, 110.0, 99.0])
    assert returns(e) == pytest.approx([0.1, -0.1])
    assert returns(e, kind="log") == pytest.approx([math.log(1.1), math.log(0.9)])
    pnl = np.array([0.0, 5.0, -5.0])  # a PnL series starting at 0: only PnL returns work
    assert returns(pnl, kind="pnl", capital=1000.0) == pytest.approx([0.005, -0.01])
    with pytest.raises(DataError, match="kind='pnl'"):
        returns(pnl)
    with pytest.raises(ConfigError, match="capital"):
        returns(pnl, kind="pnl")
    with pytest.raises(ConfigError, match="capital only applies"):
        returns(e, capital=1.0)


def test_sharpe_of_alternating_returns() -> None:
    # Hourly returns alternating +1 % / −0.5 % for 2 days (48 returns):
    #   mean = (0.01 − 0.005)/2 = 0.0025; deviations are ±0.0075, so the sample variance
    #   (ddof=1) is 48·0.0075²/47 and sd = 0.0075·√(48/47).
    #   per period = 0.0025 / (0.0075·√(48/47)) = (1/3)·√(47/48)
    #   annualised = per period · √(365·24)
    n = 48
    r = alternating(n)
    eq = equity_from(r)
    ts = T0 + np.arange(n + 1, dtype=np.int64) * HOUR
    got = equity_returns(ts, eq, HOUR)
    assert got.values == pytest.approx(r, rel=1e-12, abs=1e-15)
    res = sharpe(got.values, HOUR)
    per_period = (1 / 3) * math.sqrt(47 / 48)
    assert res.per_period.value == pytest.approx(per_period, rel=1e-9)
    assert res.annualised.value == pytest.approx(per_period * math.sqrt(365 * 24), rel=1e-9)
    assert res.n_returns == n and res.span_ns == n * HOUR
    assert res.annualised.reason is None


def test_sharpe_refuses_to_annualise_a_short_span() -> None:
    # The same returns every minute for 40 minutes: the per-period figure stands, the
    # annualised one is refused because 40 min < the 1-day minimum.
    r = alternating(40)
    res = sharpe(r, 60 * S)
    assert res.per_period.value == pytest.approx((1 / 3) * math.sqrt(39 / 40), rel=1e-9)
    assert res.annualised.value is None
    assert "shorter than the 1 d minimum" in res.annualised.reason
    # A looser policy annualises it.
    loose = sharpe(r, 60 * S, policy=AnnualisationPolicy(min_span_ns=30 * 60 * S))
    assert loose.annualised.ok


def test_ratios_refuse_too_few_returns() -> None:
    r = alternating(10)
    for fn in (sharpe, sortino, calmar):
        res = fn(r, HOUR * 24)  # 10 days: long enough, but only 10 samples
        assert res.per_period.value is None and res.annualised.value is None
        assert "only 10 returns; at least 30" in res.per_period.reason
        assert res.annualised.reason == res.per_period.reason


def test_sharpe_refuses_zero_variance() -> None:
    res = sharpe(np.full(100, 0.001), HOUR)
    assert not res.per_period.ok and "zero variance" in res.per_period.reason
    assert not res.annualised.ok


def test_sortino_of_alternating_returns() -> None:
    # Downside deviation over all returns: √(mean(min(r,0)²)) = √(0.005²/2) = 0.005/√2,
    # so Sortino = 0.0025 / (0.005/√2) = √2/2 per period.
    r = alternating(48)
    res = sortino(r, HOUR)
    assert res.per_period.value == pytest.approx(math.sqrt(2) / 2, rel=1e-9)
    assert res.annualised.value == pytest.approx(math.sqrt(2) / 2 * math.sqrt(8760), rel=1e-9)


def test_sortino_without_negative_returns_is_refused() -> None:
    r = np.where(np.arange(48) % 2 == 0, 0.01, 0.0)
    res = sortino(r, HOUR)
    assert res.per_period.value is None and res.annualised.value is None
    assert "no return below the target" in res.per_period.reason


def test_calmar_of_alternating_returns() -> None:
    # Wealth 1, 1.01, 1.01·0.995, …: each up step sets a new peak (1.01·0.995 > 1), each down
    # step falls 0.5 % from it, so the max drawdown is 0.005.
    # Calmar per period = mean / mdd = 0.0025/0.005; annualised = 0.0025·8760/0.005.
    r = alternating(48)
    res = calmar(r, HOUR)
    assert res.per_period.value == pytest.approx(0.0025 / 0.005, rel=1e-9)
    assert res.annualised.value == pytest.approx(0.0025 * 8760 / 0.005, rel=1e-9)
    # PnL returns on a fixed capital: wealth is additive, the drawdown is 0.005 of capital.
    res_pnl = calmar(r, HOUR, kind="pnl")
    assert res_pnl.per_period.value == pytest.approx(0.0025 / 0.005, rel=1e-9)


def test_calmar_without_drawdown_is_refused() -> None:
    res = calmar(np.full(48, 0.001), HOUR)
    assert not res.annualised.ok and "no drawdown" in res.annualised.reason


def test_performance_bundles_the_ratios() -> None:
    r = alternating(48)
    ts = T0 + np.arange(49, dtype=np.int64) * HOUR
    perf = performance(ts, equity_from(r), HOUR)
    assert perf.sharpe.annualised.value == pytest.approx(sharpe(r, HOUR).annualised.value)
    assert perf.drawdown.max_rel == pytest.approx(0.005)
    assert perf.sortino.name == "sortino" and perf.calmar.name == "calmar"


def test_estimate_carries_value_or_reason() -> None:
    assert Estimate(1.0).ok
    assert not Estimate(None, "why").ok
    with pytest.raises(ValueError):
        Estimate(None)


def test_performance_of_a_pnl_series_uses_the_capital() -> None:
    # A PnL series starting at 0: simple returns are impossible, PnL returns on a capital work,
    # and the relative drawdown is a fraction of that capital.
    pnl = np.cumsum(alternating(49, up=10.0, down=-5.0)) - 10.0
    ts = T0 + np.arange(49, dtype=np.int64) * HOUR
    capital = 10_000.0
    perf = performance(ts, pnl, HOUR, kind="pnl", capital=capital)
    assert perf.drawdown.max_abs == pytest.approx(5.0)
    assert perf.drawdown.max_rel == pytest.approx(5.0 / capital)
    r = np.diff(pnl) / capital
    assert perf.sharpe.per_period.value == pytest.approx(r.mean() / r.std(ddof=1))
