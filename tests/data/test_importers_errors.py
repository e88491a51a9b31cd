"""Importers on small hand-written inputs: bad input gives a DataError naming file and line
(or a counted warning where skipping is right), Binance CSV dump variants, and property tests
that mutated lines never raise anything but our error type."""

from __future__ import annotations

import contextlib
import gzip
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hftlab.data.importers import (
    ImportOptions,
    import_binance_capture,
    import_binance_csv,
    import_files,
    import_tardis_csv,
    infer_step,
)
from hftlab.data.store import Store
from hftlab.errors import DataError, HftlabError

T0 = 1_723_161_253_937_085_768  # ns


def _msg(stream: str, data: dict) -> str:
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":"))


def _capture_lines() -> list[str]:
    """A tiny spot capture: two diffs, a late snapshot, a diff, tickers and a trade."""
    d1 = {
        "e": "depthUpdate",
        "E": 1723161255208,
        "s": "BTCUSDT",
        "U": 100,
        "u": 104,
        "b": [["100.00", "1.0"]],
        "a": [["100.02", "2.0"]],
    }
    d2 = {
        "e": "depthUpdate",
        "E": 1723161255308,
        "s": "BTCUSDT",
        "U": 105,
        "u": 110,
        "b": [["100.01", "0.5"]],
        "a": [],
    }
    d3 = {
        "e": "depthUpdate",
        "E": 1723161255408,
        "s": "BTCUSDT",
        "U": 111,
        "u": 112,
        "b": [["100.01", "0"]],
        "a": [["100.03", "1.5"]],
    }
    snap = {
        "lastUpdateId": 107,
        "bids": [["100.00", "1.0"], ["99.99", "3.0"]],
        "asks": [["100.02", "2.0"], ["100.05", "1.0"]],
    }
    tk1 = {"u": 110, "s": "BTCUSDT", "b": "100.01", "B": "0.5", "a": "100.02", "A": "2.0"}
    tk2 = {"u": 112, "s": "BTCUSDT", "b": "100.00", "B": "1.0", "a": "100.02", "A": "2.0"}
    tr = {
        "e": "trade",
        "E": 1723161255343,
        "s": "BTCUSDT",
        "t": 1,
        "p": "100.02",
        "q": "0.1",
        "T": 1723161255342,
        "m": False,
        "M": True,
    }
    msgs = [
        _msg("btcusdt@depth@100ms", d1),
        _msg("btcusdt@depth@100ms", d2),
        _msg("btcusdt@bookTicker", tk1),
        _msg("btcusdt@trade", tr),
        json.dumps(snap),
        _msg("btcusdt@depth@100ms", d3),
        _msg("btcusdt@bookTicker", tk2),
        _msg("btcusdt@kline_1m", {"e": "kline"}),
    ]  # fmt: skip
    return [f"{T0 + i * 1_000_000} {m}" for i, m in enumerate(msgs)]


def _write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def test_small_capture_syncs_and_matches(tmp_path: Path) -> None:
    f = _write_gz(tmp_path / "btcusdt_20240808.gz", _capture_lines())
    s = import_binance_capture([f], tmp_path / "store")
    inst = s.instrument("BTCUSDT", "binance")
    assert inst.instrument.tick_size == 0.01
    assert inst.gaps == 0 and inst.snapshots_used == 1 and inst.crossed == 0
    # d1 (u=104 <= 107) is stale for the snapshot, d2 straddles it and is replayed.
    assert inst.rows["depth.unsynced"] == 3  # rows of d1 (2 levels) and d2 (1 level)
    assert inst.validation is not None
    assert inst.validation.compared == 2 and inst.validation.matched == 2
    assert s.ignored == {"kline": 1}
    assert inst.rows["bbo.ts_inferred"] == 2
    store = Store(tmp_path / "store")
    assert {k.channel.value for k in store.streams()} == {"depth", "trade", "bbo"}


def test_truncated_gzip_names_file(tmp_path: Path) -> None:
    f = _write_gz(tmp_path / "btcusdt_20240808.gz", _capture_lines() * 200)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as err:
        import_binance_capture([f], None)
    assert str(f) in str(err.value)


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    lines = _capture_lines()
    lines[3] = lines[3][:-20]  # cut the trade message
    f = _write_gz(tmp_path / "btcusdt_20240808.gz", lines)
    with pytest.raises(DataError) as err:
        import_binance_capture([f], None)
    assert f"{f}:4:" in str(err.value)
    # ... or counted and skipped on request.
    s = import_binance_capture([f], None, options=ImportOptions(skip_bad_lines=True))
    assert s.bad_lines == 1 and s.instruments[0].rows["trade"] == 0


