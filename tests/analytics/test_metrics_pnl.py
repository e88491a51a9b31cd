"""PnL decomposition: total = spread + inventory + fees."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlab.analytics import pnl_decomposition
from hftlab.errors import DataError

S = 1_000_000_000


def fills_table(ts, side, price, qty, fee, latency: int = 0) -> dict[str, np.ndarray]:
    ts = np.asarray(ts, dtype=np.int64)
    return {
        "ts_exchange": ts,
        "ts_local": ts + latency,
        "side": np.asarray(side, dtype=np.int8),
        "price": np.asarray(price, dtype=float),
        "qty": np.asarray(qty, dtype=float),
        "fee": np.asarray(fee, dtype=float),
    }


def mark_to_mid(fills: dict, mid_ts, mid, end_mid: float, position0: float, start_mid: float):
    """Total PnL by bookkeeping: cash flows plus the position value change, marked to mid."""
    cash = 0.0
    pos = position0
    for s, p, q, f in zip(fills["side"], fills["price"], fills["qty"], fills["fee"], strict=True):
        cash -= s * q * p + f
        pos += s * q
    return cash + pos * end_mid - position0 * start_mid


def test_single_fill_by_hand() -> None:
    # Buy 2 at 99 while the mid is 100, paying a 0.1 fee; the mid ends at 101.
    #   spread    = 2·(100 − 99) = 2   (bought below mid)
    #   inventory = 2·(101 − 100) = 2  (held 2 while the mid rose 1)
    #   fees      = −0.1
    #   total     = −2·99 − 0.1 + 2·101 = 3.9
    mid_ts = np.array([0, 10 * S], dtype=np.int64)
    mid = np.array([100.0, 101.0])
    fills = fills_table([5 * S], [1], [99.0], [2.0], [0.1])
    d = pnl_decomposition(fills, mid_ts, mid)
    assert d.spread == pytest.approx(2 * (100 - 99))
    assert d.inventory == pytest.approx(2 * (101 - 100))
    assert d.fees == pytest.approx(-0.1) and d.fees_paid == pytest.approx(0.1)
    assert d.rebates == 0
    assert d.total == pytest.approx(-2 * 99 - 0.1 + 2 * 101)
    assert d.total == pytest.approx(d.spread + d.inventory + d.fees)
    assert d.final_position == 2


def test_identity_on_random_fills_with_rebates() -> None:
    rng = np.random.default_rng(7)
    n_mid, n_fill = 2000, 300
    mid_ts = np.arange(n_mid, dtype=np.int64) * 100_000_000
    mid = 30_000 + np.cumsum(rng.normal(0, 1.0, n_mid))
    ts = np.sort(rng.integers(mid_ts[0], mid_ts[-1], n_fill))
    side = rng.choice([-1, 1], n_fill)
    m_f = mid[np.searchsorted(mid_ts, ts, side="right") - 1]
    price = m_f - side * rng.uniform(0, 2, n_fill)  # makers: buy below, sell above mid
    qty = rng.uniform(0.001, 0.1, n_fill)
    fee = -0.0001 * price * qty  # maker rebate
    fills = fills_table(ts, side, price, qty, fee)
    d = pnl_decomposition(fills, mid_ts, mid, initial_position=0.5)
    assert d.total == pytest.approx(d.spread + d.inventory + d.fees, rel=1e-9, abs=1e-6)
    expected = mark_to_mid(fills, mid_ts, mid, mid[-1], 0.5, mid[0])
    assert d.total == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert d.spread > 0  # every fill was inside the mid
    assert d.rebates == pytest.approx(-fee.sum()) and d.fees_paid == 0
    assert d.fees == pytest.approx(d.rebates)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 100),  # fill time index
            st.sampled_from([-1, 1]),
            st.floats(-5, 5),  # price offset from mid
            st.floats(0.01, 10),
            st.floats(-1, 1),
        ),
        max_size=30,
    ),
    st.floats(-3, 3),
)
def test_identity_property(rows: list[tuple], position0: float) -> None:
    mid_ts = np.arange(101, dtype=np.int64) * S
    mid = 100 + np.sin(np.arange(101) / 7.0) * 3
    if rows:
        idx, side, off, qty, fee = (np.array(c) for c in zip(*rows, strict=True))
    else:
        idx = side = off = qty = fee = np.array([])
    fills = fills_table(mid_ts[idx.astype(int)], side, mid[idx.astype(int)] + off, qty, fee)
    d = pnl_decomposition(fills, mid_ts, mid, initial_position=position0)
    assert d.total == pytest.approx(d.spread + d.inventory + d.fees, abs=1e-6)
    expected = mark_to_mid(fills, mid_ts, mid, mid[-1], position0, mid[0])
    assert d.total == pytest.approx(expected, abs=1e-6)


def test_clock_choice_changes_mid_at_fill() -> None:
    # The mid moves between the exchange and the local stamp of the fill.
    mid_ts = np.array([0, 5 * S, 10 * S], dtype=np.int64)
    mid = np.array([100.0, 102.0, 102.0])
    fills = fills_table([4 * S], [1], [99.0], [1.0], [0.0], latency=2 * S)
    assert pnl_decomposition(fills, mid_ts, mid).spread == pytest.approx(100 - 99)
    assert pnl_decomposition(fills, mid_ts, mid, clock="local").spread == pytest.approx(102 - 99)


def test_malformed_fills_are_named() -> None:
    mid_ts = np.array([0, 10 * S], dtype=np.int64)
    mid = np.array([100.0, 101.0])
    bad_side = fills_table([5 * S], [0], [99.0], [1.0], [0.0])
    with pytest.raises(DataError, match=r"side\[0\] is 0"):
        pnl_decomposition(bad_side, mid_ts, mid)
    late = fills_table([11 * S], [1], [99.0], [1.0], [0.0])
    with pytest.raises(DataError, match="outside the span"):
        pnl_decomposition(late, mid_ts, mid)
    missing = fills_table([5 * S], [1], [99.0], [1.0], [0.0])
    del missing["fee"]
    with pytest.raises(DataError, match="no column 'fee'"):
        pnl_decomposition(missing, mid_ts, mid)
