"""Importers of real market data into the store (one module per source format).

=================== ======================================================================
format              input
=================== ======================================================================
``binance-capture`` raw Binance WebSocket + REST captures: hftbacktest ``<ts> <json>`` files
                    and cryptofeed ``*.ws.*``/``*.http.*`` pairs or single files
                    (:mod:`~hftlab.data.importers.binance_raw`)
``binance-csv``     Binance public-data dumps: trades, aggTrades, bookTicker
                    (:mod:`~hftlab.data.importers.binance_csv`)
``tardis-csv``      Tardis-style CSV: trades, quotes, incremental_book_L2, book_snapshot_N
                    (:mod:`~hftlab.data.importers.tardis_csv`)
``auto``            pick one of the above from each file's first line (all files must agree)
=================== ======================================================================

Example
-------
>>> from hftlab.data.importers import import_files          # doctest: +SKIP
>>> s = import_files("binance-capture", ["btcusdt_20240808.gz", "btcusdt_20240809.gz"],
...                  "store/")
>>> s.instrument("BTCUSDT").validation.match_pct
100.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from hftlab.data.importers._common import (
    BookValidation,
    ImportOptions,
    ImportSummary,
    InstrumentSummary,
    LatencyStats,
    infer_step,
    iter_line_batches,
)
from hftlab.data.importers.binance_csv import import_binance_csv
from hftlab.data.importers.binance_raw import import_binance_capture
from hftlab.data.importers.tardis_csv import import_tardis_csv
from hftlab.data.importers.validate import validate_book, validate_store
from hftlab.data.store import Store
from hftlab.errors import ConfigError, DataError

__all__ = [
    "FORMATS",
    "BookValidation",
    "ImportOptions",
    "ImportSummary",
    "InstrumentSummary",
    "LatencyStats",
    "detect_format",
    "import_binance_capture",
    "import_binance_csv",
    "import_files",
    "import_tardis_csv",
    "infer_step",
    "validate_book",
    "validate_store",
]

Importer = Callable[..., ImportSummary]

FORMATS: Final[dict[str, Importer]] = {
    "binance-capture": import_binance_capture,
    "binance-csv": import_binance_csv,
    "tardis-csv": import_tardis_csv,
}


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its first line."""
    batch = next(iter_line_batches(path), [b""])
    head = next((ln for ln in batch if ln.strip()), b"").lstrip()
    if head.startswith(b"exchange,") or b",local_timestamp," in head:
        return "tardis-csv"
    if head.startswith((b"configuration:", b"wss://", b"https://")) or b'{"' in head[:40]:
        return "binance-capture"
    if head[:1].isdigit() and head.count(b",") >= 5 and b"{" not in head:
        return "binance-csv"
    if head[:1].isalpha() and b"," in head:
        text = head.decode("utf-8", "replace")
        if any(k in text for k in ("is_buyer_maker", "update_id", "agg_trade_id")):
            return "binance-csv"
    raise DataError(
        "cannot tell the format from the first line", path=path, hint="pass --format explicitly"
    )


def import_files(
    fmt: str,
    paths: Sequence[str | Path],
    store: Store | str | Path | None,
    *,
    options: ImportOptions | None = None,
    **kwargs: Any,
) -> ImportSummary:
    """Import ``paths`` of format ``fmt`` (see :data:`FORMATS`, or ``auto``) into ``store``.

    Parameters
    ----------
    fmt
        ``binance-capture``, ``binance-csv``, ``tardis-csv`` or ``auto``.
    paths
        Input files. For captures, files given together are one recording (day pairs,
        ws/http pairs).
    store
        Store directory (created if missing) or None for a dry run that only parses, syncs
        and validates.
    options
        :class:`ImportOptions`: venue, tick/lot/contract size overrides, bad-line policy.
    kwargs
        Format-specific options (``symbol``/``dataset`` for ``binance-csv``).

    Returns
    -------
    ImportSummary
    """
    if not paths:
        raise ConfigError("no input files")
    if fmt == "auto":
        found = {detect_format(p) for p in paths}
        if len(found) > 1:
            raise ConfigError(f"input files have different formats ({', '.join(sorted(found))})")
        fmt = found.pop()
    importer = FORMATS.get(fmt)
    if importer is None:
        raise ConfigError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)}, auto)")
    return importer(paths, store, options=options, **kwargs)
