"""Shared pieces of the importers: summaries, instrument inference, input files, writing."""

from __future__ import annotations

import bz2
import gzip
import io
import logging
import lzma
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np

from hftlab.data.store import Store
from hftlab.errors import DataError, InstrumentError
from hftlab.events import GRID_TOLERANCE, Channel, ContractType, Instrument
from hftlab.feeds.binance.instruments import instrument

log = logging.getLogger("hftlab.import")

#: Contract type of the other venues of Tardis files (Binance's are in the Binance venue
#: table); anything else defaults to spot.
_CONTRACT_BY_VENUE: Final = {
    "binance-us": ContractType.SPOT,
    "bitmex": ContractType.INVERSE,
    "deribit": ContractType.INVERSE,
    "huobi-dm-swap": ContractType.INVERSE,
    "huobi-dm": ContractType.INVERSE,
    "okex-swap": ContractType.INVERSE,
    "bybit": ContractType.INVERSE,
}

_READ_CHUNK: Final = 1 << 22


# ----------------------------------------------------------------------------- summaries
@dataclass
class LatencyStats:
    """Feed latency ``ts_local - ts_exchange`` in ns over rows with a real venue time."""

    count: int = 0
    negative: int = 0
    min: int | None = None
    p1: int | None = None
    p50: int | None = None
    p99: int | None = None
    max: int | None = None

    @classmethod
    def of(cls, latency: np.ndarray) -> LatencyStats:
        if latency.size == 0:
            return cls()
        q = np.percentile(latency, [1, 50, 99], method="nearest")
        return cls(
            count=int(latency.size),
            negative=int(np.count_nonzero(latency < 0)),
            min=int(latency.min()),
            p1=int(q[0]),
            p50=int(q[1]),
            p99=int(q[2]),
            max=int(latency.max()),
        )


@dataclass
class BookValidation:
    """Reconstructed top of book against the venue's own BBO, matched by update id."""

    compared: int = 0  # BBO rows whose update id equals an applied book update id
    matched: int = 0  # ... whose bid/ask price and size equal the book's
    bbo_rows: int = 0
    book_updates: int = 0  # synced book states (applied update groups)
    crossed: int = 0  # synced book states with best bid >= best ask
    mismatches: list[str] = field(default_factory=list)  # a few examples

    @property
    def match_pct(self) -> float | None:
        return None if self.compared == 0 else 100.0 * self.matched / self.compared


@dataclass
class InstrumentSummary:
    """What one import produced for one instrument."""

    instrument: Instrument
    rows: dict[str, int] = field(default_factory=dict)  # e.g. "depth.update", "trade", "bbo"
    gaps: int = 0
    resyncs: int = 0
    stale: int = 0
    snapshots: int = 0
    snapshots_used: int = 0
    crossed: int = 0
    latency: LatencyStats = field(default_factory=LatencyStats)
    validation: BookValidation | None = None
    ts_local_first: int | None = None
    ts_local_last: int | None = None
    tick_inferred: bool = True
    lot_inferred: bool = True

    @property
    def key(self) -> str:
        return self.instrument.key


@dataclass
class ImportSummary:
    """Result of one import: per instrument rows, book health, latency; skipped input."""

    format: str
    files: list[str] = field(default_factory=list)
    lines: int = 0
    messages: int = 0
    instruments: list[InstrumentSummary] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # by stream/message type
    bad_lines: int = 0
    warnings: list[str] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def gaps(self) -> int:
        return sum(i.gaps for i in self.instruments)

    @property
    def resyncs(self) -> int:
        return sum(i.resyncs for i in self.instruments)

    @property
    def crossed(self) -> int:
        return sum(i.crossed for i in self.instruments)

    def instrument(self, symbol: str, venue: str | None = None) -> InstrumentSummary:
        for s in self.instruments:
            if s.instrument.symbol == symbol and (venue is None or s.instrument.venue == venue):
                return s
        raise KeyError(symbol)

    def warn(self, message: str, limit: int = 50) -> None:
        """Log and keep a warning (only the first ``limit`` are kept)."""
        log.warning(message)
        if len(self.warnings) < limit:
            self.warnings.append(message)

    def count_ignored(self, what: str, n: int = 1) -> None:
        self.ignored[what] = self.ignored.get(what, 0) + n


@dataclass
class ImportOptions:
    """Knobs shared by the importers."""

    venue: str | None = None
    tick_size: float | None = None
    lot_size: float | None = None
    contract_size: float | None = None
    validate: bool = True
    skip_bad_lines: bool = False


