"""Shared fixtures.

Real-data policy: tests that need the exchange captures take the ``real_data`` fixture. It reads
``HFTLAB_REAL_DATA``; when CI asked for the data (``CI`` set) and it is missing, the test FAILS;
on a developer machine without the data it is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hftlab.data.store import Store, write_table
from hftlab.events import Channel, EventKind, Instrument

BTC = Instrument(venue="test", symbol="BTCUSDT", tick_size=0.01, lot_size=0.00001)
ETH = Instrument(venue="test", symbol="ETHUSDT", tick_size=0.01, lot_size=0.0001)


@pytest.fixture(scope="session")
def real_data() -> Path:
    value = os.environ.get("HFTLAB_REAL_DATA")
    if not value:
        if os.environ.get("CI"):
            pytest.fail("CI is set but HFTLAB_REAL_DATA is not: the real-data tests must run")
        pytest.skip("HFTLAB_REAL_DATA not set")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"HFTLAB_REAL_DATA={value} does not exist")
    return path


def trade_columns(ts_local: np.ndarray, instrument: Instrument = BTC, seed: int = 0) -> dict:
    """Trade rows with on-grid prices, a latency of 1–3 ms and alternating sides."""
    rng = np.random.default_rng(seed)
    n = len(ts_local)
    ticks = 6_000_000 + np.cumsum(rng.integers(-3, 4, n))
    return {
        "ts_exchange": ts_local - rng.integers(1_000_000, 3_000_000, n),
        "ts_local": ts_local,
        "side": np.where(np.arange(n) % 2 == 0, 1, -1).astype(np.int8),
        "price": instrument.ticks_to_price(ticks),
        "qty": instrument.lots_to_qty(rng.integers(1, 100_000, n)),
        "trade_id": np.arange(n, dtype=np.int64),
        "flags": np.zeros(n, np.uint8),
    }


def depth_columns(ts_local: np.ndarray, instrument: Instrument = BTC, seed: int = 0) -> dict:
    """A CLEAR + snapshot at the start, then level updates."""
    rng = np.random.default_rng(seed)
    n = len(ts_local)
    kind = np.full(n, EventKind.DEPTH, np.uint8)
    kind[0] = EventKind.CLEAR
    kind[1 : min(n, 11)] = EventKind.SNAPSHOT
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    side[0] = 0
    ticks = np.where(side > 0, 5_999_990, 6_000_010) - side * rng.integers(0, 50, n)
    ids = np.arange(n, dtype=np.int64) + 1000
    return {
        "ts_exchange": ts_local - 2_000_000,
        "ts_local": ts_local,
        "kind": kind,
        "side": side,
        "price": instrument.ticks_to_price(ticks),
        "qty": instrument.lots_to_qty(rng.integers(0, 50_000, n)),
        "first_update_id": ids,
        "last_update_id": ids,
        "prev_update_id": ids - 1,
        "flags": np.zeros(n, np.uint8),
    }


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[..., Store]:
    """Factory: a store with trades and depth for BTC (and ETH trades), ``n`` rows per stream."""

    def make(
        n: int = 1000, *, start: int = 1_723_161_000_000_000_000, row_group_rows: int = 1024
    ) -> Store:
        store = Store(tmp_path / "store", create=True)
        ts = start + np.arange(n, dtype=np.int64) * 1_000_000
        write_table(store, BTC, Channel.TRADE, trade_columns(ts), row_group_rows=row_group_rows)
        write_table(
            store, BTC, Channel.DEPTH, depth_columns(ts + 500_000), row_group_rows=row_group_rows
        )
        write_table(
            store,
            ETH,
            Channel.TRADE,
            trade_columns(ts + 250_000, ETH, seed=1),
            row_group_rows=row_group_rows,
        )
        return store

    return make
