from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import BTC, ETH, depth_columns, trade_columns
from hftlab.data.store import Store, StreamKey, inspect_file, write_table
from hftlab.errors import DataError, InstrumentError, StoreError
from hftlab.events import NS_PER_S, Channel, EventKind


def test_roundtrip_keeps_every_column_and_the_metadata(make_store) -> None:
    store = make_store(5000)
    key = StreamKey("test", "BTCUSDT", Channel.TRADE)
    table = pa.concat_tables(store.read(key))
    ts = 1_723_161_000_000_000_000 + np.arange(5000, dtype=np.int64) * 1_000_000
    expected = trade_columns(ts)
    for name, values in expected.items():
        assert np.array_equal(table.column(name).to_numpy(), values), name
    assert store.instrument("test", "BTCUSDT") == BTC
    assert [i.key for i in store.instruments()] == ["test/BTCUSDT", "test/ETHUSDT"]
    files = store.files(key)
    assert files[0].row_groups == 5  # 5000 rows in groups of 1024
    assert pq.ParquetFile(files[0].path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_rows_are_partitioned_by_utc_date_of_ts_local(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    midnight = 1_723_161_600 * NS_PER_S  # 2024-08-09 00:00:00 UTC
    ts = midnight + np.arange(-500, 500, dtype=np.int64) * 1_000_000
    write_table(store, BTC, "trade", trade_columns(ts))
    key = StreamKey("test", "BTCUSDT", Channel.TRADE)
    dates = [f.path.parent.name for f in store.files(key)]
    assert dates == ["date=2024-08-08", "date=2024-08-09"]
    assert [f.rows for f in store.files(key)] == [500, 500]
    merged = np.concatenate([e["ts_local"] for e in store.events([key])])
    assert np.array_equal(merged, ts)


def test_writer_rejects_rows_out_of_ts_local_order(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    ts = np.arange(100, dtype=np.int64) * 1000 + 10**18
    ts[50] = ts[10]
    with pytest.raises(DataError, match="row 50 of this batch goes back in time"):
        write_table(store, BTC, "trade", trade_columns(ts))
    assert store.streams() == []  # nothing half-written was published


def test_writer_rejects_wrong_columns(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    cols = trade_columns(np.arange(10, dtype=np.int64) + 10**18)
    del cols["trade_id"]
    cols["tradeid"] = np.arange(10)
    with pytest.raises(DataError, match=r"missing \['trade_id'\]; unexpected \['tradeid'\]"):
        write_table(store, BTC, "trade", cols)


def test_a_failed_write_leaves_no_file_and_readers_ignore_temporaries(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    ts = np.arange(3000, dtype=np.int64) * 1000 + 10**18
    with pytest.raises(RuntimeError), store.writer(BTC, "trade", row_group_rows=1024) as writer:
        writer.write(trade_columns(ts[:2000]))  # one row group already on disk in the temp file
        raise RuntimeError("crash in the producer")
    assert store.streams() == []
    assert not list(tmp_path.rglob("*.tmp-*"))
    # A temp file left by a killed process is ignored by readers and reported.
    write_table(store, BTC, "trade", trade_columns(ts))
    part = store.files(StreamKey("test", "BTCUSDT", Channel.TRADE))[0].path
    (part.parent / "part-00001.parquet.tmp-999").write_bytes(part.read_bytes()[:100])
    assert store.incomplete_files() == [part.parent / "part-00001.parquet.tmp-999"]
    assert sum(len(c) for c in store.events()) == 3000


def test_overlapping_files_of_one_stream_are_merged(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    ts = 10**18 + np.arange(0, 2000, dtype=np.int64) * 1000
    write_table(store, BTC, "trade", trade_columns(ts[0::2]), row_group_rows=1024)
    write_table(store, BTC, "trade", trade_columns(ts[1::2], seed=3), row_group_rows=1024)
    key = StreamKey("test", "BTCUSDT", Channel.TRADE)
    assert len(store.files(key)) == 2
    read = pa.concat_tables(store.read(key)).column("ts_local").to_numpy()
    assert np.array_equal(read, ts)
    events = np.concatenate(list(store.events([key])))
    assert np.array_equal(events["ts_local"], ts)


def test_events_merge_streams_in_ts_local_order_with_ticks(make_store) -> None:
    store = make_store(3000)
    stream = store.events()
    assert [i.symbol for i in stream.instruments] == ["BTCUSDT", "ETHUSDT"]
    chunks = list(stream)
    events = np.concatenate(chunks)
    assert len(events) == stream.rows == 9000
    assert np.all(np.diff(events["ts_local"]) >= 0)
    kinds = set(np.unique(events["kind"]).tolist())
    assert kinds == {EventKind.DEPTH, EventKind.SNAPSHOT, EventKind.CLEAR, EventKind.TRADE}
    btc_trades = events[(events["instrument"] == 0) & (events["kind"] == EventKind.TRADE)]
    ts = 1_723_161_000_000_000_000 + np.arange(3000, dtype=np.int64) * 1_000_000
    assert np.array_equal(btc_trades["price"], BTC.price_to_ticks(trade_columns(ts)["price"]))
    eth = events[events["instrument"] == 1]
    assert np.all(eth["kind"] == EventKind.TRADE) and len(eth) == 3000


def test_events_respect_time_bounds(make_store) -> None:
    store = make_store(3000)
    start = 1_723_161_000_000_000_000 + 1000 * 1_000_000
    end = start + 500 * 1_000_000
    events = np.concatenate(list(store.events(start=start, end=end)))
    assert events["ts_local"].min() >= start and events["ts_local"].max() < end
    assert len(events) == 3 * 500


def test_bbo_rows_become_bid_and_ask_ticks(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    n = 10
    ts = 10**18 + np.arange(n, dtype=np.int64)
    write_table(
        store,
        ETH,
        "bbo",
        {
            "ts_exchange": ts - 5,
            "ts_local": ts,
            "bid_price": np.full(n, 2683.80),
            "bid_qty": np.full(n, 3.0292),
            "ask_price": np.full(n, 2683.81),
            "ask_qty": np.full(n, 31.4395),
            "update_id": np.arange(n),
            "flags": np.zeros(n, np.uint8),
        },
    )
    ev = np.concatenate(list(store.events()))
    assert set(ev["kind"].tolist()) == {EventKind.BBO}
    assert ev["price"][0] == 268380 and ev["price2"][0] == 268381
    assert ev["qty"][0] == 30292 and ev["qty2"][0] == 314395


# ------------------------------------------------------------------ bad input
def test_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nope")


def test_unknown_instrument_names_the_known_ones(make_store) -> None:
    store = make_store(10)
    with pytest.raises(
        InstrumentError, match=r"unknown instrument 'SOLUSDT'.*test/BTCUSDT, test/ETHUSDT"
    ):
        store.resolve(["SOLUSDT"])


def test_truncated_file_is_detected_not_half_read(make_store) -> None:
    store = make_store(3000)
    key = StreamKey("test", "BTCUSDT", Channel.TRADE)
    path = store.files(key)[0].path
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    fresh = Store(store.root)
    with pytest.raises(StoreError, match="truncated or corrupt") as err:
        list(fresh.events())
    assert str(path) in str(err.value)


def test_file_with_wrong_columns_is_rejected(make_store) -> None:
    store = make_store(10)
    key = StreamKey("test", "BTCUSDT", Channel.TRADE)
    path = store.files(key)[0].path
    table = pq.read_table(path).drop_columns(["trade_id"])
    pq.write_table(table.replace_schema_metadata(pq.read_schema(path).metadata), path)
    with pytest.raises(StoreError, match="missing column 'trade_id'") as err:
        Store(store.root).files(key)
    assert str(path) in str(err.value)


def test_file_not_written_by_hftlab_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    with pytest.raises(StoreError, match="no hftlab metadata"):
        inspect_file(path)


def test_off_grid_price_in_a_file_names_file(tmp_path: Path) -> None:
    store = Store(tmp_path, create=True)
    cols = depth_columns(np.arange(20, dtype=np.int64) + 10**18)
    cols["price"][15] = 60000.005
    write_table(store, BTC, "depth", cols)
    with pytest.raises(
        StoreError, match=r"part-00000\.parquet.*60000\.005.*not a multiple of 0\.01"
    ):
        list(store.events())
