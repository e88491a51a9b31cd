"""Tardis.dev-style CSV: ``trades``, ``quotes``, ``incremental_book_L2``, ``book_snapshot_N``.

Every file has a header; timestamps are µs (``timestamp`` venue time, ``local_timestamp``
receive time)::

    exchange,symbol,timestamp,local_timestamp,id,side,price,amount                  (trades)
    binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132
    exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount
    exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount    (incremental L2)
    deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,ask,6421.5,18640
    exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,...

The data type is recognised from the header. A file may hold several symbols; each becomes
its own instrument (venue = the ``exchange`` column unless overridden).

Mapping: trades -> ``trade`` (non-numeric ids, e.g. BitMEX UUIDs, are stored as -1 and
counted); quotes -> ``bbo`` (an empty side is stored as price 0, size 0 and counted);
incremental_book_L2 -> ``depth`` (a run of ``is_snapshot`` rows after update rows, or at the
start, is a new snapshot: a CLEAR row precedes it); book_snapshot_N -> ``depth`` (each row is a
CLEAR plus the row's levels as SNAPSHOT rows, empty levels skipped). Rows must be in
``local_timestamp`` order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hftlab.data.importers._common import (
    ImportOptions,
    ImportSummary,
    InstrumentSummary,
    LatencyStats,
    csv_instrument_summary,
    write_channel,
)
from hftlab.data.importers._csv import check_sorted, first_line, read_bytes, read_csv
from hftlab.data.importers.validate import validate_book
from hftlab.data.store import Store
from hftlab.errors import DataError
from hftlab.events import NO_ID, Channel, EventKind, Side
from hftlab.units import NS_PER_US

I64, F64, STR, BOOL = pa.int64(), pa.float64(), pa.string(), pa.bool_()
_BASE = ["exchange", "symbol", "timestamp", "local_timestamp"]
_LAYOUTS: dict[str, list[str]] = {
    "trades": [*_BASE, "id", "side", "price", "amount"],
    "quotes": [*_BASE, "ask_amount", "ask_price", "bid_price", "bid_amount"],
    "incremental_book_L2": [*_BASE, "is_snapshot", "side", "price", "amount"],
}
_SNAP_RE = re.compile(r"^(asks|bids)\[(\d+)\]\.(price|amount)$")


def _detect(path: Path, header: list[str]) -> str:
    missing_base = [c for c in _BASE if c not in header]
    if missing_base:
        raise DataError(f"missing column(s) {missing_base} in the header", path=path, row=1)
    for name, cols in _LAYOUTS.items():
        if set(cols[4:]) <= set(header) or (name == "trades" and "id" in header):
            missing = [c for c in cols if c not in header]
            if missing:
                raise DataError(f"{name} file lacks column(s) {missing}", path=path, row=1)
            return name
    if any(_SNAP_RE.match(c) for c in header):
        return "book_snapshot"
    if "is_snapshot" in header or "ask_price" in header or "amount" in header:
        want = {"is_snapshot": "incremental_book_L2", "ask_price": "quotes"}
        name = next((v for k, v in want.items() if k in header), "trades")
        missing = [c for c in _LAYOUTS[name] if c not in header]
        raise DataError(f"{name} file lacks column(s) {missing}", path=path, row=1)
    raise DataError(
        "not a Tardis CSV (trades, quotes, incremental_book_L2 or book_snapshot_N)",
        path=path,
        row=1,
    )


def import_tardis_csv(
    paths: Sequence[str | Path],
    store: Store | str | Path | None,
    *,
    options: ImportOptions | None = None,
) -> ImportSummary:
    """Import Tardis-style CSV files (plain or gzip).

    Parameters
    ----------
    paths
        CSV files; the data type of each is read from its header.
    store
        Target store, or None to parse and check only.
    options
        Venue override, tick/lot/contract sizes.

    Returns
    -------
    ImportSummary
        Rows per kind and instrument; the book of depth files is rebuilt and checked for
        crossing.
    """
    opts = options or ImportOptions()
    t0 = time.perf_counter()
    summary = ImportSummary(format="tardis-csv", files=[str(p) for p in paths])
    st = None
    if store is not None:
        st = store if isinstance(store, Store) else Store(store, create=True)
    for p in paths:
        _import_file(Path(p), st, opts, summary)
    summary.seconds = time.perf_counter() - t0
    return summary


def _import_file(path: Path, store: Store | None, opts: ImportOptions, summary: ImportSummary):
    data = read_bytes(path)
    header = [c.strip() for c in first_line(data).split(",")]
    dtype = _detect(path, header)
    types: dict[str, pa.DataType] = {"timestamp": I64, "local_timestamp": I64}
    nullable: list[str] = []
    if dtype == "trades":
        types |= {"id": STR, "side": STR, "price": F64, "amount": F64}
    elif dtype == "quotes":
        types |= {c: F64 for c in _LAYOUTS["quotes"][4:]}
        nullable = _LAYOUTS["quotes"][4:]
    elif dtype == "incremental_book_L2":
        types |= {"is_snapshot": BOOL, "side": STR, "price": F64, "amount": F64}
    else:
        types |= {c: F64 for c in header if _SNAP_RE.match(c)}
        nullable = [c for c in header if _SNAP_RE.match(c)]
    table = read_csv(path, data, header, types, header=True, nullable=nullable)
    summary.lines += table.num_rows + 1
    summary.messages += table.num_rows
    local = table.column("local_timestamp").to_numpy()
    check_sorted(path, local, header=True, what="local_timestamp")
    ex = table.column("exchange").to_numpy(zero_copy_only=False)
    sy = table.column("symbol").to_numpy(zero_copy_only=False)
    keys = np.char.add(np.char.add(ex.astype(str), "\x1f"), sy.astype(str))
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        exchange, symbol = str(key).split("\x1f", 1)
        part = table.take(pa.array(rows))
        venue = opts.venue or exchange
        summary.instruments.append(
            _import_instrument(path, dtype, part, rows, venue, symbol, store, opts, summary)
        )


def _import_instrument(
    path: Path,
    dtype: str,
    t: pa.Table,
    rows: np.ndarray,
    venue: str,
    symbol: str,
    store: Store | None,
    opts: ImportOptions,
    summary: ImportSummary,
) -> InstrumentSummary:
    ts_x = t.column("timestamp").to_numpy() * NS_PER_US
    ts_l = t.column("local_timestamp").to_numpy() * NS_PER_US
    n = t.num_rows
    counts: dict[str, int] = {}
    channel: Channel
    columns: dict[str, Any]
    if dtype == "trades":
        ids_s = t.column("id").to_numpy(zero_copy_only=False).astype(str)
        numeric = np.char.isdigit(ids_s)
        ids = np.full(n, NO_ID, dtype=np.int64)
        ids[numeric] = ids_s[numeric].astype(np.int64)
        if (~numeric).any():
            counts["trade.id_not_numeric"] = int((~numeric).sum())
        side_s = pc.utf8_lower(t.column("side")).to_numpy(zero_copy_only=False)
        side = np.select([side_s == "buy", side_s == "sell"], [Side.BUY, Side.SELL], Side.NONE)
        prices, qtys = t.column("price").to_numpy(), t.column("amount").to_numpy()
        channel = Channel.TRADE
        columns = {
            "ts_exchange": ts_x,
            "ts_local": ts_l,
            "side": side.astype(np.int8),
            "price": prices,
            "qty": qtys,
            "trade_id": ids,
            "flags": np.zeros(n, np.uint8),
        }
        counts["trade"] = n
    elif dtype == "quotes":
        cols = {c: t.column(c).to_numpy(zero_copy_only=False) for c in _LAYOUTS["quotes"][4:]}
        empty = np.zeros(n, dtype=bool)
        for c, v in cols.items():
            v = np.asarray(v, dtype=np.float64)
            empty |= np.isnan(v)
            cols[c] = np.nan_to_num(v, nan=0.0)
        if empty.any():
            counts["bbo.side_empty"] = int(empty.sum())
        prices = np.concatenate([cols["bid_price"], cols["ask_price"]])
        qtys = np.concatenate([cols["bid_amount"], cols["ask_amount"]])
        channel = Channel.BBO
        columns = {
            "ts_exchange": ts_x,
            "ts_local": ts_l,
            "bid_price": cols["bid_price"],
            "bid_qty": cols["bid_amount"],
            "ask_price": cols["ask_price"],
            "ask_qty": cols["ask_amount"],
            "update_id": np.full(n, NO_ID, np.int64),
            "flags": np.zeros(n, np.uint8),
        }
        counts["bbo"] = n
    elif dtype == "incremental_book_L2":
        channel = Channel.DEPTH
        columns = _incremental(path, t, ts_x, ts_l, rows)
        prices, qtys = columns["price"], columns["qty"]
    else:
        channel = Channel.DEPTH
        columns = _snapshots(t, ts_x, ts_l)
        prices, qtys = columns["price"], columns["qty"]
    isum = csv_instrument_summary(venue, symbol, prices, qtys, path, opts)
    inst = isum.instrument
    if channel is Channel.DEPTH:
        kind = columns["kind"]
        counts["depth.update"] = int(np.count_nonzero(kind == EventKind.DEPTH))
        counts["depth.snapshot"] = int(np.count_nonzero(kind == EventKind.SNAPSHOT))
        counts["depth.clear"] = int(np.count_nonzero(kind == EventKind.CLEAR))
        if opts.validate:
            isum.validation = validate_book(columns, None, inst)
            isum.crossed = isum.validation.crossed
    isum.rows = counts
    isum.latency = LatencyStats.of(ts_l - ts_x)
    if n:
        isum.ts_local_first, isum.ts_local_last = int(ts_l[0]), int(ts_l[-1])
    if isum.latency.negative:
        summary.warn(
            f"{inst.key}: {isum.latency.negative} of {n} rows have negative feed latency; kept"
        )
    if store is not None:
        summary.files_written += write_channel(store, inst, channel, columns)
    return isum


def _incremental(
    path: Path, t: pa.Table, ts_x: np.ndarray, ts_l: np.ndarray, rows: np.ndarray
) -> dict[str, Any]:
    snap = t.column("is_snapshot").to_numpy(zero_copy_only=False).astype(bool)
    side_s = pc.utf8_lower(t.column("side")).to_numpy(zero_copy_only=False)
    side = np.select([side_s == "bid", side_s == "ask"], [Side.BID, Side.ASK], 0)
    if np.any(side == 0):
        bad = int(np.flatnonzero(side == 0)[0])
        raise DataError(
            f"side must be 'bid' or 'ask', got {side_s[bad]!r}", path=path, row=int(rows[bad]) + 2
        )
    # A snapshot starts where is_snapshot turns true (or at the first row): clear first.
    starts = snap & np.r_[True, ~snap[:-1]]
    n = t.num_rows
    out_n = n + int(starts.sum())
    pos = np.arange(n) + np.cumsum(starts)  # each start shifts later rows by one
    clear_pos = pos[starts] - 1
    kind = np.empty(out_n, np.uint8)
    kind[pos] = np.where(snap, EventKind.SNAPSHOT, EventKind.DEPTH)
    kind[clear_pos] = EventKind.CLEAR

    def spread(values: np.ndarray, clear_value: Any) -> np.ndarray:
        out = np.empty(out_n, dtype=values.dtype)
        out[pos] = values
        out[clear_pos] = clear_value if clear_value is not None else values[starts]
        return out

    return {
        "ts_exchange": spread(ts_x, None),
        "ts_local": spread(ts_l, None),
        "kind": kind,
        "side": spread(side.astype(np.int8), Side.NONE),
        "price": spread(t.column("price").to_numpy(), 0.0),
        "qty": spread(t.column("amount").to_numpy(), 0.0),
        "first_update_id": np.full(out_n, NO_ID, np.int64),
        "last_update_id": np.full(out_n, NO_ID, np.int64),
        "prev_update_id": np.full(out_n, NO_ID, np.int64),
        "flags": np.zeros(out_n, np.uint8),
    }


def _snapshots(t: pa.Table, ts_x: np.ndarray, ts_l: np.ndarray) -> dict[str, Any]:
    names = [c for c in t.column_names if _SNAP_RE.match(c)]
    depth = 1 + max(int(_SNAP_RE.match(c).group(2)) for c in names)  # type: ignore[union-attr]
    n = t.num_rows
    # Per row: CLEAR, then bids[0..N), asks[0..N); empty levels dropped below.
    width = 1 + 2 * depth
    price = np.zeros((n, width))
    qty = np.zeros((n, width))
    side = np.zeros((n, width), np.int8)
    valid = np.zeros((n, width), bool)
    valid[:, 0] = True
    for s_i, (sname, sval) in enumerate((("bids", Side.BID), ("asks", Side.ASK))):
        for lv in range(depth):
            c = 1 + s_i * depth + lv
            pcol, qcol = f"{sname}[{lv}].price", f"{sname}[{lv}].amount"
            if pcol not in t.column_names or qcol not in t.column_names:
                continue
            p = np.asarray(t.column(pcol).to_numpy(zero_copy_only=False), dtype=np.float64)
            q = np.asarray(t.column(qcol).to_numpy(zero_copy_only=False), dtype=np.float64)
            ok = ~np.isnan(p) & ~np.isnan(q)
            price[:, c] = np.where(ok, p, 0.0)
            qty[:, c] = np.where(ok, q, 0.0)
            side[:, c] = sval
            valid[:, c] = ok
    kind = np.full((n, width), EventKind.SNAPSHOT, np.uint8)
    kind[:, 0] = EventKind.CLEAR
    flat = valid.ravel()
    m = int(flat.sum())
    return {
        "ts_exchange": np.repeat(ts_x, width)[flat],
        "ts_local": np.repeat(ts_l, width)[flat],
        "kind": kind.ravel()[flat],
        "side": side.ravel()[flat],
        "price": price.ravel()[flat],
        "qty": qty.ravel()[flat],
        "first_update_id": np.full(m, NO_ID, np.int64),
        "last_update_id": np.full(m, NO_ID, np.int64),
        "prev_update_id": np.full(m, NO_ID, np.int64),
        "flags": np.zeros(m, np.uint8),
    }
