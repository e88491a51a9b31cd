"""Raw Binance WebSocket + REST captures: hftbacktest and cryptofeed layouts.

Layouts (detected from the first lines of each file)
----------------------------------------------------
hftbacktest
    One message per line, ``<local_ts> <json>``; ``local_ts`` an integer in ns (2024+) or µs
    (2023), detected from its magnitude. The JSON is a combined-stream message or, once per file
    pair, the bare REST depth snapshot (logged when the response arrived)::

        1723161253937085768 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate",
            "E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,
            "b":[["61737.63000000","0.00000000"]],"a":[["61837.64000000","1.54698000"]]}}
        1723161254087891268 {"stream":"btcusdt@bookTicker","data":{"u":50093239212,
            "s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000",
            "A":"1.54698000"}}
        1723161254206652067 {"lastUpdateId":50093239218,"bids":[["61837.63000000",
            "3.78826000"], ...],"asks":[...]}

    The snapshot line names no symbol: it belongs to the file's only symbol.
cryptofeed
    Text lines with float-second local stamps; ``*.ws.*``/``*.http.*`` file pairs or a single
    file starting with ``configuration: {...}``::

        wss://fstream.binance.com/stream?streams=sushiusdt@aggTrade/... <-> 1626992740.37
        1626992741.06217: {"stream":"sushiusdt@bookTicker","data":{"e":"bookTicker",
            "u":600859600576,"s":"SUSHIUSDT","b":"7.6110","B":"2","a":"7.6120","A":"297",
            "T":1626992741012,"E":1626992741017}}
        https://fapi.binance.com/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000 -> 1626992741.3014:
            {"lastUpdateId":600859605926,"E":1626992741264,"T":1626992741261,"bids":[...]}

Streams stored: ``@depth`` diffs (any speed), ``@trade``, ``@aggTrade`` (only when the capture
has no ``@trade`` for that symbol, to avoid counting trades twice), ``@bookTicker``, and REST
depth snapshots. ``@kline_*``, ``@markPrice*``, partial ``@depthN``, tickers and anything
unknown are counted in ``ImportSummary.ignored`` (unknown names also give a warning).

Venue: ``binance`` (spot), ``binance-futures`` (USD-M), ``binance-delivery`` (COIN-M), from the
connection or REST URL host when the layout has one, else from the payloads (futures diffs carry
``pu``, futures tickers ``E``; COIN-M symbols contain ``_``), or from the ``venue`` option.

Timestamps
----------
``ts_exchange`` is the venue's transaction time ``T`` where the payload has one (futures depth,
ticker and snapshot; trades) and the event time ``E`` otherwise (spot depth). Spot
``bookTicker`` and spot REST snapshots carry no time at all; theirs is inferred and flagged
``FLAG_TS_INFERRED``:

1. arrival time minus the feed latency of the symbol's timestamped messages (depth, trades)
   around it (rolling median of the last 32 ``ts_local - E``), so clock skew is carried over;
2. bracketed by update id: the update happened after the depth batch before it was cut and
   before the depth batch containing its id was published, so the estimate is clamped to
   ``[E(previous batch), E(covering batch)]``.

Book sync
---------
Every symbol's diffs and snapshots run, in arrival order, through
:class:`hftlab.feeds.sync.BookSync`. Depth rows are written as received; diffs received without
a synced book (before the first usable snapshot, after a gap) and stale ones carry
``FLAG_UNSYNCED``; stale diffs and snapshots not needed while in sync also carry
``FLAG_STALE`` (not applied either, but no break of the book). A loaded snapshot is written as
a CLEAR row plus SNAPSHOT rows at the snapshot's arrival time (``FLAG_RESYNC`` after a gap),
followed by the buffered diffs that straddle it, written again at the same ``ts_local`` without
the flag. Reading the depth channel in order and skipping unsynced rows therefore rebuilds the
exact book; the simulator does so (``docs/sim-core.md``, "Gaps in the depth data").
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter, methodcaller
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from hftlab.data.importers._common import (
    VENUE_COINM,
    VENUE_SPOT,
    VENUE_USDM,
    ImportOptions,
    ImportSummary,
    InstrumentSummary,
    LatencyStats,
    instrument_for,
    iter_line_batches,
    stable_order,
    write_channel,
)
from hftlab.data.importers.validate import validate_book
from hftlab.data.store import Store
from hftlab.errors import DataError
from hftlab.events import (
    FLAG_RESYNC,
    FLAG_STALE,
    FLAG_TS_INFERRED,
    FLAG_UNSYNCED,
    NO_ID,
    NS_PER_MS,
    Channel,
    EventKind,
    Side,
)
from hftlab.feeds.sync import BookSync, DiffAction, SnapshotAction

log = logging.getLogger(__name__)

Level = tuple[float, float]
_LEVELS_DECODER = msgspec.json.Decoder(list[Level], strict=False)


# ----------------------------------------------------------------------------- payloads
class DepthUpdate(msgspec.Struct, gc=False):
    """``depthUpdate`` (spot and futures; ``pu``/``T`` futures only)."""

    E: int
    U: int
    u: int
    b: msgspec.Raw  # [[price, qty], ...]: parsed in bulk at the end (see _parse_levels)
    a: msgspec.Raw
    T: int = 0
    pu: int = NO_ID


class DepthSnapshot(msgspec.Struct, gc=False):
    """REST ``/api/v3/depth`` or ``/fapi/v1/depth`` body (``E``/``T`` futures only)."""

    lastUpdateId: int
    bids: msgspec.Raw
    asks: msgspec.Raw
    E: int = 0
    T: int = 0


class Trade(msgspec.Struct, gc=False):
    """``trade``: ``m`` true means the buyer was the maker, so the aggressor sold."""

    E: int
    t: int
    p: float
    q: float
    m: bool
    T: int = 0


class AggTrade(msgspec.Struct, gc=False):
    """``aggTrade``: aggregate id ``a``; ``m`` as in :class:`Trade`."""

    E: int
    a: int
    p: float
    q: float
    m: bool
    T: int = 0


class BookTicker(msgspec.Struct, gc=False):
    """``bookTicker``: no time on spot; ``E``/``T`` on futures."""

    u: int
    b: float
    B: float
    a: float
    A: float
    E: int = 0
    T: int = 0


class _DepthMsg(msgspec.Struct, gc=False):
    data: DepthUpdate


class _TradeMsg(msgspec.Struct, gc=False):
    data: Trade


class _AggMsg(msgspec.Struct, gc=False):
    data: AggTrade


class _TickerMsg(msgspec.Struct, gc=False):
    data: BookTicker


class _AnyMsg(msgspec.Struct, gc=False):
    stream: str
    data: msgspec.Raw


# Prices/quantities are decimal strings: decode them straight to float64 (msgspec parses
# them correctly rounded, so on-grid strings land exactly on the float of the decimal).
_DEC_DEPTH = msgspec.json.Decoder(_DepthMsg, strict=False)
_DEC_TRADE = msgspec.json.Decoder(_TradeMsg, strict=False)
_DEC_AGG = msgspec.json.Decoder(_AggMsg, strict=False)
_DEC_TICKER = msgspec.json.Decoder(_TickerMsg, strict=False)
_DEC_SNAPSHOT = msgspec.json.Decoder(DepthSnapshot, strict=False)
_DEC_ANY = msgspec.json.Decoder(_AnyMsg)
_DEC_GENERIC = msgspec.json.Decoder()

K_DEPTH: Final = 1
K_TRADE: Final = 2
K_AGG: Final = 3
K_TICKER: Final = 4
K_IGNORED: Final = 5
K_UNKNOWN: Final = 6

_DECODERS: Final[dict[int, Any]] = {
    K_DEPTH: _DEC_DEPTH,
    K_TRADE: _DEC_TRADE,
    K_AGG: _DEC_AGG,
    K_TICKER: _DEC_TICKER,
}
#: The payload alone: a message laid out exactly as ``{"stream":"<name>","data":<payload>}``
#: (every Binance combined-stream message) is decoded from the ``<payload>`` slice, skipping
#: the wrapper; anything else goes through the full decoder above.
_DATA_DECODERS: Final[dict[int, Any]] = {
    K_DEPTH: msgspec.json.Decoder(DepthUpdate, strict=False),
    K_TRADE: msgspec.json.Decoder(Trade, strict=False),
    K_AGG: msgspec.json.Decoder(AggTrade, strict=False),
    K_TICKER: msgspec.json.Decoder(BookTicker, strict=False),
}
_DATA_KEY: Final = b'","data":'

_IGNORED_RE = re.compile(
    r"^(kline_\w+|markPrice(@1s)?|depth(5|10|20)(@\d+ms)?|ticker|miniTicker|forceOrder|"
    r"indexPrice(@1s)?|continuousKline_\w+|compositeIndex|avgPrice|ticker_\w+)$"
)
_DEPTH_RE = re.compile(r"^depth(@\d+ms)?$")
_MSG_PREFIX = b'{"stream":"'


def classify_stream(name: str) -> tuple[int, str, str]:
    """``btcusdt@depth@100ms`` -> (kind, SYMBOL, stream type)."""
    sym, _, kind = name.partition("@")
    if not kind:
        return K_UNKNOWN, sym.upper(), name
    if _DEPTH_RE.match(kind):
        return K_DEPTH, sym.upper(), "depth"
    if kind == "trade":
        return K_TRADE, sym.upper(), "trade"
    if kind == "aggTrade":
        return K_AGG, sym.upper(), "aggTrade"
    if kind == "bookTicker":
        return K_TICKER, sym.upper(), "bookTicker"
    if _IGNORED_RE.match(kind):
        return K_IGNORED, sym.upper(), kind.split("@", 1)[0].split("_", 1)[0]
    return K_UNKNOWN, sym.upper(), kind


def venue_of_url(url: str) -> str | None:
    """Venue from a Binance WS/REST URL host or path."""
    if "fstream" in url or "/fapi/" in url:
        return VENUE_USDM
    if "dstream" in url or "/dapi/" in url:
        return VENUE_COINM
    if "binance" in url:
        return VENUE_SPOT
    return None


# ----------------------------------------------------------------------------- accumulation
class _Raw:
    """One stream of one symbol as received: arrival times, arrival order, decoded payloads."""

    __slots__ = ("obj", "src", "ts")

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.src: list[int] = []
        self.obj: list[Any] = []

    def __len__(self) -> int:
        return len(self.ts)

    def extend(self, other: _Raw) -> None:
        self.ts += other.ts
        self.src += other.src
        self.obj += other.obj


@dataclass
class _SymbolData:
    """Everything received for one symbol (payload structs; columns are built at the end)."""

    symbol: str
    venue_hint: str | None = None
    depth: _Raw = field(default_factory=_Raw)  # DepthUpdate and snapshots as DepthUpdate
    snaps: set[int] = field(default_factory=set)  # src of the snapshot entries in depth
    trade: _Raw = field(default_factory=_Raw)
    agg: _Raw = field(default_factory=_Raw)
    ticker: _Raw = field(default_factory=_Raw)

    def raw(self, kind: int) -> _Raw:
        return {K_DEPTH: self.depth, K_TRADE: self.trade, K_AGG: self.agg}.get(kind, self.ticker)

    def add_snapshot(self, ts: int, src: int, s: DepthSnapshot) -> None:
        self.depth.ts.append(ts)
        self.depth.src.append(src)
        self.depth.obj.append(
            DepthUpdate(E=s.E, U=s.lastUpdateId, u=s.lastUpdateId, b=s.bids, a=s.asks, T=s.T)
        )
        self.snaps.add(src)

    @property
    def futures_seen(self) -> bool:
        """Futures payloads: diffs with ``pu``, tickers or snapshots with ``E``."""
        return (
            any(o.pu != NO_ID for o in self.depth.obj[:50])
            or any(o.E for o in self.ticker.obj[:50])
            or any(
                o.E
                for o, src in zip(self.depth.obj, self.depth.src, strict=True)
                if src in self.snaps
            )
        )

    def extend(self, other: _SymbolData) -> None:
        self.depth.extend(other.depth)
        self.snaps |= other.snaps
        self.trade.extend(other.trade)
        self.agg.extend(other.agg)
        self.ticker.extend(other.ticker)
        self.venue_hint = self.venue_hint or other.venue_hint


#: Per stream name:
#: (payload decode function or None if not stored, ts list, src list, payload list,
#: whole-message decode function).
_StreamEntry = tuple[
    Callable[[bytes], Any] | None, list[int], list[int], list[Any], Callable[[bytes], Any] | None
]

_SRC_SHIFT: Final = 40  # src = file index << 40 | line number: a global arrival order


class CaptureParser:
    """Decodes capture files into per-symbol columnar data (no book logic).

    Parameters
    ----------
    summary
        Receives line/message counts, ignored streams and warnings.
    skip_bad_lines
        Count and skip malformed lines instead of raising :class:`DataError`.
    """

    def __init__(self, summary: ImportSummary, *, skip_bad_lines: bool = False) -> None:
        self.summary = summary
        self.skip_bad_lines = skip_bad_lines
        self.symbols: dict[tuple[str | None, str], _SymbolData] = {}
        self._streams: dict[bytes, _StreamEntry] = {}
        self._stream_symbols: dict[bytes, str] = {}
        self._ignored_names: dict[int, str] = {}
        self._keep: list[_StreamEntry] = []  # keeps ids in _ignored_names valid
        self._paths: dict[int, str] = {}
        self._file_index = 0

    # -- public
    def parse_file(self, path: str | Path, *, symbol_hint: str | None = None) -> None:
        """Decode one capture file (layout detected from its content)."""
        self.parse_lines(path, iter_line_batches(path), symbol_hint=symbol_hint)

    def parse_lines(
        self,
        path: str | Path,
        batches: Iterable[list[bytes]],
        *,
        symbol_hint: str | None = None,
    ) -> None:
        """Decode lines (batches of lines without endings) read from ``path``."""
        path = Path(path)
        self._file_index += 1
        self._paths[self._file_index] = str(path)
        self._streams = {}  # a stream's venue may differ between files
        self._stream_symbols = {}
        batches = iter(batches)
        first = next(batches, [])
        while first and not first[0].strip():
            first = first[1:]
        if not first:
            self.summary.warn(f"{path}: empty file")
            return
        head = first[0].lstrip()
        chained = _chain([first], batches)
        if head[:1].isdigit() and b" " in head[:24] and head.split(b" ", 1)[0].isdigit():
            self._parse_hftbacktest(path, chained, symbol_hint)
        elif head.startswith((b"configuration:", b"wss://", b"ws://", b"https://")) or (
            head[:1].isdigit() and b": " in head[:32]
        ):
            self._parse_cryptofeed(path, chained)
        else:
            raise DataError(
                "not a Binance capture (expected '<ns|us> {json}' or cryptofeed lines)",
                path=path,
                row=1,
            )

    # -- layouts
    def _parse_hftbacktest(self, path: Path, batches: Any, symbol_hint: str | None) -> None:
        summary = self.summary
        src_base = self._file_index << _SRC_SHIFT
        mult = 0
        prev_ts = -(2**63)
        lineno = 0
        bare: list[tuple[int, int, bytes]] = []  # snapshots waiting for the file's symbol
        handle = self._handle
        nmsg = 0
        streams = self._streams
        decode_errors = (msgspec.DecodeError, msgspec.ValidationError)
        for lines in batches:
            for line in lines:
                lineno += 1
                sp = line.find(b" ")
                if sp <= 0:
                    if not line.strip():
                        continue
                    self._bad(path, lineno, "expected '<timestamp> <json>'")
                    continue
                try:
                    raw_ts = int(line[:sp])
                except ValueError:
                    self._bad(path, lineno, f"bad timestamp {line[:sp][:30]!r}")
                    continue
                if not mult:
                    mult = _ts_multiplier(raw_ts, path, lineno)
                ts = raw_ts * mult
                if ts < prev_ts:
                    raise DataError(
                        f"local timestamp goes back in time ({ts} after {prev_ts} ns)",
                        path=path,
                        row=lineno,
                        hint="captures must be in arrival order",
                    )
                prev_ts = ts
                if line.startswith(_MSG_PREFIX, sp + 1):
                    end = line.find(b'"', sp + 12)
                    name = line[sp + 12 : end]
                    entry = streams.get(name)
                    if entry is None:
                        entry = self._stream_entry(name, None, path, lineno)
                    ddec, ts_l, src_l, obj_l, dec = entry
                    if ddec is None:
                        handle(entry, ts, src_base | lineno, line[sp + 1 :], path, lineno)
                        continue
                    # The hot path: decode the payload slice; three appends.
                    try:
                        if not line.startswith(_DATA_KEY, end) or line[-1] != 125:  # '}'
                            raise msgspec.DecodeError
                        data = ddec(line[end + 9 : -1])
                    except decode_errors:
                        try:  # not the plain layout (spaces, extra keys): the whole message
                            data = dec(line[sp + 1 :]).data
                        except decode_errors as exc:
                            self._bad(path, lineno, f"malformed {name.decode()} message: {exc}")
                            continue
                    ts_l.append(ts)
                    src_l.append(src_base | lineno)
                    obj_l.append(data)
                    nmsg += 1
                else:
                    self._other(ts, src_base | lineno, line[sp + 1 :], path, lineno, None, bare)
        summary.lines += lineno
        summary.messages += nmsg
        if bare:
            sym = symbol_hint or _symbol_from_filename(path)
            file_syms = set(self._stream_symbols.values())
            if len(file_syms) == 1:
                sym = next(iter(file_syms))
            elif not sym:
                raise DataError(
                    f"REST snapshot line but the file streams {len(file_syms)} symbols "
                    f"({', '.join(sorted(file_syms)) or 'none'}): cannot tell whose book it is",
                    path=path,
                    row=bare[0][1] & ((1 << _SRC_SHIFT) - 1),
                    hint="pass the symbol explicitly",
                )
            data = self._symbol(None, sym)
            for ts, src, body in bare:
                lno = src & ((1 << _SRC_SHIFT) - 1)
                snap = self._decode(_DEC_SNAPSHOT, body, path, lno, "REST snapshot")
                if snap is not None:
                    data.add_snapshot(ts, src, snap)

    def _parse_cryptofeed(self, path: Path, batches: Any) -> None:
        src_base = self._file_index << _SRC_SHIFT
        venue: str | None = None
        prev_ts = -(2**63)
        lineno = 0
        handle = self._handle
        streams = self._streams
        for lines in batches:
            for line in lines:
                lineno += 1
                if not line.strip():
                    continue
                c = line[:1]
                if c.isdigit():
                    colon = line.find(b": ")
                    if colon < 0:
                        self._bad(path, lineno, "expected '<seconds>: <json>'")
                        continue
                    ts = _seconds_to_ns(line[:colon])
                    body = line[colon + 2 :]
                    url = None
                elif line.startswith(b"https://") or line.startswith(b"http://"):
                    arrow = line.find(b" -> ")
                    colon = line.find(b": ", arrow + 4)
                    if arrow < 0 or colon < 0:
                        self._bad(path, lineno, "expected '<url> -> <seconds>: <json>'")
                        continue
                    url = line[:arrow].decode("utf-8", "replace")
                    ts = _seconds_to_ns(line[arrow + 4 : colon])
                    body = line[colon + 2 :]
                elif line.startswith(b"wss://") or line.startswith(b"ws://"):
                    if b" <-> " in line:  # a (re)connection: its URL tells the venue
                        venue = venue_of_url(line.split(b" ", 1)[0].decode("utf-8", "replace"))
                        streams.clear()
                    continue  # '<-' lines are our own subscribe messages
                elif line.startswith(b"configuration:"):
                    continue
                else:
                    self._bad(path, lineno, "unrecognised cryptofeed line")
                    continue
                if ts < 0:
                    self._bad(path, lineno, "bad timestamp")
                    continue
                if ts < prev_ts:
                    raise DataError(
                        f"local timestamp goes back in time ({ts} after {prev_ts} ns)",
                        path=path,
                        row=lineno,
                        hint="captures must be in arrival order",
                    )
                prev_ts = ts
                if url is not None:
                    self._rest(url, ts, src_base | lineno, body, path, lineno)
                elif body.startswith(_MSG_PREFIX):
                    end = body.find(b'"', 11)
                    name = body[11:end]
                    entry = streams.get(name)
                    if entry is None:
                        entry = self._stream_entry(name, venue, path, lineno)
                    handle(entry, ts, src_base | lineno, body, path, lineno)
                else:
                    self._other(ts, src_base | lineno, body, path, lineno, venue, None)
        self.summary.lines += lineno

    # -- messages
    def _handle(
        self,
        entry: _StreamEntry,
        ts: int,
        src: int,
        body: bytes,
        path: Path,
        lineno: int,
    ) -> None:
        _, ts_l, src_l, obj_l, dec = entry
        self.summary.messages += 1
        if dec is None:
            # Ignored or unknown stream: still check that the line is JSON.
            what = self._ignored_names[id(entry)]
            if self._decode(_DEC_ANY, body, path, lineno, what) is not None:
                self.summary.count_ignored(what)
            return
        try:
            msg = dec(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._bad(path, lineno, f"malformed message: {exc}")
            return
        ts_l.append(ts)
        src_l.append(src)
        obj_l.append(msg.data)

    def where(self, src: int) -> tuple[str, int]:
        """(file, line) of an arrival key."""
        return self._paths.get(src >> _SRC_SHIFT, "?"), src & ((1 << _SRC_SHIFT) - 1)

    def _stream_entry(
        self, name: bytes, venue: str | None, path: Path, lineno: int
    ) -> _StreamEntry:
        sname = name.decode("utf-8", "replace")
        kind, sym, what = classify_stream(sname)
        entry: _StreamEntry
        if kind in (K_UNKNOWN, K_IGNORED):
            if kind == K_UNKNOWN:
                self.summary.warn(f"{path}:{lineno}: unknown stream {sname!r} ignored")
                what = f"unknown:{what}"
            entry = (None, [], [], [], None)
            self._ignored_names[id(entry)] = what
            self._keep.append(entry)
        else:
            raw = self._symbol(venue, sym).raw(kind)
            entry = (_DATA_DECODERS[kind].decode, raw.ts, raw.src, raw.obj, _DECODERS[kind].decode)
            self._stream_symbols[name] = sym
        self._streams[name] = entry
        return entry

    def _symbol(self, venue: str | None, symbol: str) -> _SymbolData:
        key = (venue, symbol)
        data = self.symbols.get(key)
        if data is None:
            data = self.symbols[key] = _SymbolData(symbol=symbol, venue_hint=venue)
        return data

    def _other(
        self,
        ts: int,
        src: int,
        body: bytes,
        path: Path,
        lineno: int,
        venue: str | None,
        bare: list[tuple[int, int, bytes]] | None,
    ) -> None:
        """A line that is not ``{"stream":"...`` verbatim: a snapshot, or spaced JSON."""
        self.summary.messages += 1
        try:
            obj = _DEC_GENERIC.decode(body)
        except msgspec.DecodeError as exc:
            self._bad(path, lineno, f"malformed JSON: {exc}")
            return
        if isinstance(obj, dict) and "lastUpdateId" in obj:  # decoded typed later
            if bare is None:
                self._bad(path, lineno, "REST snapshot without its request URL")
                return
            bare.append((ts, src, body))
            return
        if isinstance(obj, dict) and isinstance(obj.get("stream"), str) and "data" in obj:
            name = obj["stream"].encode()
            entry = self._streams.get(name) or self._stream_entry(name, venue, path, lineno)
            self.summary.messages -= 1  # counted again by _handle
            self._handle(entry, ts, src, msgspec.json.encode(obj), path, lineno)
            return
        if isinstance(obj, dict) and ("result" in obj or "id" in obj):
            self.summary.count_ignored("control")  # subscription replies
            return
        self.summary.warn(f"{path}:{lineno}: unrecognised message ignored")
        self.summary.count_ignored("unrecognised")

    def _rest(self, url: str, ts: int, src: int, body: bytes, path: Path, lineno: int) -> None:
        self.summary.messages += 1
        m = re.search(r"[?&]symbol=([A-Za-z0-9_]+)", url)
        if "/depth" not in url or m is None:
            self.summary.count_ignored("rest")
            return
        snap = self._decode(_DEC_SNAPSHOT, body, path, lineno, "REST snapshot")
        if snap is not None:
            self._symbol(venue_of_url(url), m.group(1).upper()).add_snapshot(ts, src, snap)

    def _decode(self, decoder: Any, body: bytes, path: Path, lineno: int, what: str) -> Any:
        try:
            return decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._bad(path, lineno, f"malformed {what}: {exc}")
            return None

    def _bad(self, path: Path, lineno: int, problem: str) -> None:
        if not self.skip_bad_lines:
            raise DataError(problem, path=path, row=lineno, hint="--skip-bad-lines to skip")
        self.summary.bad_lines += 1
        self.summary.warn(f"{path}:{lineno}: {problem} (skipped)")


def _chain(first: list[list[bytes]], rest: Any) -> Any:
    yield from first
    yield from rest


def _ts_multiplier(raw: int, path: Path, lineno: int) -> int:
    """ns per unit of an integer epoch stamp, from its magnitude (ns, µs, ms or s)."""
    if raw >= 10**17:
        return 1
    if raw >= 10**14:
        return 1_000
    if raw >= 10**11:
        return 1_000_000
    if raw >= 10**8:
        return 1_000_000_000
    raise DataError(f"timestamp {raw} is not an epoch time", path=path, row=lineno)


def _seconds_to_ns(raw: bytes) -> int:
    """``b"1633998512.0633569"`` -> ns exactly (no float rounding); -1 if malformed."""
    whole, _, frac = raw.partition(b".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return -1
    return int(whole) * 1_000_000_000 + int((frac + b"000000000")[:9])


def _symbol_from_filename(path: Path) -> str:
    m = re.match(r"([A-Za-z0-9]+(?:_[A-Za-z]+)?)[_-]\d{8}", path.name)
    return m.group(1).upper() if m else ""


# ----------------------------------------------------------------------------- per symbol
def _arr(values: list[Any], dtype: Any) -> np.ndarray:
    return np.asarray(values, dtype=dtype) if values else np.zeros(0, dtype=dtype)


def _field(objs: list[Any], name: str, dtype: Any) -> np.ndarray:
    """One attribute of every payload struct as an array (the fastest pure-Python gather)."""
    return np.fromiter(map(attrgetter(name), objs), dtype, len(objs))


def _rolling_median(x: np.ndarray, window: int) -> np.ndarray:
    """Median of the last ``window`` values at each position (fewer at the start)."""
    n = x.shape[0]
    if n == 0:
        return x
    if n <= window:
        return np.array([np.median(x[: i + 1]) for i in range(n)])
    out = np.empty(n, dtype=np.float64)
    head = min(window - 1, n)
    for i in range(head):
        out[i] = np.median(x[: i + 1])
    view = np.lib.stride_tricks.sliding_window_view(x, window)
    out[window - 1 :] = np.median(view, axis=1)
    return out


def infer_ts_by_update_id(
    ts_local: np.ndarray,
    update_id: np.ndarray,
    sample_ts_local: np.ndarray,
    sample_latency: np.ndarray,
    depth_u: np.ndarray,
    depth_E: np.ndarray,
) -> np.ndarray:
    """Venue time for messages without one (spot bookTicker, spot REST snapshot).

    ``ts_local`` minus the rolling-median feed latency of the timestamped messages received
    before it, clamped to the publication times of the depth batches around its update id.
    """
    n = ts_local.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if sample_latency.shape[0]:
        order = np.argsort(sample_ts_local, kind="stable")
        lat = _rolling_median(sample_latency[order].astype(np.float64), 32)
        j = np.searchsorted(sample_ts_local[order], ts_local, side="right") - 1
        est = ts_local - np.rint(lat[np.maximum(j, 0)]).astype(np.int64)
    else:
        est = ts_local.copy()
    if depth_u.shape[0]:
        order = np.argsort(depth_u, kind="stable")
        du, dE = depth_u[order], depth_E[order]
        k = np.searchsorted(du, update_id, side="left")  # first batch with u >= id
        has_hi = k < du.shape[0]
        hi = np.where(has_hi, dE[np.minimum(k, du.shape[0] - 1)], np.iinfo(np.int64).max)
        has_lo = k > 0
        lo = np.where(has_lo, dE[np.maximum(k - 1, 0)], np.iinfo(np.int64).min)
        est = np.minimum(np.maximum(est, lo), np.maximum(hi, lo))
    return est.astype(np.int64)


_LEVEL_TRANS: Final = bytes.maketrans(b",", b"\n")
_LEVEL_DELETE: Final = b'[]" \t\r'
_CSV_READ = pacsv.ReadOptions(column_names=["v"])
_CSV_CONVERT = pacsv.ConvertOptions(column_types={"v": pa.float64()}, strings_can_be_null=False)


def _parse_levels(
    objs: list[DepthUpdate], srcs: list[int], where: Callable[[int], tuple[str, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bid and ask level counts per message and all levels as an (n, 2) float array.

    Level lists stay raw JSON until here; they are then stripped to one number per line and
    parsed by Arrow's CSV reader in one go, which avoids creating a Python tuple and two floats
    per level (the bulk of the cost for deep diffs and snapshots). Anything that does not parse
    cleanly is located by decoding message by message, for an error naming its file and line.
    """
    n = len(objs)
    # Bid and ask lists alternate; every level opens one '[' inside the list's own bracket.
    parts = list(map(bytes, chain.from_iterable(map(attrgetter("b", "a"), objs))))
    counts = np.fromiter(map(methodcaller("count", b"["), parts), np.int64, 2 * n) - 1
    nb = counts[0::2].copy()
    na = counts[1::2].copy()
    total = int(nb.sum() + na.sum())
    if total == 0:
        return nb, na, np.zeros((0, 2), dtype=np.float64)
    blob = b",".join(parts).translate(_LEVEL_TRANS, _LEVEL_DELETE)
    try:
        col = pacsv.read_csv(
            pa.py_buffer(blob), read_options=_CSV_READ, convert_options=_CSV_CONVERT
        ).column(0)
        ok = col.null_count == 0 and len(col) == 2 * total
        values = col.to_numpy() if ok else None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        values = None
    if values is not None and np.all(np.isfinite(values)) and not np.any(values < 0):
        return nb, na, values.reshape(-1, 2)
    # Slow path: find the culprit message.
    out: list[Level] = []
    for i, o in enumerate(objs):
        for raw in (o.b, o.a):
            try:
                lv = _LEVELS_DECODER.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                path, line = where(srcs[i])
                raise DataError(f"malformed price levels: {exc}", path=path, row=line) from None
            for p, q in lv:
                if not (math.isfinite(p) and math.isfinite(q)) or p < 0 or q < 0:
                    path, line = where(srcs[i])
                    raise DataError(f"invalid price level [{p!r}, {q!r}]", path=path, row=line)
            out += lv
    arr = np.asarray(out, dtype=np.float64).reshape(-1, 2)
    if arr.shape[0] != total:
        # The bracket count was fooled (e.g. '[' inside a string): trust the decoder.
        nb = np.fromiter((len(_LEVELS_DECODER.decode(o.b)) for o in objs), np.int64, n)
        na = np.fromiter((len(_LEVELS_DECODER.decode(o.a)) for o in objs), np.int64, n)
    return nb, na, arr


class _Laps:
    """Debug log of where an import spends its time (``--log-level DEBUG``)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.t = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        log.debug("%s: %.1f ms before %s", self.what, 1e3 * (now - self.t), stage)
        self.t = now


def build_symbol(
    data: _SymbolData,
    venue: str,
    store: Store | None,
    opts: ImportOptions,
    summary: ImportSummary,
    source: str,
    where: Callable[[int], tuple[str, int]],
) -> InstrumentSummary:
    """Sync, validate and write one symbol's data (merged over all input files).

    ``where`` maps an arrival key (``src``) back to (file, line) for error messages.
    """
    futures = venue != VENUE_SPOT
    lap = _Laps(data.symbol)
    # ------------------------------------------------------------ depth messages
    dobj = data.depth.obj
    n_d = len(dobj)
    d_ts = _arr(data.depth.ts, np.int64)
    d_src = _arr(data.depth.src, np.int64)
    nb, na, levels = _parse_levels(dobj, data.depth.src, where)
    nlev = nb + na
    lstart = np.zeros(n_d, dtype=np.int64)
    if n_d:
        lstart[1:] = np.cumsum(nlev)[:-1]
    order = stable_order(d_ts, d_src)
    d_snap = np.isin(d_src, np.fromiter(data.snaps, np.int64, len(data.snaps)))[order]
    d_ts, nb, na, nlev, lstart = d_ts[order], nb[order], na[order], nlev[order], lstart[order]
    d_E = _field(dobj, "E", np.int64)[order]
    d_T = _field(dobj, "T", np.int64)[order]
    d_U = _field(dobj, "U", np.int64)[order]
    d_u = _field(dobj, "u", np.int64)[order]
    d_pu = _field(dobj, "pu", np.int64)[order]

    lap("sync (arrival order)")
    # ------------------------------------------------------------ sync (arrival order)
    sync: BookSync[int] = BookSync(futures=futures)
    em_msg: list[int] = []
    em_ts: list[int] = []
    em_flags: list[int] = []
    U_l, u_l, pu_l, snap_l, ts_l = (
        d_U.tolist(), d_u.tolist(), d_pu.tolist(), d_snap.tolist(), d_ts.tolist()
    )  # fmt: skip
    on_diff = sync.on_diff
    APPLY = DiffAction.APPLY
    STALE = DiffAction.STALE
    REDUNDANT = SnapshotAction.REDUNDANT
    STALE_FLAGS = FLAG_UNSYNCED | FLAG_STALE
    for i in range(len(U_l)):
        if snap_l[i]:
            resync = sync.is_resync_pending
            action, replay = sync.on_snapshot(u_l[i])
            ts = ts_l[i]
            if action is SnapshotAction.LOAD:
                em_msg.append(i)
                em_ts.append(ts)
                em_flags.append(FLAG_RESYNC if resync else 0)
                for j in replay:
                    em_msg.append(j)
                    em_ts.append(ts)
                    em_flags.append(0)
            else:
                em_msg.append(i)
                em_ts.append(ts)
                # Not used; a snapshot arriving while the book is in sync leaves it in sync.
                em_flags.append(STALE_FLAGS if action is REDUNDANT else FLAG_UNSYNCED)
            continue
        a = on_diff(U_l[i], u_l[i], pu_l[i], i)
        em_msg.append(i)
        em_ts.append(ts_l[i])
        # A stale diff (already in the synced book) is not applied, and is no gap.
        em_flags.append(0 if a is APPLY else (STALE_FLAGS if a is STALE else FLAG_UNSYNCED))
    st = sync.stats

    lap("depth rows")
    # ------------------------------------------------------------ depth rows
    em = _arr(em_msg, np.int64)
    em_is_snap = d_snap[em] if em.shape[0] else np.zeros(0, bool)
    counts = nlev[em] + em_is_snap
    rows = int(counts.sum())
    row_em = np.repeat(np.arange(em.shape[0]), counts)
    first_row = np.zeros(em.shape[0], dtype=np.int64)
    if em.shape[0]:
        first_row[1:] = np.cumsum(counts)[:-1]
    pos = np.arange(rows, dtype=np.int64) - first_row[row_em]  # position within the emission
    row_msg = em[row_em]
    row_snap = em_is_snap[row_em]
    is_clear = row_snap & (pos == 0)
    lvl_pos = pos - row_snap  # level index within the message (-1 on the CLEAR row)
    lvl_idx = lstart[row_msg] + np.maximum(lvl_pos, 0)
    price = np.where(is_clear, 0.0, levels[lvl_idx, 0] if rows else 0.0)
    qty = np.where(is_clear, 0.0, levels[lvl_idx, 1] if rows else 0.0)
    side = np.where(lvl_pos < nb[row_msg], Side.BID, Side.ASK).astype(np.int8)
    side[is_clear] = Side.NONE
    kind = np.where(row_snap, EventKind.SNAPSHOT, EventKind.DEPTH).astype(np.uint8)
    kind[is_clear] = EventKind.CLEAR
    flags = _arr(em_flags, np.uint8)[row_em]
    ts_local = _arr(em_ts, np.int64)[row_em]

    # Venue time of each message: T where present, else E, else inferred (spot snapshots).
    msg_tsx = np.where(d_T > 0, d_T, d_E)
    no_time = msg_tsx <= 0
    lap("trades")
    # ------------------------------------------------------------ trades
    use_agg = not data.trade.obj and bool(data.agg.obj)
    if data.trade.obj and data.agg.obj:
        summary.count_ignored("aggTrade (trade stream present)", len(data.agg))
    traw = data.agg if use_agg else data.trade
    tobj = traw.obj
    t_ts_a = _arr(traw.ts, np.int64)
    t_order = stable_order(t_ts_a, _arr(traw.src, np.int64))
    t_ts_a = t_ts_a[t_order]
    t_E_a = _field(tobj, "E", np.int64)[t_order]
    t_T_a = _field(tobj, "T", np.int64)[t_order]
    t_tsx = np.where(t_T_a > 0, t_T_a, t_E_a) * NS_PER_MS
    t_price = _field(tobj, "p", np.float64)[t_order]
    t_qty = _field(tobj, "q", np.float64)[t_order]
    t_m = _field(tobj, "m", np.bool_)[t_order]
    t_side = np.where(t_m, Side.SELL, Side.BUY).astype(np.int8)
    t_ids = _field(tobj, "a" if use_agg else "t", np.int64)[t_order]

    lap("tickers")
    # ------------------------------------------------------------ tickers
    kobj = data.ticker.obj
    n_k = len(kobj)
    k_ts_a = _arr(data.ticker.ts, np.int64)
    k_order = stable_order(k_ts_a, _arr(data.ticker.src, np.int64))
    k_ts_a = k_ts_a[k_order]
    k_E_a = _field(kobj, "E", np.int64)[k_order]
    k_T_a = _field(kobj, "T", np.int64)[k_order]
    k_u_a = _field(kobj, "u", np.int64)[k_order]
    k_v = np.empty((n_k, 4), dtype=np.float64)
    k_v[:, 0] = _field(kobj, "b", np.float64)[k_order]
    k_v[:, 1] = _field(kobj, "B", np.float64)[k_order]
    k_v[:, 2] = _field(kobj, "a", np.float64)[k_order]
    k_v[:, 3] = _field(kobj, "A", np.float64)[k_order]
    k_tsx = np.where(k_T_a > 0, k_T_a, k_E_a) * NS_PER_MS
    k_flags = np.zeros(n_k, dtype=np.uint8)

    lap("inferred venue times")
    # ------------------------------------------------------------ inferred venue times
    diff_mask = ~d_snap & ~no_time
    need_k = k_tsx <= 0
    need_d = no_time
    if need_k.any() or need_d.any():
        s_ts = np.concatenate([d_ts[diff_mask], t_ts_a])
        s_lat = np.concatenate([d_ts[diff_mask] - msg_tsx[diff_mask] * NS_PER_MS, t_ts_a - t_tsx])
        du = d_u[~d_snap]
        dE = msg_tsx[~d_snap] * NS_PER_MS
        if need_k.any():
            k_tsx[need_k] = infer_ts_by_update_id(
                k_ts_a[need_k], k_u_a[need_k], s_ts, s_lat, du, dE
            )
            k_flags[need_k] |= FLAG_TS_INFERRED
        msg_tsx_ns = msg_tsx * NS_PER_MS
        if need_d.any():
            msg_tsx_ns[need_d] = infer_ts_by_update_id(
                d_ts[need_d], d_u[need_d], s_ts, s_lat, du, dE
            )
    else:
        msg_tsx_ns = msg_tsx * NS_PER_MS
    ts_exchange = msg_tsx_ns[row_msg] if rows else np.zeros(0, np.int64)
    if need_d.any():
        flags = flags | np.where(need_d[row_msg], FLAG_TS_INFERRED, 0).astype(np.uint8)

    lap("instrument")
    # ------------------------------------------------------------ instrument
    all_p = np.concatenate([levels[:, 0], t_price, k_v[:, 0], k_v[:, 2]])
    all_q = np.concatenate([levels[:, 1], t_qty, k_v[:, 1], k_v[:, 3]])
    bad = ~np.isfinite(all_p) | ~np.isfinite(all_q) | (all_p < 0) | (all_q < 0)
    if bad.any():
        raise DataError(
            f"{data.symbol}: {int(bad.sum())} negative or non-finite prices/sizes", path=source
        )
    inst, tick_inf, lot_inf, all_pt, all_ql = instrument_for(
        venue,
        data.symbol,
        all_p,
        all_q,
        source,
        tick_size=opts.tick_size,
        lot_size=opts.lot_size,
        contract_size=opts.contract_size,
    )
    nl, nt = levels.shape[0], t_price.shape[0]
    row_pt = np.where(is_clear, 0, all_pt[:nl][lvl_idx]) if rows else all_pt[:0]
    row_ql = np.where(is_clear, 0, all_ql[:nl][lvl_idx]) if rows else all_ql[:0]
    k_ticks = (
        all_pt[nl + nt : nl + nt + n_k],
        all_ql[nl + nt : nl + nt + n_k],
        all_pt[nl + nt + n_k :],
        all_ql[nl + nt + n_k :],
    )

    depth_cols = {
        "ts_exchange": ts_exchange,
        "ts_local": ts_local,
        "kind": kind,
        "side": side,
        "price": price,
        "qty": qty,
        "first_update_id": np.where(is_clear, NO_ID, d_U[row_msg]) if rows else d_U[:0],
        "last_update_id": d_u[row_msg],
        "prev_update_id": d_pu[row_msg],
        "flags": flags,
    }
    bbo_cols = {
        "ts_exchange": k_tsx,
        "ts_local": k_ts_a,
        "bid_price": k_v[:, 0],
        "bid_qty": k_v[:, 1],
        "ask_price": k_v[:, 2],
        "ask_qty": k_v[:, 3],
        "update_id": k_u_a,
        "flags": k_flags,
    }
    trade_cols = {
        "ts_exchange": t_tsx,
        "ts_local": t_ts_a,
        "side": t_side,
        "price": t_price,
        "qty": t_qty,
        "trade_id": t_ids,
        "flags": np.zeros(t_ts_a.shape[0], dtype=np.uint8),
    }

    lap("validation & summary")
    # ------------------------------------------------------------ validation & summary
    isum = InstrumentSummary(instrument=inst, tick_inferred=tick_inf, lot_inferred=lot_inf)
    isum.rows = {
        "depth.update": int(np.count_nonzero(kind == EventKind.DEPTH)),
        "depth.snapshot": int(np.count_nonzero(kind == EventKind.SNAPSHOT)),
        "depth.clear": int(np.count_nonzero(kind == EventKind.CLEAR)),
        "depth.unsynced": int(np.count_nonzero(flags & FLAG_UNSYNCED)),
        "trade": int(t_ts_a.shape[0]),
        "bbo": int(k_ts_a.shape[0]),
        "bbo.ts_inferred": int(np.count_nonzero(k_flags & FLAG_TS_INFERRED)),
    }
    if use_agg:
        isum.rows["trade.from_aggTrade"] = int(t_ts_a.shape[0])
    isum.gaps = st.gaps
    isum.resyncs = st.resyncs
    isum.stale = st.stale
    isum.snapshots = st.snapshots
    isum.snapshots_used = st.snapshots_loaded
    if rows:
        v = validate_book(
            depth_cols,
            bbo_cols if n_k else None,
            inst,
            depth_ticks=(row_pt, row_ql),
            bbo_ticks=k_ticks,
        )
        isum.crossed = v.crossed
        isum.validation = v
    lat_d = (d_ts - msg_tsx_ns)[~need_d]
    lat_k = (k_ts_a - k_tsx)[(k_flags & FLAG_TS_INFERRED) == 0]
    isum.latency = LatencyStats.of(np.concatenate([lat_d, t_ts_a - t_tsx, lat_k]))
    firsts = [a[0] for a in (ts_local, t_ts_a, k_ts_a) if a.shape[0]]
    lasts = [a[-1] for a in (ts_local, t_ts_a, k_ts_a) if a.shape[0]]
    isum.ts_local_first = int(min(firsts)) if firsts else None
    isum.ts_local_last = int(max(lasts)) if lasts else None
    if st.gaps:
        summary.warn(f"{inst.key}: {st.gaps} sequence gap(s), {st.resyncs} resync(s)")
    if isum.latency.negative:
        summary.warn(
            f"{inst.key}: {isum.latency.negative} of {isum.latency.count} rows have negative "
            "feed latency (recorder clock behind the venue); kept as recorded"
        )
    lap("summary")
    if store is not None:
        summary.files_written += write_channel(store, inst, Channel.DEPTH, depth_cols)
        summary.files_written += write_channel(store, inst, Channel.TRADE, trade_cols)
        summary.files_written += write_channel(store, inst, Channel.BBO, bbo_cols)
    lap("write")
    return isum


def _resolve_venue(data: _SymbolData, forced: str | None) -> str:
    if forced:
        return forced
    if data.venue_hint:
        return data.venue_hint
    if "_" in data.symbol:
        return VENUE_COINM
    return VENUE_USDM if data.futures_seen else VENUE_SPOT


def import_binance_capture(
    paths: Sequence[str | Path],
    store: Store | str | Path | None,
    *,
    options: ImportOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportSummary:
    """Import raw Binance captures (hftbacktest or cryptofeed layout) into a store.

    Files given together are one recording: a symbol's messages from all of them (a day pair,
    a cryptofeed ``ws``/``http`` pair) are merged in arrival order and synced as one book.

    Parameters
    ----------
    paths
        Capture files (plain, gzip, bz2, xz).
    store
        Target store (created if missing); None to parse, sync and validate only.
    options
        Venue override, tick/lot sizes, validation and bad-line policy.
    progress
        Called with each file name as it is read.

    Returns
    -------
    ImportSummary
        Rows per kind, gaps, resyncs, crossed-book moments, latency, bookTicker validation.
    """
    opts = options or ImportOptions()
    t0 = time.perf_counter()
    summary = ImportSummary(format="binance-capture", files=[str(p) for p in paths])
    parser = CaptureParser(summary, skip_bad_lines=opts.skip_bad_lines)
    for p in paths:
        if progress:
            progress(str(p))
        parser.parse_file(p)
    finish_capture(parser, store, opts, source=_source_name(paths))
    summary.seconds = time.perf_counter() - t0
    return summary


def _source_name(paths: Sequence[str | Path]) -> str:
    return ", ".join(str(p) for p in paths) if len(paths) <= 3 else f"{len(paths)} files"


def finish_capture(
    parser: CaptureParser,
    store: Store | str | Path | None,
    opts: ImportOptions,
    *,
    source: str,
) -> ImportSummary:
    """Merge what ``parser`` decoded per instrument, sync, validate and write it."""
    summary = parser.summary
    merged: dict[tuple[str, str], _SymbolData] = {}
    for (_, sym), data in parser.symbols.items():
        venue = _resolve_venue(data, opts.venue)
        key = (venue, sym)
        if key in merged:
            merged[key].extend(data)
        else:
            data.venue_hint = venue
            merged[key] = data
    st = None
    if store is not None:
        st = store if isinstance(store, Store) else Store(store, create=True)
    for (venue, _sym), data in sorted(merged.items()):
        summary.instruments.append(
            build_symbol(data, venue, st, opts, summary, source, parser.where)
        )
    return summary
