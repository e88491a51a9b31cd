"""Binance normaliser fed message by message: rows independent of batching, late snapshots,
futures ``pu`` gaps, spot vs futures sequence rules, inferred venue times held until known."""

from __future__ import annotations

import itertools
import random

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlab.errors import DataError
from hftlab.events import FLAG_RESYNC, FLAG_TS_INFERRED, FLAG_UNSYNCED, NO_ID, EventKind
from hftlab.feeds.binance import (
    DeliveryNormaliser,
    FuturesNormaliser,
    Rows,
    SpotNormaliser,
    normaliser_for,
)
from hftlab.feeds.binance._infer import infer_ts_by_update_id
from hftlab.feeds.binance.schemas import (
    AggTrade,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    Payload,
    Trade,
)

T0 = 1_723_161_253_000_000_000  # ns
E0 = 1_723_161_255_000  # ms
MS = 1_000_000


def _lv(levels: list[tuple[str, str]]) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode([list(x) for x in levels]))


def _diff(U: int, u: int, *, E: int = E0, pu: int = NO_ID, T: int = 0, b=(), a=()) -> DepthUpdate:
    return DepthUpdate(E=E, U=U, u=u, b=_lv(list(b)), a=_lv(list(a)), T=T, pu=pu)


def _snap(last: int, *, E: int = 0, b=(), a=()) -> DepthSnapshot:
    return DepthSnapshot(lastUpdateId=last, bids=_lv(list(b)), asks=_lv(list(a)), E=E, T=E)


def _ticker(u: int, E: int = 0) -> BookTicker:
    return BookTicker(u=u, b=99.99, B=1.0, a=100.01, A=2.0, E=E, T=E)


def _recording(seed: int, futures: bool, n: int) -> tuple[list[int], list[Payload]]:
    """A random capture: diffs with increasing ids (and occasional gaps), snapshots early,
    late, too old or redundant, tickers ahead of or behind depth, trades, tied arrival times."""
    r = random.Random(seed)
    ts, msgs = [], []
    t, e, uid, prev_u = T0, E0, 1000, None
    for i in range(n):
        t += r.choice([0, 0, 1, 1_000, 250_000, 3 * MS])
        e += r.choice([0, 1, 5, 100])
        x = r.random()
        if x < 0.35:
            U = uid + 1 + (r.randint(1, 5) if r.random() < 0.04 else 0)
            u = U + r.randint(0, 6)
            lv = [(f"{r.randint(9900, 10100) / 100:.2f}", f"{r.randint(0, 50) / 10:.1f}")
                  for _ in range(r.randint(0, 4))]  # fmt: skip
            pu = NO_ID
            if futures:
                pu = (prev_u if prev_u is not None else U - 1) + (7 if r.random() < 0.03 else 0)
            msgs.append(_diff(U, u, E=e, pu=pu, T=e - 1 if futures else 0, b=lv[:2], a=lv[2:]))
            prev_u = uid = u
        elif x < 0.45:
            lv = [(f"{r.randint(9900, 10100) / 100:.2f}", "1.5") for _ in range(r.randint(0, 5))]
            msgs.append(_snap(uid + r.randint(-12, 3), E=e if futures else 0, b=lv, a=lv[:1]))
        elif x < 0.75:
            msgs.append(_ticker(uid + r.randint(-3, 4), e if futures else 0))
        else:
            msgs.append(Trade(E=e, t=i, p=100.0, q=0.01, m=r.random() < 0.5, T=e - 1))
        ts.append(t)
    return ts, msgs


def _feed(norm: SpotNormaliser, ts: list[int], msgs: list[Payload], cuts: list[int]) -> Rows:
    bounds = [0, *sorted(set(c % (len(msgs) + 1) for c in cuts)), len(msgs)]
    parts = [norm.feed(ts[a:b], msgs[a:b]) for a, b in itertools.pairwise(bounds)]
    return Rows.concat([*parts, norm.flush()])


def _assert_rows_equal(a: Rows, b: Rows) -> None:
    for ch in ("depth", "trade", "bbo"):
        ca, cb = getattr(a, ch), getattr(b, ch)
        assert ca.keys() == cb.keys()
        for k in ca:
            assert ca[k].dtype == cb[k].dtype, (ch, k)
            np.testing.assert_array_equal(ca[k], cb[k], err_msg=f"{ch}.{k}")


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    futures=st.booleans(),
    n=st.integers(1, 250),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_rows_do_not_depend_on_batching(seed: int, futures: bool, n: int, cuts: list[int]) -> None:
    ts, msgs = _recording(seed, futures, n)
    cls = FuturesNormaliser if futures else SpotNormaliser
    whole = _feed(cls("BTCUSDT"), ts, msgs, [])
    _assert_rows_equal(whole, _feed(cls("BTCUSDT"), ts, msgs, cuts))
    one = cls("BTCUSDT")
    by_message = Rows.concat(
        [*(one.on_message(t, m) for t, m in zip(ts, msgs, strict=True)), one.flush()]
    )
    _assert_rows_equal(whole, by_message)
    # Every depth message is written at least once, every trade and ticker exactly once.
    assert whole.trade["ts_local"].shape[0] == sum(type(m) is Trade for m in msgs)
    assert whole.bbo["ts_local"].shape[0] == sum(type(m) is BookTicker for m in msgs)
    for c in (whole.depth, whole.trade, whole.bbo):
        assert np.all(np.diff(c["ts_local"]) >= 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 250))
