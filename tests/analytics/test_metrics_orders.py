"""Order statistics, latency, inventory and risk-trigger counts."""

from __future__ import annotations

import numpy as np
import pytest

from hftlab.analytics import (
    OrderEventType,
    feed_latency,
    inventory_stats,
    order_latency,
    order_stats,
    quote_lifetimes,
    risk_trigger_counts,
)
from hftlab.errors import DataError

S = 1_000_000_000
MS = 1_000_000
NEW, MOD, CXL, FILL = (
    OrderEventType.NEW,
    OrderEventType.MODIFY,
    OrderEventType.CANCEL,
    OrderEventType.FILL,
)

# (order_id, ts_exchange in s, type, qty, leaves_qty)
ROWS = [
    (1, 0, NEW, 1.0, 1.0),
    (1, 2, FILL, 1.0, 0.0),  # order 1 filled completely after 2 s
    (2, 1, NEW, 2.0, 2.0),
    (2, 2, MOD, 2.0, 2.0),
    (2, 4, CXL, 2.0, 0.0),  # order 2 cancelled after 3 s
    (3, 3, NEW, 1.0, 1.0),
    (3, 5, FILL, 0.5, 0.5),  # partial fill: not finished
    (3, 6, CXL, 0.5, 0.0),  # cancelled after 3 s
    (4, 7, NEW, 1.0, 1.0),  # still open at the end
]
ENTRY = 1 * MS  # requests reach the exchange 1 ms after we send them
RESPONSE = 2 * MS  # fills reach us 2 ms after the match


def events(shuffle_seed: int | None = None) -> dict[str, np.ndarray]:
    rows = list(ROWS)
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(rows))
        rows = [rows[i] for i in order]
    oid, t, kind, qty, leaves = (np.array(c) for c in zip(*rows, strict=True))
    ts_ex = t.astype(np.int64) * S
    is_fill = kind == FILL
    return {
        "order_id": oid.astype(np.int64),
        "ts_exchange": ts_ex,
        "ts_local": np.where(is_fill, ts_ex + RESPONSE, ts_ex - ENTRY),
        "type": kind.astype(np.int8),
        "qty": qty.astype(float),
        "leaves_qty": leaves.astype(float),
    }


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_order_stats(seed: int | None) -> None:
    st = order_stats(events(seed))
    n_orders, n_hit = 4, 2  # orders 1 and 3 were filled
    assert (st.n_orders, st.n_hit, st.n_open) == (n_orders, n_hit, 1)
    assert st.hit_rate.value == pytest.approx(n_hit / n_orders)
    quoted = 1.0 + 2.0 + 2.0 + 1.0 + 1.0  # NEW and MODIFY sizes
    filled = 1.0 + 0.5
    assert st.fill_rate.value == pytest.approx(filled / quoted)
    messages = 4 + 1 + 2  # new + modify + cancel
    assert st.order_to_trade.value == pytest.approx(messages / 2)
    # Lifetimes 2 s, 3 s, 3 s; order 4 is censored.
    assert st.lifetime_ns.count == 3
    assert st.lifetime_ns.percentiles[50.0] == 3 * S
    assert st.lifetime_ns.mean == pytest.approx((2 + 3 + 3) / 3 * S)


def test_quote_lifetimes_on_local_clock() -> None:
    lt = quote_lifetimes(events(), clock="local")
    assert list(lt.order_id) == [1, 2, 3]
    # Order 1: NEW sent at −1 ms, fill seen at 2 s + 2 ms; orders 2, 3: request to request.
    assert list(lt.lifetime_ns) == [2 * S + RESPONSE + ENTRY, 3 * S, 3 * S]
    assert lt.n_open == 1


def test_order_stats_without_fills_refuses_ratio() -> None:
    ev = events()
    keep = ev["type"] != FILL
    st = order_stats({k: v[keep] for k, v in ev.items()})
    assert not st.order_to_trade.ok and "no fills" in st.order_to_trade.reason
    assert st.hit_rate.value == 0


def test_order_table_errors_are_named() -> None:
    ev = events()
    ev["type"] = ev["type"].copy()
    ev["type"][3] = 9
    with pytest.raises(DataError, match="order event 3 has type 9"):
        order_stats(ev)
    ev = events()
    del ev["leaves_qty"]
    with pytest.raises(DataError, match="no column 'leaves_qty'"):
        order_stats(ev)


def test_order_latency() -> None:
    lat = order_latency(events())
    n_fills = sum(1 for r in ROWS if r[2] == FILL)
    assert lat.entry.count == len(ROWS) - n_fills and lat.response.count == n_fills
    assert lat.entry.percentiles[50.0] == ENTRY and lat.response.max == RESPONSE
    assert lat.entry.n_negative == 0


def test_feed_latency_counts_negatives() -> None:
    te = np.array([0, 10, 20, 30, 40], dtype=np.int64) * MS
    lat = np.array([2, 3, -1, 5, -2], dtype=np.int64) * MS  # unsynced clocks give negatives
    d = feed_latency(te, te + lat)
    assert d.count == 5 and d.n_negative == int((lat < 0).sum())
    assert d.min == lat.min() and d.max == lat.max()
    assert d.percentiles[50.0] == np.median(lat)


def test_inventory_stats() -> None:
    ts = np.array([0, 10, 20, 30], dtype=np.int64) * S
    pos = np.array([0.0, 5.0, -5.0, 2.0])
    end = 40 * S
    fills = np.array([5.0, 10.0, 7.0])  # the trades that moved the position
    inv = inventory_stats(ts, pos, limit=5.0, fill_qty=fills, end_ts=end)
    # Each position holds 10 s: mean |pos| = (0 + 5 + 5 + 2)·10 / 40.
    mean_abs = (0 + 5 + 5 + 2) * 10 / 40
    assert inv.mean_abs_position == pytest.approx(mean_abs)
    assert inv.time_at_long_limit_ns == 10 * S and inv.time_at_short_limit_ns == 10 * S
    assert inv.time_at_limit_fraction.value == pytest.approx(20 / 40)
    assert inv.turnover.value == pytest.approx(fills.sum() / mean_abs)
    assert inv.turnover_per_day.value == pytest.approx(fills.sum() / mean_abs * 86_400 / 40)
    flat = inventory_stats(ts, np.zeros(4), limit=5.0, fill_qty=np.array([]), end_ts=end)
    assert not flat.turnover.ok and flat.time_at_limit_ns == 0


def test_risk_trigger_counts() -> None:
    counts = risk_trigger_counts(
        ["position_limit", "kill_switch", "position_limit"], known=["stale_feed"]
    )
    assert counts == {"position_limit": 2, "kill_switch": 1, "stale_feed": 0}
    assert list(counts) == ["position_limit", "kill_switch", "stale_feed"]
    assert risk_trigger_counts(np.array([], dtype=object)) == {}
