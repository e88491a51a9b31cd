"""CSV export in Tardis-style columns (the CSV most research tools read).

One file per instrument and channel, named ``<venue>_<data type>_<symbol>.csv[.gz]``:

=========== ===================== ==========================================================
channel     Tardis data type      columns
=========== ===================== ==========================================================
``trade``   ``trades``            exchange,symbol,timestamp,local_timestamp,id,side,price,amount
``depth``   ``incremental_book_L2`` exchange,symbol,timestamp,local_timestamp,is_snapshot,side,
                                  price,amount
``bbo``     ``quotes``            exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,
                                  bid_price,bid_amount
=========== ===================== ==========================================================

Timestamps are integer microseconds since the epoch (floored from our nanoseconds). Trade side is
the aggressor (``buy``/``sell``/``unknown``); book side is ``bid``/``ask``. Our CLEAR markers
are not written: as in Tardis, a run of ``is_snapshot=true`` rows following ``false`` rows means
"reset the book, then apply these levels". Rows flagged unsynced (received during a sequence gap)
are skipped, since Tardis' format has no way to mark them. Rows are streamed row group by row
group; files appear atomically (written under a temporary name, then renamed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from hftlab.data.store import Store, StreamKey
from hftlab.errors import DataError
from hftlab.events import CHANNEL_SCHEMAS, FLAG_UNSYNCED, NS_PER_US, Channel, EventKind

TARDIS_TYPES: Final = {
    Channel.TRADE: "trades",
    Channel.DEPTH: "incremental_book_L2",
    Channel.BBO: "quotes",
}


def _micros(col: pa.ChunkedArray) -> pa.Array:
    return pa.array(np.floor_divide(col.to_numpy(), NS_PER_US))


def _side_names(side: np.ndarray, positive: str, negative: str, zero: str) -> pa.Array:
    names = np.array([negative, zero, positive], dtype=object)
    return pa.array(names[np.sign(side).astype(np.int64) + 1], type=pa.string())


def _tardis_table(key: StreamKey, table: pa.Table) -> pa.Table:
    flags = table.column("flags").to_numpy()
    keep = (flags & FLAG_UNSYNCED) == 0
    if key.channel is Channel.DEPTH:
        keep &= table.column("kind").to_numpy() != EventKind.CLEAR
    if not keep.all():
        table = table.filter(pa.array(keep))
    n = table.num_rows
    head = {
        "exchange": pa.array([key.venue] * n, type=pa.string()),
        "symbol": pa.array([key.symbol] * n, type=pa.string()),
        "timestamp": _micros(table.column("ts_exchange")),
        "local_timestamp": _micros(table.column("ts_local")),
    }
    if key.channel is Channel.TRADE:
        body = {
            "id": table.column("trade_id"),
            "side": _side_names(table.column("side").to_numpy(), "buy", "sell", "unknown"),
            "price": table.column("price"),
            "amount": table.column("qty"),
        }
    elif key.channel is Channel.DEPTH:
        body = {
            "is_snapshot": pc.equal(
                table.column("kind"), pa.scalar(EventKind.SNAPSHOT, pa.uint8())
            ),
            "side": _side_names(table.column("side").to_numpy(), "bid", "ask", "unknown"),
            "price": table.column("price"),
            "amount": table.column("qty"),
        }
    else:
        body = {
            "ask_amount": table.column("ask_qty"),
            "ask_price": table.column("ask_price"),
            "bid_price": table.column("bid_price"),
            "bid_amount": table.column("bid_qty"),
        }
    return pa.table({**head, **body})


def export_stream(
    store: Store, key: StreamKey, out_dir: Path, *, gzip: bool = False
) -> tuple[Path, int]:
    """Write one stream as a Tardis-style CSV; returns the path and the number of data rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{key.venue}_{TARDIS_TYPES[key.channel]}_{key.symbol}.csv" + (".gz" if gzip else "")
    final = out_dir / name
    tmp = out_dir / f".{name}.tmp-{os.getpid()}"
    rows = 0
    # The header is written by hand: Arrow quotes header names whatever the quoting style.
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    try:
        raw = pa.OSFile(str(tmp), "wb")
        sink = pa.CompressedOutputStream(raw, "gzip") if gzip else raw
        writer: pacsv.CSVWriter | None = None
        try:
            for table in store.read(key):
                csv_table = _tardis_table(key, table)
                if writer is None:
                    sink.write((",".join(csv_table.column_names) + "\n").encode())
                    writer = pacsv.CSVWriter(sink, csv_table.schema, write_options=options)
                writer.write_table(csv_table)
                rows += csv_table.num_rows
            if writer is None:  # nothing in range: still a valid CSV with its header
                empty = _tardis_table(key, CHANNEL_SCHEMAS[key.channel].empty_table())
                sink.write((",".join(empty.column_names) + "\n").encode())
        finally:
            if writer is not None:
                writer.close()
            sink.close()
        os.replace(tmp, final)
    except pa.ArrowInvalid as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write CSV: {exc}", path=final) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final, rows


def export_csv(
    store_path: str | Path,
    out_dir: str | Path,
    *,
    instruments: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    gzip: bool = False,
) -> list[tuple[Path, int]]:
    """Export the selected streams of a store; returns ``(path, rows)`` per file written."""
    store = Store(store_path)
    keys = store.resolve(instruments, channels)
    return [export_stream(store, key, Path(out_dir), gzip=gzip) for key in keys]