def test_inferred_times_follow_the_whole_recording_rule(seed: int, n: int) -> None:
    ts, msgs = _recording(seed, False, n)
    norm = SpotNormaliser("BTCUSDT")
    rows = _feed(norm, ts, msgs, [n // 3, n // 2])
    t = np.asarray(ts, dtype=np.int64)
    kinds = [type(m) for m in msgs]
    diffs = [i for i, k in enumerate(kinds) if k is DepthUpdate]
    trades = [i for i, k in enumerate(kinds) if k is Trade]
    d_tsx = np.array([msgs[i].E for i in diffs], dtype=np.int64) * MS
    t_tsx = np.array([msgs[i].T for i in trades], dtype=np.int64) * MS
    expected = infer_ts_by_update_id(
        rows.bbo["ts_local"],
        rows.bbo["update_id"],
        np.concatenate([t[diffs], t[trades]]),
        np.concatenate([t[diffs] - d_tsx, t[trades] - t_tsx]),
        np.array([msgs[i].u for i in diffs], dtype=np.int64),
        d_tsx,
    )
    np.testing.assert_array_equal(rows.bbo["ts_exchange"], expected)
    assert np.all(rows.bbo["flags"] == FLAG_TS_INFERRED)


def test_late_snapshot_replays_straddling_diff_at_its_arrival() -> None:
    n = SpotNormaliser("BTCUSDT")
    out = [
        n.on_message(T0, _diff(100, 104, b=[("100.00", "1.0")])),
        n.on_message(T0 + 1, _diff(105, 110, E=E0 + 100, b=[("100.01", "0.5")])),
        n.on_message(T0 + 2, _snap(107, b=[("100.00", "1.0"), ("99.99", "3.0")])),
        n.on_message(T0 + 3, _diff(111, 112, E=E0 + 200, a=[("100.03", "1.5")])),
    ]
    rows = Rows.concat([*out, n.flush()]).depth
    assert (
        rows["kind"].tolist()
        == [EventKind.DEPTH] * 2
        + [EventKind.CLEAR]
        + [EventKind.SNAPSHOT] * 2
        + [EventKind.DEPTH] * 2
    )
    assert rows["flags"][:2].tolist() == [FLAG_UNSYNCED, FLAG_UNSYNCED]
    # The snapshot's rows (no venue time on spot: inferred), then diff 105-110 again.
    assert rows["flags"][2:5].tolist() == [FLAG_TS_INFERRED] * 3
    assert rows["ts_local"][2:6].tolist() == [T0 + 2] * 4
    assert rows["last_update_id"][5] == 110 and rows["flags"][5] == 0
    assert rows["flags"][6] == 0 and n.sync.synced
    # The snapshot waited for a later message: it was released with the next diff.
    assert out[2].depth["ts_local"].shape[0] == 0
    assert out[3].depth["ts_local"].tolist() == [T0 + 2] * 4 + [T0 + 3]
    # Clamped between the venue times of the batch before (u=104) and the covering one.
    assert E0 * MS <= rows["ts_exchange"][2] <= (E0 + 100) * MS


def test_futures_pu_gap_marks_unsynced_until_a_resync() -> None:
    n = FuturesNormaliser("BTCUSDT")
    T = E0 - 1
    msgs = [
        _snap(100, E=E0),
        _diff(95, 102, pu=90, T=T, b=[("100.0", "1")]),
        _diff(150, 160, pu=102, T=T, b=[("100.1", "1")]),  # U jumps: fine on futures
        _diff(170, 175, pu=161, T=T, b=[("100.2", "1")]),  # pu != previous u: gap
        _diff(180, 185, pu=175, T=T, b=[("100.3", "1")]),
        _snap(182, E=E0 + 1),
        _diff(186, 190, pu=185, T=T, b=[("100.4", "1")]),
    ]
    rows = Rows.concat([n.feed([T0 + i for i in range(len(msgs))], msgs), n.flush()]).depth
    flags = rows["flags"].tolist()
    assert flags == [0, 0, 0, FLAG_UNSYNCED, FLAG_UNSYNCED, FLAG_RESYNC, 0, 0]
    assert rows["kind"][5] == EventKind.CLEAR and rows["last_update_id"][6] == 185
    assert n.sync.stats.gaps == 1 and n.sync.stats.resyncs == 1
    # Futures venue times are the payloads' own: nothing inferred.
    assert not np.any(rows["flags"] & FLAG_TS_INFERRED)
    assert rows["ts_exchange"][0] == E0 * MS and rows["ts_exchange"][1] == T * MS


def test_spot_and_futures_sequence_rules_differ() -> None:
    # Shared futures id counter: U != prev u + 1, yet pu chains. A gap on spot.
    msgs: list[Payload] = [
        _snap(100, E=E0),
        _diff(99, 105, pu=98, T=E0, b=[("1.0", "1")]),
        _diff(140, 150, pu=105, T=E0, b=[("1.1", "1")]),
    ]
    ts = [T0, T0 + 1, T0 + 2]
    spot, fut = SpotNormaliser("X"), normaliser_for("binance-futures", "X")
    s = Rows.concat([spot.feed(ts, msgs), spot.flush()]).depth["flags"].tolist()
    f = Rows.concat([fut.feed(ts, msgs), fut.flush()]).depth["flags"].tolist()
    assert f == [0, 0, 0]
    assert s[-1] == FLAG_UNSYNCED and spot.sync.stats.gaps == 1
    assert isinstance(fut, FuturesNormaliser) and fut.venue == "binance-futures"
    coinm = normaliser_for("binance-delivery", "BTCUSD_PERP")
    assert isinstance(coinm, DeliveryNormaliser) and coinm.futures
    assert type(normaliser_for("binance", "X")) is SpotNormaliser


def test_spot_ticker_waits_for_its_covering_depth_batch() -> None:
    n = SpotNormaliser("BTCUSDT")
    assert len(n.on_message(T0, _snap(100))) == 0  # waits for a later message
    n.on_message(T0 + 10, _diff(101, 103, E=E0))
    assert n.on_message(T0 + 20, _ticker(105)).bbo["ts_local"].shape[0] == 0
    # A trade (a later message, a latency sample) is not enough: no depth batch has u >= 105.
    assert n.on_message(T0 + 30, Trade(E=E0, t=1, p=1.0, q=1.0, m=True, T=E0)).trade[
        "ts_local"
    ].tolist() == [T0 + 30]
    rows = n.on_message(T0 + 40, _diff(104, 106, E=E0 + 100))
    assert rows.bbo["ts_local"].tolist() == [T0 + 20]
    assert (rows.bbo["ts_exchange"] <= (E0 + 100) * MS).all()
    assert rows.bbo["ts_exchange"][0] >= E0 * MS
    assert rows.bbo["flags"].tolist() == [FLAG_TS_INFERRED]


def test_flush_releases_what_cannot_be_timed_yet() -> None:
    n = SpotNormaliser("BTCUSDT")
    n.on_message(T0, _ticker(5))
    rows = n.flush()
    assert rows.bbo["ts_exchange"].tolist() == [T0]  # nothing known: the arrival time
    assert len(n.flush()) == 0


def test_agg_trades_and_latencies() -> None:
    n = SpotNormaliser("BTCUSDT", agg_trades=True)
    msgs: list[Payload] = [
        AggTrade(E=E0, a=7, p=100.0, q=0.5, m=False, T=E0 - 1),
        Trade(E=E0, t=9, p=100.0, q=0.5, m=True, T=E0),
        _ticker(3, E=E0 + 2),
    ]
    rows = Rows.concat([n.feed([T0, T0, T0 + 5], msgs), n.flush()])
    assert rows.trade["trade_id"].tolist() == [7] and rows.trade["side"].tolist() == [1]
    assert n.ignored_trades == 1
    assert n.latencies().tolist() == [T0 - (E0 - 1) * MS, T0 + 5 - (E0 + 2) * MS]


def test_errors_name_the_message() -> None:
    n = SpotNormaliser("BTCUSDT", locate=lambda key: ("capture.gz", key))
    bad = DepthUpdate(E=E0, U=1, u=2, b=msgspec.Raw(b'[["abc","1"]]'), a=msgspec.Raw(b"[]"))
    with pytest.raises(DataError, match=r"capture\.gz:17: malformed price levels"):
        n.feed([T0, T0], [_ticker(1), bad], keys=[16, 17])
    n = SpotNormaliser("BTCUSDT")
    n.on_message(T0, _ticker(1))
    with pytest.raises(DataError, match=r"binance/BTCUSDT:2: local timestamp goes back"):
        n.on_message(T0 - 1, _ticker(2))
    with pytest.raises(TypeError, match="not a Binance payload"):
        n.on_message(T0, "nope")  # type: ignore[arg-type]