def test_malformed_level_names_line(tmp_path: Path) -> None:
    lines = _capture_lines()
    lines[5] = lines[5].replace('["100.03","1.5"]', '["abc","1.5"]')
    f = _write_gz(tmp_path / "btcusdt_20240808.gz", lines)
    with pytest.raises(DataError, match=r":6: malformed price levels"):
        import_binance_capture([f], None)


def test_unknown_stream_is_a_counted_warning(tmp_path: Path) -> None:
    lines = [*_capture_lines(), f"{T0 + 10**9} " + _msg("btcusdt@mystery", {"x": 1})]
    f = _write_gz(tmp_path / "btcusdt_20240808.gz", lines)
    s = import_binance_capture([f], None)
    assert s.ignored.get("unknown:mystery") == 1
    assert any("unknown stream 'btcusdt@mystery'" in w and ":9:" in w for w in s.warnings)


def test_out_of_order_capture_names_line(tmp_path: Path) -> None:
    lines = _capture_lines()
    lines[2], lines[3] = lines[3], lines[2]
    f = _write_gz(tmp_path / "btcusdt_20240808.gz", lines)
    with pytest.raises(DataError, match=r":4: local timestamp goes back in time"):
        import_binance_capture([f], None)


def test_gap_marks_unsynced(tmp_path: Path) -> None:
    lines = _capture_lines()
    gap = {"e": "depthUpdate", "E": 1723161255508, "s": "BTCUSDT", "U": 120, "u": 121,
           "b": [["100.00", "9.0"]], "a": []}  # fmt: skip
    lines.append(f"{T0 + 10**9} " + _msg("btcusdt@depth@100ms", gap))
    f = _write_gz(tmp_path / "btcusdt_20240808.gz", lines)
    inst = import_binance_capture([f], None).instruments[0]
    assert inst.gaps == 1 and inst.resyncs == 0
    assert inst.rows["depth.unsynced"] == 4  # 3 before the snapshot + the gap diff


def test_cryptofeed_layout_and_seconds(tmp_path: Path) -> None:
    ws = tmp_path / "BINANCE.ws.1.0"
    http = tmp_path / "BINANCE.http.0.0"
    lines = _capture_lines()
    body = [ln.split(" ", 1)[1] for ln in lines]
    snap = body.pop(4)
    ws.write_text(
        "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms <-> 1723161253.0\n"
        + "".join(f"1723161254.{i:07d}: {b}\n" for i, b in enumerate(body))
    )
    http.write_text(
        "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000 -> "
        f"1723161254.0000035: {snap}\n"
    )
    s = import_files("auto", [ws, http], None)
    inst = s.instrument("BTCUSDT", "binance")
    assert inst.snapshots_used == 1 and inst.validation and inst.validation.matched == 2


# ----------------------------------------------------------------------------- Binance CSV
def test_binance_csv_variants(tmp_path: Path) -> None:
    spot = tmp_path / "BTCUSDT-trades-2024-01-01.csv"
    spot.write_text(
        "1,42000.10000000,0.00100000,42.00010000,1704067200000,True,True\n"
        "2,42000.20000000,0.00200000,84.00040000,1704067200001,False,True\n"
    )
    fut = tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv"
    fut.write_text(
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
        "7,42000.1,0.010,10,12,1704067200000,true\n"
        "8,42000.3,0.020,13,13,1704067200005,false\n"
    )
    us = tmp_path / "ETHUSDT-trades-2025-01-01.csv"  # 2025 spot dumps: µs
    us.write_text("1,3300.01,0.5,1650.005,1735689600000000,False,True\n")
    bt = tmp_path / "BTCUSDT-bookTicker-2023-10-02.csv"
    bt.write_text(
        "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,"
        "event_time\n3000,27000.1,1.5,27000.2,2.0,1696204800000,1696204800003\n"
    )
    z = tmp_path / "BTCUSDT-trades-2024-01-02.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("BTCUSDT-trades-2024-01-02.csv", spot.read_text())
    s = import_binance_csv([spot, fut, us, bt, z], tmp_path / "store")
    venues = [(i.instrument.venue, i.instrument.symbol) for i in s.instruments]
    assert venues == [
        ("binance", "BTCUSDT"),
        ("binance-futures", "BTCUSDT"),
        ("binance", "ETHUSDT"),
        ("binance-futures", "BTCUSDT"),
        ("binance", "BTCUSDT"),
    ]
    assert s.instruments[2].ts_local_first == 1735689600000000 * 1000
    assert s.instruments[0].ts_local_first == 1704067200000 * 1_000_000
    assert s.instruments[3].rows == {"bbo": 1}
    assert import_files("auto", [spot], None).format == "binance-csv"


def test_binance_csv_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "BTCUSDT-trades-2024-01-01.csv"
    f.write_text("1,42000.1,0.001,1704067200000,True\n")
    with pytest.raises(DataError, match=r"BTCUSDT-trades-2024-01-01.csv:1: .*columns"):
        import_binance_csv([f], None)


