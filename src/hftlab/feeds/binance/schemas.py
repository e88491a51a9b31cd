"""Binance market-data payloads: msgspec Structs, the stream-name classifier and decoders.

One module for everything that turns Binance bytes into typed payloads, shared by the capture
importer (:mod:`hftlab.data.importers.binance_raw`) and the live recorder. Prices and quantities
are decimal strings on the wire; they are decoded straight to float64 (msgspec parses them
correctly rounded, so an on-grid string lands exactly on the float of the decimal). Depth
level lists stay raw JSON (``msgspec.Raw``) and are parsed in bulk by the normaliser.

Every message of a combined stream is wrapped as ``{"stream":"<name>","data":<payload>}``
(spot ``stream.binance.com``, USD-M ``fstream``, COIN-M ``dstream``); REST depth snapshots are
bare JSON bodies. Field meanings: ``/work/shared/data/BINANCE_FORMATS.md`` §2.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import IntEnum
from typing import Any, Final, NamedTuple

import msgspec

from hftlab.events import NO_ID

__all__ = [
    "AggTrade",
    "BookTicker",
    "DepthSnapshot",
    "DepthUpdate",
    "Payload",
    "StreamInfo",
    "StreamKind",
    "Trade",
    "classify_stream",
    "decode_payload",
    "decode_snapshot",
    "stream_info",
]


class DepthUpdate(msgspec.Struct, gc=False):
    """``<symbol>@depth[@100ms|@0ms]`` diff: new absolute quantity per level, ``"0"`` removes.

    Spot (no ``T``, no ``pu``)::

        {"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,
         "b":[["61737.63000000","0.00000000"]],"a":[["61837.64000000","1.54698000"]]}

    USD-M / COIN-M futures add the transaction time ``T`` and ``pu``, the ``u`` of the
    previous event of the stream (the only valid continuity check: ids are shared by all
    symbols)::

        {"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT",
         "U":5123107832006,"u":5123107837557,"pu":5123107831937,
         "b":[["58710.20","0.014"],["61510.90","0.000"]],"a":[["61800.30","2.510"]]}
    """

    E: int
    U: int
    u: int
    b: msgspec.Raw  # [[price, qty], ...]: parsed in bulk by the normaliser
    a: msgspec.Raw
    T: int = 0
    pu: int = NO_ID


class DepthSnapshot(msgspec.Struct, gc=False):
    """REST depth snapshot body (``/api/v3/depth``, ``/fapi/v1/depth``, ``/dapi/v1/depth``).

    Spot carries no time at all::

        {"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"],...],
         "asks":[["61837.64000000","1.54698000"],...]}

    Futures add the event and transaction times::

        {"lastUpdateId":600859605926,"E":1626992741264,"T":1626992741261,
         "bids":[["7.6110","6"],["7.6080","161"],...],"asks":[["7.6120","297"],...]}
    """

    lastUpdateId: int
    bids: msgspec.Raw
    asks: msgspec.Raw
    E: int = 0
    T: int = 0


class Trade(msgspec.Struct, gc=False):
    """``<symbol>@trade``: ``m`` true means the buyer was the maker, so the aggressor sold::

        {"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000",
         "q":"0.02000000","T":1723161255342,"m":true,"M":true}

    (USD-M adds ``"X":"MARKET"``; spot's ``M`` and the 2023 ``b``/``a`` order ids are not read.)
    """

    E: int
    t: int
    p: float
    q: float
    m: bool
    T: int = 0


class AggTrade(msgspec.Struct, gc=False):
    """``<symbol>@aggTrade``: aggregate id ``a``, first/last trade ids ``f``/``l``; ``m`` as in
    :class:`Trade`::

        {"e":"aggTrade","E":1626992741575,"a":16599292,"s":"CTKUSDT","p":"1.01100","q":"10",
         "f":23961322,"l":23961322,"T":1626992741421,"m":false}
    """

    E: int
    a: int
    p: float
    q: float
    m: bool
    T: int = 0


class BookTicker(msgspec.Struct, gc=False):
    """``<symbol>@bookTicker``: best bid/ask; ``u`` is in the depth stream's id space.

    Spot carries no time at all::

        {"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000",
         "a":"61837.64000000","A":"1.54698000"}

    Futures add ``E`` and ``T``::

        {"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507",
         "a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}
    """

    u: int
    b: float
    B: float
    a: float
    A: float
    E: int = 0
    T: int = 0


#: A decoded payload the normaliser takes.
Payload = DepthUpdate | DepthSnapshot | Trade | AggTrade | BookTicker


class StreamKind(IntEnum):
    """What a combined-stream name carries."""

    DEPTH = 1
    TRADE = 2
    AGG_TRADE = 3
    BOOK_TICKER = 4
    IGNORED = 5  # known but not stored: klines, mark price, partial depth, tickers, ...
    UNKNOWN = 6


class _DepthMsg(msgspec.Struct, gc=False):
    data: DepthUpdate


class _TradeMsg(msgspec.Struct, gc=False):
    data: Trade


class _AggMsg(msgspec.Struct, gc=False):
    data: AggTrade


class _TickerMsg(msgspec.Struct, gc=False):
    data: BookTicker


_PAYLOAD_TYPES: Final[dict[StreamKind, type]] = {
    StreamKind.DEPTH: DepthUpdate,
    StreamKind.TRADE: Trade,
    StreamKind.AGG_TRADE: AggTrade,
    StreamKind.BOOK_TICKER: BookTicker,
}
#: Whole-message decoders (``{"stream":...,"data":...}`` in any layout; ``.data`` is the payload).
MESSAGE_DECODERS: Final[dict[StreamKind, msgspec.json.Decoder[Any]]] = {
    StreamKind.DEPTH: msgspec.json.Decoder(_DepthMsg, strict=False),
    StreamKind.TRADE: msgspec.json.Decoder(_TradeMsg, strict=False),
    StreamKind.AGG_TRADE: msgspec.json.Decoder(_AggMsg, strict=False),
    StreamKind.BOOK_TICKER: msgspec.json.Decoder(_TickerMsg, strict=False),
}
#: Payload-only decoders, for the ``<payload>`` slice of a message laid out exactly as
#: ``{"stream":"<name>","data":<payload>}`` (every Binance combined-stream message): the
#: wrapper is skipped, not decoded.
PAYLOAD_DECODERS: Final[dict[StreamKind, msgspec.json.Decoder[Any]]] = {
    k: msgspec.json.Decoder(t, strict=False) for k, t in _PAYLOAD_TYPES.items()
}
SNAPSHOT_DECODER: Final = msgspec.json.Decoder(DepthSnapshot, strict=False)

#: Errors a decoder raises on a malformed payload.
DECODE_ERRORS: Final = (msgspec.DecodeError, msgspec.ValidationError)

MSG_PREFIX: Final = b'{"stream":"'
_DATA_KEY: Final = b'","data":'

_IGNORED_RE: Final = re.compile(
    r"^(kline_\w+|markPrice(@1s)?|depth(5|10|20)(@\d+ms)?|ticker|miniTicker|forceOrder|"
    r"indexPrice(@1s)?|continuousKline_\w+|compositeIndex|avgPrice|ticker_\w+)$"
)
_DEPTH_RE: Final = re.compile(r"^depth(@\d+ms)?$")
_SIMPLE: Final = {
    "trade": StreamKind.TRADE,
    "aggTrade": StreamKind.AGG_TRADE,
    "bookTicker": StreamKind.BOOK_TICKER,
}


def classify_stream(name: str) -> tuple[StreamKind, str, str]:
    """``"btcusdt@depth@100ms"`` -> ``(StreamKind.DEPTH, "BTCUSDT", "depth")``.

    The third item names the stream type (``depth``, ``trade``, ``aggTrade``, ``bookTicker``;
    for ignored streams their family, e.g. ``kline``; for unknown ones the part after ``@``).
    """
    sym, _, kind = name.partition("@")
    symbol = sym.upper()
    if not kind:
        return StreamKind.UNKNOWN, symbol, name
    if _DEPTH_RE.match(kind):
        return StreamKind.DEPTH, symbol, "depth"
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return simple, symbol, kind
    if _IGNORED_RE.match(kind):
        return StreamKind.IGNORED, symbol, kind.split("@", 1)[0].split("_", 1)[0]
    return StreamKind.UNKNOWN, symbol, kind


class StreamInfo(NamedTuple):
    """A combined-stream name, classified, with its decoders (None for streams not stored)."""

    name: bytes
    kind: StreamKind
    symbol: str
    what: str  # see classify_stream
    #: ``decode(line, start=0)``: the payload Struct of the message ``line[start:]``
    #: (see :func:`decode_payload`).
    decode: Callable[[bytes, int], Payload] | None
    #: The whole-message decoder (``.decode(body).data`` is the payload).
    message: msgspec.json.Decoder[Any] | None


def _payload_decoder(name: bytes, kind: StreamKind) -> Callable[[bytes, int], Payload] | None:
    if kind not in PAYLOAD_DECODERS:
        return None
    payload = PAYLOAD_DECODERS[kind].decode
    message = MESSAGE_DECODERS[kind].decode
    key_at = 11 + len(name)  # the closing quote of the stream name

    def decode(line: bytes, start: int = 0) -> Payload:
        end = start + key_at
        if line.startswith(_DATA_KEY, end) and line[-1] == 125:  # '}'
            try:
                return payload(line[end + 9 : -1])  # type: ignore[no-any-return]
            except DECODE_ERRORS:
                pass
        return message(line[start:] if start else line).data  # type: ignore[no-any-return]

    return decode


def stream_info(name: bytes) -> StreamInfo:
    """Classify a stream name (as bytes, as it appears on the wire) and pick its decoders."""
    kind, symbol, what = classify_stream(name.decode("utf-8", "replace"))
    return StreamInfo(
        name, kind, symbol, what, _payload_decoder(name, kind), MESSAGE_DECODERS.get(kind)
    )


def decode_payload(info: StreamInfo, line: bytes, start: int = 0) -> Payload:
    """The payload Struct of the combined-stream message ``line[start:]`` of stream ``info``.

    The message is decoded from its ``<payload>`` slice when it is laid out exactly as
    ``{"stream":"<name>","data":<payload>}`` and as a whole otherwise (spaces, extra keys).
    ``info.decode(line, start)`` is the same without the check for streams not stored.

    Raises
    ------
    msgspec.DecodeError, msgspec.ValidationError
        Malformed message (see :data:`DECODE_ERRORS`); also for streams not stored.
    """
    if info.decode is None:
        name = info.name.decode("utf-8", "replace")
        raise msgspec.ValidationError(f"stream {name!r} is not stored")
    return info.decode(line, start)


def decode_snapshot(body: bytes) -> DepthSnapshot:
    """A REST depth snapshot body (raises the :data:`DECODE_ERRORS` on malformed input)."""
    return SNAPSHOT_DECODER.decode(body)
