"""Raw Binance WebSocket + REST captures: the hftbacktest and cryptofeed file layouts.

This module reads the file layouts only. Decoding is :mod:`hftlab.feeds.binance.schemas`'s, and
each symbol's payloads, merged over the files of one recording in arrival order, run through
the same incremental normaliser the live recorder uses
(:mod:`hftlab.feeds.binance.normalise`: book sync, depth/trade/bbo rows, inferred venue times).
What is left here is the recording-wide part: the venue of each symbol, ``@aggTrade`` only when
a symbol has no ``@trade``, tick/lot inference, book validation, the latency report, writing.

Layouts (detected from the first lines of each file)
----------------------------------------------------
hftbacktest
    One message per line, ``<local_ts> <json>``; ``local_ts`` an integer in ns (2024+) or µs
    (2023), detected from its magnitude (:func:`hftlab.units.epoch_unit_ns`). The JSON is a
    combined-stream message or, once per file pair, the bare REST depth snapshot (logged when
    the response arrived)::

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
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np

from hftlab.data.importers._common import (
    ImportOptions,
    ImportSummary,
    InstrumentSummary,
    LatencyStats,
    instrument_for,
    iter_line_batches,
    write_channel,
)
from hftlab.data.importers.validate import validate_book
from hftlab.data.store import Store
from hftlab.errors import DataError
from hftlab.events import FLAG_TS_INFERRED, FLAG_UNSYNCED, NO_ID, Channel, EventKind
from hftlab.feeds.binance._infer import infer_ts_by_update_id
from hftlab.feeds.binance.instruments import VENUE_COINM, VENUE_SPOT, VENUE_USDM, venue_of_url
from hftlab.feeds.binance.normalise import Rows, normaliser_for
from hftlab.feeds.binance.schemas import (
    DECODE_ERRORS,
    MESSAGE_DECODERS,
    MSG_PREFIX,
    SNAPSHOT_DECODER,
    DepthSnapshot,
    DepthUpdate,
    StreamInfo,
    StreamKind,
    classify_stream,
    stream_info,
)
from hftlab.units import NS_PER_S, epoch_unit_ns

__all__ = [
    "CaptureParser",
    "classify_stream",
    "finish_capture",
    "import_binance_capture",
    "infer_ts_by_update_id",
    "venue_of_url",
]

# The names bench/import_speed.py measures the importer's own decoders with.
K_DEPTH: Final = StreamKind.DEPTH
K_IGNORED: Final = StreamKind.IGNORED
K_UNKNOWN: Final = StreamKind.UNKNOWN
_DECODERS: Final = MESSAGE_DECODERS
_DEC_SNAPSHOT: Final = SNAPSHOT_DECODER


class _AnyMsg(msgspec.Struct, gc=False):
    stream: str
    data: msgspec.Raw


_DEC_ANY = msgspec.json.Decoder(_AnyMsg)
_DEC_GENERIC = msgspec.json.Decoder()

#: Messages fed to the normaliser at a time (its work is vectorised per batch).
_BATCH: Final = 1 << 16


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
    """Everything received for one symbol: payload structs per stream, as received."""

    symbol: str
    venue_hint: str | None = None
    depth: _Raw = field(default_factory=_Raw)  # DepthUpdate and DepthSnapshot
    trade: _Raw = field(default_factory=_Raw)
    agg: _Raw = field(default_factory=_Raw)
    ticker: _Raw = field(default_factory=_Raw)

    def raw(self, kind: StreamKind) -> _Raw:
        if kind is StreamKind.DEPTH:
            return self.depth
        if kind is StreamKind.TRADE:
            return self.trade
        return self.agg if kind is StreamKind.AGG_TRADE else self.ticker

    def add_snapshot(self, ts: int, src: int, s: DepthSnapshot) -> None:
        self.depth.ts.append(ts)
        self.depth.src.append(src)
        self.depth.obj.append(s)

    @property
    def futures_seen(self) -> bool:
        """Futures payloads: diffs with ``pu``, tickers or snapshots with ``E``."""
        return (
            any(type(o) is DepthUpdate and o.pu != NO_ID for o in self.depth.obj[:50])
            or any(o.E for o in self.ticker.obj[:50])
            or any(type(o) is DepthSnapshot and o.E for o in self.depth.obj)
        )

    def extend(self, other: _SymbolData) -> None:
        self.depth.extend(other.depth)
        self.trade.extend(other.trade)
        self.agg.extend(other.agg)
        self.ticker.extend(other.ticker)
        self.venue_hint = self.venue_hint or other.venue_hint


#: Per stream name: its payload decoder (None if not stored), the ts, src and payload lists
#: it appends to, and its info.
_StreamEntry = tuple[
    Callable[[bytes, int], Any] | None, list[int], list[int], list[Any], StreamInfo
]

_TS_MAX: Final = 2**63 - 1  # ns stamps are int64
_SRC_SHIFT: Final = 40  # src = file index << 40 | line number: a global arrival order


def _ignored_label(info: StreamInfo) -> str:
    return f"unknown:{info.what}" if info.kind is StreamKind.UNKNOWN else info.what


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
                    mult = epoch_unit_ns(raw_ts) if raw_ts >= 0 else 0
                    if not mult:
                        raise DataError(
                            f"timestamp {raw_ts} is not an epoch time", path=path, row=lineno
                        )
                ts = raw_ts * mult
                if ts > _TS_MAX:
                    self._bad(path, lineno, f"timestamp {raw_ts} out of range")
                    continue
                if ts < prev_ts:
                    raise DataError(
                        f"local timestamp goes back in time ({ts} after {prev_ts} ns)",
                        path=path,
                        row=lineno,
                        hint="captures must be in arrival order",
                    )
                prev_ts = ts
                if line.startswith(MSG_PREFIX, sp + 1):
                    name = line[sp + 12 : line.find(b'"', sp + 12)]
                    entry = streams.get(name)
                    if entry is None:
                        entry = self._stream_entry(name, None, path, lineno)
                    decode, ts_l, src_l, obj_l, _ = entry
                    if decode is None:
                        handle(entry, ts, src_base | lineno, line[sp + 1 :], path, lineno)
                        continue
                    # The hot path: decode the payload slice; three appends.
                    try:
                        data = decode(line, sp + 1)
                    except DECODE_ERRORS as exc:
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
                snap = self._decode(SNAPSHOT_DECODER, body, path, lno, "REST snapshot")
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
                if ts < 0 or ts > _TS_MAX:
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
                elif body.startswith(MSG_PREFIX):
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
        _, ts_l, src_l, obj_l, info = entry
        self.summary.messages += 1
        if info.message is None:
            # Ignored or unknown stream: still check that the line is JSON.
            what = _ignored_label(info)
            if self._decode(_DEC_ANY, body, path, lineno, what) is not None:
                self.summary.count_ignored(what)
            return
        try:
            msg = info.message.decode(body)
        except DECODE_ERRORS as exc:
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
        info = stream_info(name)
        if info.decode is None:
            if info.kind is StreamKind.UNKNOWN:
                sname = name.decode("utf-8", "replace")
                self.summary.warn(f"{path}:{lineno}: unknown stream {sname!r} ignored")
            entry: _StreamEntry = (None, [], [], [], info)
        else:
            raw = self._symbol(venue, info.symbol).raw(info.kind)
            entry = (info.decode, raw.ts, raw.src, raw.obj, info)
            self._stream_symbols[name] = info.symbol
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
        snap = self._decode(SNAPSHOT_DECODER, body, path, lineno, "REST snapshot")
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


def _seconds_to_ns(raw: bytes) -> int:
    """``b"1633998512.0633569"`` -> ns exactly (no float rounding); -1 if malformed."""
    whole, _, frac = raw.partition(b".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return -1
    return int(whole) * NS_PER_S + int((frac + b"000000000")[:9])


def _symbol_from_filename(path: Path) -> str:
    m = re.match(r"([A-Za-z0-9]+(?:_[A-Za-z]+)?)[_-]\d{8}", path.name)
    return m.group(1).upper() if m else ""


# ----------------------------------------------------------------------------- per symbol
def _arrival_order(data: _SymbolData, trades: _Raw) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """A symbol's depth, trade and ticker payloads merged in arrival order (ts_local, then
    file and line): payloads, ts_local, arrival keys."""
    streams = (data.depth, trades, data.ticker)
    ts = np.concatenate([np.array(s.ts, dtype=np.int64) for s in streams])
    src = np.concatenate([np.array(s.src, dtype=np.int64) for s in streams])
    order = np.lexsort((src, ts))
    objs = data.depth.obj + trades.obj + data.ticker.obj
    return list(map(objs.__getitem__, order.tolist())), ts[order], src[order]


def _import_symbol(
    data: _SymbolData,
    venue: str,
    store: Store | None,
    opts: ImportOptions,
    summary: ImportSummary,
    source: str,
    where: Callable[[int], tuple[str, int]],
) -> InstrumentSummary:
    """Normalise, validate and write one symbol's data (merged over all input files).

    ``where`` maps an arrival key (``src``) back to (file, line) for error messages.
    """
    use_agg = not data.trade.obj and bool(data.agg.obj)
    if data.trade.obj and data.agg.obj:
        summary.count_ignored("aggTrade (trade stream present)", len(data.agg))
    norm = normaliser_for(venue, data.symbol, agg_trades=use_agg, locate=where)
    msgs, ts, src = _arrival_order(data, data.agg if use_agg else data.trade)
    parts = [
        norm.feed(ts[a : a + _BATCH], msgs[a : a + _BATCH], src[a : a + _BATCH])
        for a in range(0, len(msgs), _BATCH)
    ]
    rows = Rows.concat([*parts, norm.flush()])
    depth, trade, bbo = rows.depth, rows.trade, rows.bbo
    kind, flags = depth["kind"], depth["flags"]
    n_rows, n_t, n_k = kind.shape[0], trade["ts_local"].shape[0], bbo["ts_local"].shape[0]

    all_p = np.concatenate([depth["price"], trade["price"], bbo["bid_price"], bbo["ask_price"]])
    all_q = np.concatenate([depth["qty"], trade["qty"], bbo["bid_qty"], bbo["ask_qty"]])
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
    k0 = n_rows + n_t
    bbo_ticks = (all_pt[k0 : k0 + n_k], all_ql[k0 : k0 + n_k], all_pt[k0 + n_k :],
                 all_ql[k0 + n_k :])  # fmt: skip

    st = norm.sync.stats
    isum = InstrumentSummary(instrument=inst, tick_inferred=tick_inf, lot_inferred=lot_inf)
    isum.rows = {
        "depth.update": int(np.count_nonzero(kind == EventKind.DEPTH)),
        "depth.snapshot": int(np.count_nonzero(kind == EventKind.SNAPSHOT)),
        "depth.clear": int(np.count_nonzero(kind == EventKind.CLEAR)),
        "depth.unsynced": int(np.count_nonzero(flags & FLAG_UNSYNCED)),
        "trade": n_t,
        "bbo": n_k,
        "bbo.ts_inferred": int(np.count_nonzero(bbo["flags"] & FLAG_TS_INFERRED)),
    }
    if use_agg:
        isum.rows["trade.from_aggTrade"] = n_t
    isum.gaps = st.gaps
    isum.resyncs = st.resyncs
    isum.stale = st.stale
    isum.snapshots = st.snapshots
    isum.snapshots_used = st.snapshots_loaded
    if n_rows:
        v = validate_book(
            depth,
            bbo if n_k else None,
            inst,
            depth_ticks=(all_pt[:n_rows], all_ql[:n_rows]),
            bbo_ticks=bbo_ticks,
        )
        isum.crossed = v.crossed
        isum.validation = v
    isum.latency = LatencyStats.of(norm.latencies())
    firsts = [c["ts_local"][0] for c in (depth, trade, bbo) if c["ts_local"].shape[0]]
    lasts = [c["ts_local"][-1] for c in (depth, trade, bbo) if c["ts_local"].shape[0]]
    isum.ts_local_first = int(min(firsts)) if firsts else None
    isum.ts_local_last = int(max(lasts)) if lasts else None
    if st.gaps:
        summary.warn(f"{inst.key}: {st.gaps} sequence gap(s), {st.resyncs} resync(s)")
    if isum.latency.negative:
        summary.warn(
            f"{inst.key}: {isum.latency.negative} of {isum.latency.count} rows have negative "
            "feed latency (recorder clock behind the venue); kept as recorded"
        )
    if store is not None:
        summary.files_written += write_channel(store, inst, Channel.DEPTH, depth)
        summary.files_written += write_channel(store, inst, Channel.TRADE, trade)
        summary.files_written += write_channel(store, inst, Channel.BBO, bbo)
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
            _import_symbol(data, venue, st, opts, summary, source, parser.where)
        )
    return summary