def test_flattened_depth_csv_is_named_as_unsupported(tmp_path: Path) -> None:
    f = tmp_path / "btcusdt-depth-update.csv"
    f.write_text(
        "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
        "BTCUSDT,1667347199939,2098041693435,2098041696700,a,set,20472.80,0.000,2098041693400\n"
    )
    with pytest.raises(DataError, match=r"depth-update.csv: this is a flattened depth CSV"):
        import_files("auto", [f], None)


def test_binance_csv_bad_value_and_order(tmp_path: Path) -> None:
    f = tmp_path / "BTCUSDT-trades-2024-01-01.csv"
    f.write_text(
        "1,42000.1,0.001,42.0001,1704067200000,True,True\n"
        "2,42000.x,0.001,42.0001,1704067200001,True,True\n"
    )
    with pytest.raises(DataError, match=r"\.csv:2: column 'price'"):
        import_binance_csv([f], None)
    f.write_text(
        "1,42000.1,0.001,42.0001,1704067200005,True,True\n"
        "2,42000.2,0.001,42.0001,1704067200001,True,True\n"
    )
    with pytest.raises(DataError, match=r"\.csv:2: time goes back in time"):
        import_binance_csv([f], None)


def test_tardis_missing_column_and_disorder(tmp_path: Path) -> None:
    f = tmp_path / "trades.csv"
    f.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price\nx,Y,1,2,3,buy,4\n")
    with pytest.raises(
        DataError, match=r"trades.csv:1: trades file lacks column\(s\) \['amount'\]"
    ):
        import_tardis_csv([f], None)
    f.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "binance,BTCUSDT,1582329602111000,1582329602418379,1,buy,9682,0.1\n"
        "binance,BTCUSDT,1582329602111000,1582329602418000,2,sell,9682,0.1\n"
    )
    with pytest.raises(DataError, match=r"trades.csv:3: local_timestamp goes back"):
        import_tardis_csv([f], None)


def test_infer_step() -> None:
    assert infer_step([61737.63, 61737.64, 61700.0]) == 0.01
    assert infer_step([0.5, 1.0, 2.5]) == 0.5
    assert infer_step([8531.5, 8531.5]) == 0.1  # one value says nothing about the grid
    assert infer_step([0.00006547, 0.00006542, 0.0000654]) == 1e-8
    assert infer_step([10, 20, 40]) == 10


# ----------------------------------------------------------------------------- properties
_BASE_LINES = _capture_lines()


def _mutate(line: str, data: st.DataObject) -> str:
    op = data.draw(st.sampled_from(["cut", "replace", "insert", "swapnum", "dropkey"]))
    if op == "cut":
        return line[: data.draw(st.integers(0, len(line)))]
    if op == "replace" and line:
        i = data.draw(st.integers(0, len(line) - 1))
        return line[:i] + data.draw(st.sampled_from(list('{}[]",:0-9a x.\\'))) + line[i + 1 :]
    if op == "insert":
        i = data.draw(st.integers(0, len(line)))
        return line[:i] + data.draw(st.text(max_size=5)) + line[i:]
    if op == "swapnum":
        return line.replace('"100.0', data.draw(st.sampled_from(['"-1', '"nan', '"1e999', "1"])))
    return line.replace('"u":', '"v":', 1)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_capture_lines_raise_only_data_errors(tmp_path: Path, data: st.DataObject) -> None:
    lines = list(_BASE_LINES)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = _mutate(lines[i], data)
    f = tmp_path / "btcusdt_20240808.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(HftlabError):
        import_binance_capture([f], None)
    skip = ImportOptions(skip_bad_lines=True)
    with contextlib.suppress(HftlabError):
        import_binance_capture([f], None, options=skip)


_CSV_LINES = [
    "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount",
    "deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,ask,6421.5,18640",
    "deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,bid,6421,1190",
    "deribit,BTC-PERPETUAL,1585699200345000,1585699200455684,false,bid,6421,0",
]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_csv_lines_raise_only_data_errors(tmp_path: Path, data: st.DataObject) -> None:
    lines = list(_CSV_LINES)
    i = data.draw(st.integers(0, len(lines) - 1))
    lines[i] = _mutate(lines[i], data)
    f = tmp_path / "book.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(HftlabError):
        import_tardis_csv([f], None)
    g = tmp_path / "BTCUSDT-trades-2024-01-01.csv"
    g.write_text(
        _mutate("1,42000.10000000,0.00100000,42.00010000,1704067200000,True,True", data) + "\n",
        encoding="utf-8",
        errors="surrogatepass",
    )
    with contextlib.suppress(HftlabError):
        import_binance_csv([g], None)
