from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BTC, trade_columns
from hftlab.data.export import export_csv
from hftlab.data.inspect import LatencyHistogram, inspect_store
from hftlab.data.store import Store, StreamKey, write_table
from hftlab.events import FLAG_UNSYNCED, Channel


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-(10**10), 10**10), min_size=1, max_size=500))
def test_latency_quantiles_within_half_a_percent(values: list[int]) -> None:
    h = LatencyHistogram()
    arr = np.array(values, dtype=np.int64)
    for part in np.array_split(arr, 3):
        h.add(part)
    assert h.count == len(values) and h.min == arr.min() and h.max == arr.max()
    assert h.negatives == int((arr < 0).sum())
    for q in (0.0, 0.01, 0.5, 0.9, 0.99, 1.0):
        exact = float(np.sort(arr)[round(q * (len(arr) - 1))])
        got = h.quantile(q)
        assert got is not None
        assert abs(got - exact) <= 0.006 * abs(exact) + 1.0, (q, got, exact)


def test_inspect_reports_kinds_latency_negatives_and_regressions(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    n = 4000
    ts = 10**18 + np.arange(n, dtype=np.int64) * 1_000_000
    cols = trade_columns(ts)
    latency = np.where(np.arange(n) < 1000, -1_270_000_000, 5_000_000)  # 1000 negative (-1.27 s)
    cols["ts_exchange"] = ts - latency
    cols["ts_exchange"][3000] = cols["ts_exchange"][2990]  # one exchange-time regression
    cols["flags"][:7] = FLAG_UNSYNCED
    write_table(store, BTC, "trade", cols, row_group_rows=1024)
    (report,) = inspect_store(tmp_path).streams
    assert report.rows == n
    assert report.rows_by_kind == {"trade_buy": 2000, "trade_sell": 2000, "trade_unknown_side": 0}
    assert report.rows_by_flag == {"unsynced": 7}
    assert report.latency.negatives == 1000
    assert report.latency.quantile(0.1) == pytest.approx(-1.27e9, rel=0.006)
    assert report.latency.quantile(0.9) == pytest.approx(5e6, rel=0.006)
    # Two: the planted one at row 3000, and row 1000 where latency switches from -1.27 s to +5 ms
    # so exchange time steps back 1.275 s.
    assert report.exchange_regressions == 2 and report.local_regressions == 0
    assert report.ts_local_first == ts[0] and report.ts_local_last == ts[-1]
    assert report.bytes == sum(f.bytes for f in Store(tmp_path).files(report.key))


def test_export_writes_tardis_columns_in_microseconds(make_store, tmp_path: Path) -> None:
    store = make_store(2000)
    out = tmp_path / "csv"
    written = dict(export_csv(store.root, out, instruments=["BTCUSDT"], gzip=True))
    trades_path = out / "test_trades_BTCUSDT.csv.gz"
    book_path = out / "test_incremental_book_L2_BTCUSDT.csv.gz"
    assert set(written) == {trades_path, book_path}
    with gzip.open(trades_path, "rt") as fh:
        header = fh.readline().strip()
    assert header == "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
    trades = pacsv.read_csv(trades_path)
    src = pa.concat_tables(store.read(StreamKey("test", "BTCUSDT", Channel.TRADE)))
    assert trades.num_rows == written[trades_path] == 2000
    assert np.array_equal(trades["timestamp"].to_numpy(), src["ts_exchange"].to_numpy() // 1000)
    assert np.array_equal(trades["local_timestamp"].to_numpy(), src["ts_local"].to_numpy() // 1000)
    assert np.array_equal(trades["price"].to_numpy(), src["price"].to_numpy())  # exact floats
    assert set(trades["side"].to_pylist()) == {"buy", "sell"}
    book = pacsv.read_csv(book_path)
    assert book.column_names == [
        "exchange",
        "symbol",
        "timestamp",
        "local_timestamp",
        "is_snapshot",
        "side",
        "price",
        "amount",
    ]
    # The CLEAR marker is dropped; the 10 snapshot levels come first, flagged is_snapshot.
    assert book.num_rows == 1999
    assert book["is_snapshot"].to_pylist()[:11] == [True] * 10 + [False]
    assert set(book["side"].to_pylist()) == {"bid", "ask"}
