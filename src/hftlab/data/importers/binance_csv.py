"""Binance public-data CSV dumps (data.binance.vision): trades, aggTrades, bookTicker.

Files are ``.csv`` or the ``.zip`` they are published as, with or without a header row::

    spot trades        3735683259,61837.63000000,0.02000000,1236.75260000,1723161255342,True,True
                       (id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch)
    USD-M trades       id,price,qty,quote_qty,time,is_buyer_maker
    spot aggTrades     (agg id, price, qty, first id, last id, time, isBuyerMaker, isBestMatch)
    USD-M aggTrades    agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,
                       is_buyer_maker
    USD-M bookTicker   update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,
                       transaction_time,event_time

The dataset comes from the file name (``BTCUSDT-aggTrades-2024-01-01.csv``) or the header, the
symbol from the file name unless given, the venue from the column count (spot dumps carry the
extra ``isBestMatch`` column; COIN-M symbols contain ``_``) unless given. Timestamps are ms
before 2025 and µs in spot dumps from 2025 on: the unit is detected from the magnitude.

The dumps have no receive time: ``ts_local`` is set to the venue time (feed latency 0).
``isBuyerMaker`` true means the aggressor sold.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa

from hftlab.data.importers._common import (
    ImportOptions,
    ImportSummary,
    InstrumentSummary,
    LatencyStats,
    csv_instrument_summary,
    write_channel,
)
from hftlab.data.importers._csv import check_sorted, first_line, read_bytes, read_csv
from hftlab.data.store import Store
from hftlab.errors import DataError
from hftlab.events import Channel, Side
from hftlab.feeds.binance.instruments import VENUE_COINM, VENUE_SPOT, VENUE_USDM
from hftlab.units import NS_PER_S, epoch_unit_ns

I64, F64, BOOL = pa.int64(), pa.float64(), pa.bool_()

# dataset -> venue kind -> column names (ours) and types
_LAYOUTS: Final[dict[str, dict[str, list[tuple[str, pa.DataType | None]]]]] = {
    "trades": {
        "spot": [("id", I64), ("price", F64), ("qty", F64), ("quote_qty", F64), ("time", I64),
                 ("is_buyer_maker", BOOL), ("is_best_match", None)],
        "futures": [("id", I64), ("price", F64), ("qty", F64), ("quote_qty", F64),
                    ("time", I64), ("is_buyer_maker", BOOL)],
    },
    "aggTrades": {
        "spot": [("id", I64), ("price", F64), ("qty", F64), ("first_id", I64), ("last_id", I64),
                 ("time", I64), ("is_buyer_maker", BOOL), ("is_best_match", None)],
        "futures": [("id", I64), ("price", F64), ("qty", F64), ("first_id", I64),
                    ("last_id", I64), ("time", I64), ("is_buyer_maker", BOOL)],
    },
    "bookTicker": {
        "futures": [("update_id", I64), ("bid_price", F64), ("bid_qty", F64),
                    ("ask_price", F64), ("ask_qty", F64), ("time", I64), ("event_time", I64)],
    },
}  # fmt: skip

_NAME_RE = re.compile(r"^([A-Z0-9_]+)-(trades|aggTrades|bookTicker)-", re.IGNORECASE)
_HEADER_HINTS: Final = {
    "agg_trade_id": "aggTrades",
    "update_id": "bookTicker",
    "is_buyer_maker": "trades",
}


def _detect(path: Path, head: str, dataset: str | None) -> tuple[str, bool, int]:
    """(dataset, has_header, column count) from the file name and first line."""
    has_header = bool(head) and head[0].isalpha()
    ncols = len(head.split(","))
    if has_header and "update_type" in head and "first_update_id" in head:
        # Depth flattened to one row per level (as in some third-party tools): not a Binance dump.
        raise DataError(
            "this is a flattened depth CSV (one row per level with update_type), which hftlab "
            "does not import",
            path=path,
            hint="import the raw WebSocket capture, or a Tardis incremental_book_L2 CSV",
        )
    if dataset is None:
        m = _NAME_RE.match(path.name)
        if m:
            dataset = {k.lower(): k for k in _LAYOUTS}[m.group(2).lower()]
        elif has_header:
            for hint, ds in _HEADER_HINTS.items():
                if hint in head:
                    dataset = ds
                    break
    if dataset not in _LAYOUTS:
        raise DataError(
            "cannot tell which Binance dump this is (trades, aggTrades or bookTicker)",
            path=path,
            hint="name it like BTCUSDT-trades-2024-01-01.csv or pass --dataset",
        )
    return dataset, has_header, ncols


def import_binance_csv(
    paths: Sequence[str | Path],
    store: Store | str | Path | None,
    *,
    options: ImportOptions | None = None,
    symbol: str | None = None,
    dataset: str | None = None,
) -> ImportSummary:
    """Import Binance public-data CSV dumps (trades, aggTrades, bookTicker).

    Parameters
    ----------
    paths
        CSV or zip files; each file is one symbol and one dataset.
    store
        Target store, or None to parse and check only.
    options
        Venue override, tick/lot sizes.
    symbol, dataset
        Override what the file name says.

    Returns
    -------
    ImportSummary
    """
    opts = options or ImportOptions()
    t0 = time.perf_counter()
    summary = ImportSummary(format="binance-csv", files=[str(p) for p in paths])
    st = None
    if store is not None:
        st = store if isinstance(store, Store) else Store(store, create=True)
    for p in paths:
        summary.instruments.append(_import_one(Path(p), st, opts, summary, symbol, dataset))
    summary.seconds = time.perf_counter() - t0
    return summary


def _import_one(
    path: Path,
    store: Store | None,
    opts: ImportOptions,
    summary: ImportSummary,
    symbol: str | None,
    dataset: str | None,
) -> InstrumentSummary:
    data = read_bytes(path)
    head = first_line(data)
    ds, has_header, ncols = _detect(path, head, dataset)
    layouts = _LAYOUTS[ds]
    kind = next((k for k, cols in layouts.items() if len(cols) == ncols), None)
    if kind is None:
        want = " or ".join(str(len(c)) for c in layouts.values())
        raise DataError(
            f"Binance {ds} dump should have {want} columns, the first line has {ncols}",
            path=path,
            row=1,
        )
    cols = layouts[kind]
    names = [n for n, _ in cols]
    types = {n: t for n, t in cols if t is not None}
    table = read_csv(path, data, names, types, header=has_header)
    summary.lines += table.num_rows + has_header
    sym = symbol or (m.group(1).upper() if (m := _NAME_RE.match(path.name)) else "")
    if not sym:
        raise DataError("cannot tell the symbol from the file name", path=path, hint="--symbol")
    venue = opts.venue or (
        VENUE_SPOT if kind == "spot" else VENUE_COINM if "_" in sym else VENUE_USDM
    )
    ts = table.column("time").to_numpy()
    # The unit from the largest stamp (s, ms, µs or ns); stamps too small for an epoch time
    # are read as seconds, as they always were.
    ts = ts * (epoch_unit_ns(int(np.abs(ts).max(initial=0))) or NS_PER_S)
    check_sorted(path, ts, header=has_header, what="time")
    n = table.num_rows
    flags = np.zeros(n, dtype=np.uint8)
    if ds == "bookTicker":
        prices = np.concatenate(
            [table.column("bid_price").to_numpy(), table.column("ask_price").to_numpy()]
        )
        qtys = np.concatenate(
            [table.column("bid_qty").to_numpy(), table.column("ask_qty").to_numpy()]
        )
        channel = Channel.BBO
        columns = {
            "ts_exchange": ts,
            "ts_local": ts,
            "bid_price": table.column("bid_price"),
            "bid_qty": table.column("bid_qty"),
            "ask_price": table.column("ask_price"),
            "ask_qty": table.column("ask_qty"),
            "update_id": table.column("update_id"),
            "flags": flags,
        }
    else:
        prices = table.column("price").to_numpy()
        qtys = table.column("qty").to_numpy()
        maker = table.column("is_buyer_maker").to_numpy(zero_copy_only=False)
        channel = Channel.TRADE
        columns = {
            "ts_exchange": ts,
            "ts_local": ts,
            "side": np.where(maker, Side.SELL, Side.BUY).astype(np.int8),
            "price": prices,
            "qty": qtys,
            "trade_id": table.column("id"),
            "flags": flags,
        }
    isum = csv_instrument_summary(venue, sym, prices, qtys, path, opts)
    inst = isum.instrument
    isum.rows = {channel.value: n}
    isum.latency = LatencyStats.of(np.zeros(0, dtype=np.int64))
    if n:
        isum.ts_local_first, isum.ts_local_last = int(ts[0]), int(ts[-1])
    summary.messages += n
    if store is not None:
        summary.files_written += write_channel(store, inst, channel, columns)
    return isum
