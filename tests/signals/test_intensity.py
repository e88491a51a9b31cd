"""Trade intensity λ(δ) = A exp(-kδ): hand-worked fit, recovery of known A and k, prevailing
mid, online (rolling window) == offline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hftlab.errors import ConfigError, DataError
from hftlab.events import NS_PER_S
from hftlab.signals import IntensityEstimator, fit_intensity, trade_depths

S = NS_PER_S


def test_fit_by_hand() -> None:
    # Mid 100 (ticks) from t=0. Four trades over a 2 s window at depths 0.5, 0.5, 1.5, 2.5.
    # Grid 0.5, 1.5, 2.5 is reached by 4, 2, 1 trades: rates 2, 1, 0.5 per second, i.e.
    # λ(δ) = 2 * 2^-(δ - 0.5): k = ln 2, A = 2 * 2^0.5 = 2.828..., a perfect fit (R² = 1).
    trade_ts = np.array([1, 2, 3, 4]) * S // 4
    price = np.array([100.5, 99.5, 101.5, 97.5])
    side = np.array([1, -1, 1, -1])
    fit = fit_intensity(
        trade_ts, price, [0], [99.5], [100.5],
        trade_side=side, depths=[0.5, 1.5, 2.5], start=0, end=2 * S,
    )  # fmt: skip
    assert fit.k == pytest.approx(math.log(2))
    assert fit.a == pytest.approx(2 * math.sqrt(2))
    assert fit.r2 == pytest.approx(1.0)
    assert fit.n_points == 3 and fit.n_trades == 4 and fit.duration_s == 2.0
    np.testing.assert_allclose(fit.rates, [2.0, 1.0, 0.5])
    assert fit.intensity(1.5) == pytest.approx(1.0)
    # Buy aggressors only: depths 0.5, 1.5 -> rates 1, 0.5 at 0.5, 1.5 (2.5 unreached, dropped).
    buys = fit_intensity(
        trade_ts, price, [0], [99.5], [100.5],
        trade_side=side, depths=[0.5, 1.5, 2.5], start=0, end=2 * S, side=1,
    )  # fmt: skip
    assert buys.n_points == 2 and buys.k == pytest.approx(math.log(2))
    # Volume: quantities 1, 1, 3, 1 -> reached volume 6, 4, 1 per 2 s; weights still counts.
    vol = fit_intensity(
        trade_ts, price, [0], [99.5], [100.5], trade_qty=[1.0, 1.0, 3.0, 1.0],
        trade_side=side, depths=[0.5, 1.5, 2.5], start=0, end=2 * S, weight="volume",
    )  # fmt: skip
    np.testing.assert_allclose(vol.rates, [3.0, 2.0, 0.5])


def test_depth_uses_the_mid_prevailing_strictly_before_the_trade() -> None:
    # Quotes: mid 100 at t=0, mid 103 at t=10 (the same stamp as the second trade).
    quote_ts = [0, 10]
    bid, ask = [99.5, 102.5], [100.5, 103.5]
    d = trade_depths([-5, 10, 11], [101.0, 101.0, 101.0], quote_ts, bid, ask, trade_side=[1, 1, -1])
    assert np.isnan(d[0])  # before any quote
    assert d[1] == 1.0  # uses mid 100, not the quote stamped with the trade
    assert d[2] == 2.0  # sell at 101 against mid 103: 2 ticks
    # A buy below the mid (stale quote) has reached depth 0; unknown side uses |price - mid|.
    d = trade_depths([5, 5], [99.0, 99.0], quote_ts, bid, ask, trade_side=[1, 0])
    np.testing.assert_array_equal(d, [0.0, 1.0])
    # Prices in price units with a tick size: depths come out in ticks.
    d = trade_depths([5], [1.01], [0], [0.995], [1.005], tick_size=0.01)
    assert d[0] == pytest.approx(1.0)


def _simulate(a: float, k: float, seconds: float, seed: int) -> tuple:
    """Poisson market orders at rate A; each reaches an Exp(k) depth, so orders reaching δ
    arrive at rate A exp(-kδ). Mid fixed at 1000.0; half buys, half sells."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(a * seconds)
    ts = np.sort(rng.integers(1, int(seconds * S), n))
    depth = rng.exponential(1.0 / k, n)
    side = np.where(rng.random(n) < 0.5, 1, -1)
    return ts, 1000.0 + side * depth, side