# ----------------------------------------------------------------------------- instruments
def _on_grid(v: np.ndarray, scale: float) -> tuple[bool, np.ndarray]:
    """Whether every ``v * scale`` is an integer (within the grid tolerance); the integers."""
    x = v * scale
    r = np.rint(x)
    return bool(np.all(np.abs(x - r) <= GRID_TOLERANCE * np.maximum(1.0, x * 1e-9))), r


def infer_step(values: np.ndarray, *, max_decimals: int = 12) -> float | None:
    """The coarsest decimal step every value is a multiple of (None if there are no values).

    The finest number of decimals ``k`` that puts every value on the ``10**-k`` grid is found
    first, then the GCD of the scaled integers: prices 0.5, 1.0, 2.5 give 0.5, not 0.1. The
    result is the finest step *seen*, which may be coarser than the venue's true step when the
    data never uses it; pass an explicit size when that matters.
    """
    v = np.abs(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return None
    vmax = float(v.max())
    probe = v[:: v.size // 4096 + 1]  # a grid that misses one of these misses the whole set
    for k in range(max_decimals + 1):
        if vmax * 10.0**k > 2.0**62:
            break
        if not _on_grid(probe, 10.0**k)[0]:
            continue
        ok, r = _on_grid(v, 10.0**k)
        if ok:
            ints = r.astype(np.int64)
            # With one or two distinct values a GCD says nothing about the grid (a single
            # price 8531.5 is not a tick): fall back to the decimal resolution. (A third
            # distinct value is one that is neither the least nor the largest; no sort needed,
            # and repeats do not change a GCD.)
            lo, hi = ints.min(), ints.max()
            three = bool(np.any((ints != lo) & (ints != hi)))
            g = int(np.gcd.reduce(ints)) if three else 1
            return float(Decimal(g) / Decimal(10**k))
    raise InstrumentError(
        f"values are not on any decimal grid up to {max_decimals} decimals (e.g. {v[0]!r})"
    )


def make_instrument(
    venue: str,
    symbol: str,
    prices: np.ndarray,
    qtys: np.ndarray,
    *,
    tick_size: float | None = None,
    lot_size: float | None = None,
    contract_size: float | None = None,
) -> tuple[Instrument, bool, bool]:
    """Instrument spec from explicit sizes or inferred from the data; (inst, tick?, lot?)."""
    tick = tick_size if tick_size is not None else infer_step(prices)
    lot = lot_size if lot_size is not None else infer_step(qtys)
    inst = instrument(
        venue,
        symbol,
        tick_size=tick if tick is not None else 1e-8,
        lot_size=lot if lot is not None else 1e-8,
        contract_size=contract_size,
        contract_type=_CONTRACT_BY_VENUE.get(venue),
    )
    return inst, tick_size is None, lot_size is None


def _sample(values: np.ndarray, n: int) -> np.ndarray:
    return values if values.shape[0] <= n else values[:: values.shape[0] // n + 1]


def csv_instrument_summary(
    venue: str,
    symbol: str,
    prices: np.ndarray,
    qtys: np.ndarray,
    path: Path,
    opts: ImportOptions,
) -> InstrumentSummary:
    """Check a CSV import's prices/sizes and start its summary with the (inferred) instrument.

    Negative or non-finite values raise :class:`DataError` naming ``path`` and ``symbol``.
    """
    if np.any(~np.isfinite(prices) | (prices < 0) | ~np.isfinite(qtys) | (qtys < 0)):
        raise DataError(f"{symbol}: negative or non-finite prices/sizes", path=path)
    inst, tick_inf, lot_inf, _, _ = instrument_for(
        venue,
        symbol,
        prices,
        qtys,
        str(path),
        tick_size=opts.tick_size,
        lot_size=opts.lot_size,
        contract_size=opts.contract_size,
    )
    return InstrumentSummary(instrument=inst, tick_inferred=tick_inf, lot_inferred=lot_inf)


def instrument_for(
    venue: str,
    symbol: str,
    prices: np.ndarray,
    qtys: np.ndarray,
    source: str,
    *,
    tick_size: float | None = None,
    lot_size: float | None = None,
    contract_size: float | None = None,
) -> tuple[Instrument, bool, bool, np.ndarray, np.ndarray]:
    """Instrument (explicit or inferred sizes) and every price/qty in ticks/lots.

    Sizes are inferred from a sample first (the conversion of every value then checks them)
    and a size from all values only if some value is off its sampled grid. Returns
    ``(instrument, tick_inferred, lot_inferred, price_ticks, qty_lots)``; a value off an
    explicit grid raises :class:`DataError` naming ``source``.
    """
    sp, sq = _sample(prices, 65_536), _sample(qtys, 65_536)
    sizes = {"tick_size": tick_size, "lot_size": lot_size, "contract_size": contract_size}
    inst, tick_inf, lot_inf = make_instrument(venue, symbol, sp, sq, **sizes)
    ticks = _steps_or_none(inst.price_to_ticks, prices)
    lots = _steps_or_none(inst.qty_to_lots, qtys)
    if ticks is None or lots is None:
        # Off the grid of the sample: infer that size from every value (an explicit size stays
        # as given and its error is reported).
        inst, tick_inf, lot_inf = make_instrument(
            venue, symbol, prices if ticks is None else sp, qtys if lots is None else sq, **sizes
        )
        try:
            ticks = inst.price_to_ticks(prices) if ticks is None else ticks
            lots = inst.qty_to_lots(qtys) if lots is None else lots
        except InstrumentError as exc:
            raise DataError(
                str(exc), path=source, hint="check --tick-size/--lot-size (or omit them)"
            ) from None
    return inst, tick_inf, lot_inf, ticks, lots


def _steps_or_none(
    to_steps: Callable[[np.ndarray], np.ndarray], values: np.ndarray
) -> np.ndarray | None:
    try:
        return to_steps(values)
    except InstrumentError:
        return None


# ----------------------------------------------------------------------------- input files
def _zip_member(path: Path) -> io.BufferedIOBase:
    zf = zipfile.ZipFile(path)
    names = [n for n in zf.namelist() if not n.endswith("/")]
    if len(names) != 1:
        raise DataError(f"zip archive holds {len(names)} files, expected one", path=path)
    return zf.open(names[0])  # type: ignore[return-value]


def open_binary(path: str | Path) -> io.BufferedIOBase:
    """Open a file for reading bytes, decompressing gzip/bz2/xz/zip by their magic bytes."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            magic = fh.read(6)
    except FileNotFoundError:
        raise DataError("file not found", path=p) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path=p) from None
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(p, "rb")  # type: ignore[return-value]
    if magic[:3] == b"BZh":
        return bz2.open(p, "rb")  # type: ignore[return-value]
    if magic[:6] == b"\xfd7zXZ\x00":
        return lzma.open(p, "rb")  # type: ignore[return-value]
    if magic[:4] == b"PK\x03\x04":
        return _zip_member(p)
    if magic[:4] == b"\x28\xb5\x2f\xfd":
        raise DataError(
            "zstd-compressed input is not supported", path=p, hint="decompress it first"
        )
    return p.open("rb")


_DECOMPRESS_ERRORS: Final = (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, OSError,
                             zipfile.BadZipFile)  # fmt: skip


def iter_line_batches(path: str | Path) -> Iterator[list[bytes]]:
    """Yield the lines of a (possibly compressed) file in batches, without line endings.

    A truncated or corrupt compressed file raises :class:`DataError` naming the file and the
    line reached; the lines before it have been yielded already.
    """
    lines_done = 0
    rest = b""
    try:
        fh = open_binary(path)
    except _DECOMPRESS_ERRORS as exc:
        raise DataError(f"cannot open: {exc}", path=path) from None
    with fh:
        while True:
            try:
                chunk = fh.read(_READ_CHUNK)
            except _DECOMPRESS_ERRORS as exc:
                raise DataError(
                    f"truncated or corrupt compressed data after line {lines_done} ({exc})",
                    path=path,
                    row=lines_done + 1,
                    hint="re-download or re-copy the file",
                ) from None
            if not chunk:
                break
            data = rest + chunk
            lines = data.split(b"\n")
            rest = lines.pop()
            if lines:
                if lines[-1].endswith(b"\r") or lines[0].endswith(b"\r"):
                    lines = [ln.rstrip(b"\r") for ln in lines]
                lines_done += len(lines)
                yield lines
    if rest.strip():
        yield [rest.rstrip(b"\r")]


# ----------------------------------------------------------------------------- writing
def write_channel(
    store: Store, inst: Instrument, channel: Channel, columns: Mapping[str, Any]
) -> list[str]:
    """Write one channel's columns (already in ts_local order); return the files written."""
    n = len(next(iter(columns.values())))
    if n == 0:
        return []
    with store.writer(inst, channel) as w:
        w.write(columns)
    return [str(p) for p in w.files_written]


def stable_order(ts_local: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Permutation sorting by (ts_local, src): arrival time, ties kept in input order."""
    return np.lexsort((src, ts_local))
