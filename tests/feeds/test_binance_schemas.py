"""Binance payload decoders on the raw JSON their docstrings show, stream classification,
the venue table; property: the payload-slice fast path and the whole-message decode agree."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftlab.events import NO_ID, ContractType
from hftlab.feeds.binance.instruments import (
    default_contract_size,
    instrument,
    split_symbol,
    venue_of_url,
)
from hftlab.feeds.binance.schemas import (
    DECODE_ERRORS,
    AggTrade,
    BookTicker,
    DepthUpdate,
    StreamKind,
    Trade,
    classify_stream,
    decode_payload,
    decode_snapshot,
    stream_info,
)


def _line(stream: str, payload: str) -> bytes:
    return f'{{"stream":"{stream}","data":{payload}}}'.encode()


def test_payloads_as_recorded() -> None:
    spot_depth = (
        '{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,'
        '"b":[["61737.63000000","0.00000000"]],"a":[["61837.64000000","1.54698000"]]}'
    )
    d = decode_payload(
        stream_info(b"btcusdt@depth@100ms"), _line("btcusdt@depth@100ms", spot_depth)
    )
    assert isinstance(d, DepthUpdate) and (d.U, d.u, d.pu, d.T) == (
        50093239189,
        50093239202,
        NO_ID,
        0,
    )
    assert json.loads(bytes(d.b)) == [["61737.63000000", "0.00000000"]]
    fut = (
        '{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507",'
        '"a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}'
    )
    k = decode_payload(stream_info(b"btcusdt@bookTicker"), _line("btcusdt@bookTicker", fut))
    assert k == BookTicker(u=5123107839020, b=61800.2, B=2.507, a=61800.3, A=2.51,
                           E=1723161256313, T=1723161256313)  # fmt: skip
    t = decode_payload(
        stream_info(b"btcusdt@trade"),
        _line("btcusdt@trade", '{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"61800.30",'
              '"q":"0.006","X":"MARKET","m":false,"T":2}'),
    )  # fmt: skip
    assert t == Trade(E=1, t=5, p=61800.3, q=0.006, m=False, T=2)
    a = decode_payload(
        stream_info(b"ctkusdt@aggTrade"),
        b'{"stream": "ctkusdt@aggTrade", "data": {"e":"aggTrade","E":1626992741575,'
        b'"a":16599292,"s":"CTKUSDT","p":"1.01100","q":"10","f":1,"l":1,"T":3,"m":false}}',
    )  # spaced: not the plain layout, decoded as a whole message
    assert a == AggTrade(E=1626992741575, a=16599292, p=1.011, q=10.0, m=False, T=3)
    s = decode_snapshot(b'{"lastUpdateId":6,"E":1,"T":2,"bids":[["7.6110","6"]],"asks":[]}')
    assert (s.lastUpdateId, s.E, s.T) == (6, 1, 2)
    with pytest.raises(DECODE_ERRORS):
        decode_payload(stream_info(b"btcusdt@trade"), _line("btcusdt@trade", '{"E":"x"}'))
    with pytest.raises(DECODE_ERRORS):
        decode_payload(stream_info(b"btcusdt@kline_1m"), _line("btcusdt@kline_1m", "{}"))


def test_classify_stream() -> None:
    assert classify_stream("btcusdt@depth@0ms") == (StreamKind.DEPTH, "BTCUSDT", "depth")
    assert classify_stream("btcusd_perp@aggTrade")[:2] == (StreamKind.AGG_TRADE, "BTCUSD_PERP")
    assert classify_stream("btcusdt@kline_1m") == (StreamKind.IGNORED, "BTCUSDT", "kline")
    assert classify_stream("btcusdt@depth20@100ms")[0] is StreamKind.IGNORED
    assert classify_stream("btcusdt@mystery") == (StreamKind.UNKNOWN, "BTCUSDT", "mystery")
    assert classify_stream("nothing")[0] is StreamKind.UNKNOWN


def test_venue_table_and_instruments() -> None:
    assert venue_of_url("wss://fstream.binance.com/stream?streams=x") == "binance-futures"
    assert venue_of_url("https://dapi.binance.com/dapi/v1/depth?symbol=X") == "binance-delivery"
    assert venue_of_url("https://www.binance.com/api/v1/depth?symbol=X") == "binance"
    assert venue_of_url("wss://ws.kraken.com") is None
    assert default_contract_size("binance-delivery", "BTCUSD_PERP") == 100.0
    assert default_contract_size("binance-delivery", "ETHUSD_PERP") == 10.0
    assert split_symbol("BTCUSD_PERP") == ("BTC", "USD") and split_symbol("XYZ") == ("", "")
    i = instrument("binance-delivery", "ETHUSD_PERP", tick_size=0.01, lot_size=1)
    assert (i.contract_type, i.contract_size, i.base) == (ContractType.INVERSE, 10.0, "ETH")
    assert instrument("deribit", "X", tick_size=0.5, lot_size=1).contract_type is ContractType.SPOT


_prices = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False).map(str)


@given(
    U=st.integers(0, 2**62),
    n=st.integers(0, 2**20),
    levels=st.lists(st.tuples(_prices, _prices), max_size=5),
    extra=st.booleans(),
)
def test_fast_path_and_whole_message_agree(U: int, n: int, levels: list, extra: bool) -> None:
    payload = {"e": "depthUpdate", "E": 1, "s": "X", "U": U, "u": U + n, "b": levels, "a": []}
    info = stream_info(b"x@depth")
    plain = _line("x@depth", json.dumps(payload, separators=(",", ":")))
    msg = {"stream": "x@depth", "data": payload} | ({"extra": 1} if extra else {})
    spaced = json.dumps(msg).encode()
    a, b = decode_payload(info, plain), decode_payload(info, spaced)
    assert (a.U, a.u, bytes(a.b)) == (U, U + n, bytes(msgspec.json.encode(levels)))
    assert (b.U, b.u) == (a.U, a.u) and json.loads(bytes(b.b)) == json.loads(bytes(a.b))