@pytest.mark.parametrize(("a", "k"), [(2.0, 0.8), (0.5, 2.5), (10.0, 0.3)])
def test_recovers_known_a_and_k(a: float, k: float) -> None:
    seconds = 20_000.0
    ts, price, side = _simulate(a, k, seconds, seed=int(a * 100 + k * 10))
    depths = np.linspace(0.0, 4.0 / k, 17)  # out to where ~2% of orders still reach
    fit = fit_intensity(
        ts, price, [0], [999.5], [1000.5], trade_side=side, depths=depths, start=0,
        end=int(seconds * S), min_count=10,
    )  # fmt: skip
    assert fit.a == pytest.approx(a, rel=0.05)
    assert fit.k == pytest.approx(k, rel=0.05)
    assert fit.r2 > 0.99
    assert fit.n_points == 17


def test_online_rolling_window_equals_offline() -> None:
    rng = np.random.default_rng(21)
    n_q, n_t = 4_000, 6_000
    quote_ts = np.sort(rng.integers(0, 600 * S, n_q))
    mid = 1000.0 + np.cumsum(rng.integers(-1, 2, n_q))
    bid, ask = mid - 0.5, mid + 0.5
    trade_ts = np.sort(rng.integers(0, 600 * S, n_t))
    trade_ts[100:110] = quote_ts[50]  # trades stamped like a quote: prevailing mid is earlier
    trade_ts.sort()
    side = np.where(rng.random(n_t) < 0.5, 1, -1)
    j = np.clip(np.searchsorted(quote_ts, trade_ts) - 1, 0, None)
    price = mid[j] + side * (0.5 + rng.geometric(0.4, n_t) - 1)
    qty = rng.random(n_t)
    window = 60 * S
    depths = np.arange(0.5, 8.0, 0.5)
    for weight in ("count", "volume"):
        est = IntensityEstimator(window, depths=depths, weight=weight)
        events = sorted(
            [(int(t), 0, i) for i, t in enumerate(quote_ts)]
            + [(int(t), 1, i) for i, t in enumerate(trade_ts)]
        )  # quotes before trades at equal stamps; either order gives the same mid
        checks = {int(t) for t in trade_ts[::500]}
        fitted = 0
        for ts, kind, i in events:
            if kind == 0:
                est.on_quote(ts, bid[i], ask[i])
            else:
                est.on_trade(ts, price[i], qty[i], int(side[i]))
                if ts in checks:
                    online = est.fit(ts)
                    start = max(int(min(quote_ts[0], trade_ts[0])), ts - window + 1)
                    kwargs = {"trade_qty": qty, "trade_side": side, "depths": depths}
                    args = (trade_ts, price, quote_ts, bid, ask)
                    if online is None:  # too few trades yet: offline refuses too
                        with pytest.raises(DataError):
                            fit_intensity(*args, **kwargs, start=start, end=ts + 1, weight=weight)
                        continue
                    offline = fit_intensity(*args, **kwargs, start=start, end=ts + 1, weight=weight)
                    fitted += 1
                    assert online.n_trades == offline.n_trades
                    assert online.a == pytest.approx(offline.a, rel=1e-9)
                    assert online.k == pytest.approx(offline.k, rel=1e-9)
                    assert online.r2 == pytest.approx(offline.r2, rel=1e-9, abs=1e-12)
        assert fitted >= 10


def test_online_before_enough_data_returns_none() -> None:
    est = IntensityEstimator(10 * S, depths=[0.5, 1.5])
    assert est.fit(0) is None
    est.on_trade(1, 100.0)  # no quote yet: ignored
    est.on_quote(2, 99.5, 100.5)
    est.on_trade(3, 100.5, side=1)
    assert est.n_trades == 1 and est.fit(3) is None  # only one depth reached
    est.on_trade(4, 101.5, side=1)
    fit = est.fit(4)
    assert fit is not None and fit.n_points == 2
    assert est.fit(20 * S) is None and est.n_trades == 0  # window moved past every trade
    with pytest.raises(DataError, match="time goes back"):
        est.on_quote(3, 99.5, 100.5)


def test_errors() -> None:
    with pytest.raises(DataError, match="only 1 depth"):
        fit_intensity([5], [100.5], [0], [99.5], [100.5], depths=[0.5, 1.5])
    with pytest.raises(ConfigError, match="depths"):
        fit_intensity([5], [100.5], [0], [99.5], [100.5], depths=[1.0, 0.5])
    with pytest.raises(ConfigError, match="trade_qty"):
        fit_intensity([5], [100.5], [0], [99.5], [100.5], weight="volume")
    with pytest.raises(ConfigError, match="side"):
        IntensityEstimator(S, side=2)
    with pytest.raises(ConfigError, match="window_ns"):
        IntensityEstimator(0)
    with pytest.raises(DataError, match="trade_ts goes back in time"):
        trade_depths([5, 1], [1.0, 1.0], [0], [0.5], [1.5])
