"""The synthetic market, checked on real Parquet files: determinism, counts, order, book sanity,
latency, the labelled triangle, and the properties fill models rely on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from hftlab.cli import app
from hftlab.data.store import Store
from hftlab.data.synthetic import (
    DEFAULT_START_NS,
    INSTRUMENTS,
    LABELS_PATH,
    SYMBOLS,
    VENUE,
    synthesize,
    synthesize_events,
    synthesize_tables,
)
from hftlab.errors import ConfigError
from hftlab.events import NS_PER_MS, NS_PER_S, Channel, EventKind, Instrument

EVENTS = 600_000  # about 215 s of exchange time
SEED = 11


# --------------------------------------------------------------------------- helpers
def read_stream(root: Path, symbol: str, channel: Channel) -> dict[str, np.ndarray]:
    directory = root / f"venue={VENUE}" / f"symbol={symbol}" / f"channel={channel.value}"
    files = sorted(directory.glob("date=*/part-*.parquet"))
    table = pa.concat_tables([pq.ParquetFile(f).read() for f in files])
    return {name: table.column(name).to_numpy() for name in table.column_names}


def file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@dataclass
class Replay:
    """What replaying one instrument's depth stream (with its trades and BBO) found."""

    messages: int
    crossed: int
    bbo_checked: int
    bbo_mismatch: int
    top_changes_without_bbo: int
    trades_checked: int
    trades_bad: list[str]
    touch_cancels: int  # size decreases at the best level in a message with no trade
    near_cancels: int  # same, 1-3 ticks behind the best
    touch_trade_decreases: int
    id_errors: int


def replay(
    inst: Instrument,
    depth: dict[str, np.ndarray],
    trades: dict[str, np.ndarray],
    bbo: dict[str, np.ndarray],
) -> Replay:
    kind = depth["kind"]
    side = depth["side"]
    price = inst.price_to_ticks(depth["price"])
    qty = inst.qty_to_lots(depth["qty"])
    first, last, prev = depth["first_update_id"], depth["last_update_id"], depth["prev_update_id"]
    ts = depth["ts_exchange"]
    trades_at: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for t, s, p, q in zip(
        trades["ts_exchange"].tolist(),
        trades["side"].tolist(),
        inst.price_to_ticks(trades["price"]).tolist(),
        inst.qty_to_lots(trades["qty"]).tolist(),
        strict=True,
    ):
        trades_at[t].append((s, p, q))
    bbo_by_id: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    for row in zip(
        bbo["update_id"].tolist(),
        inst.price_to_ticks(bbo["bid_price"]).tolist(),
        inst.qty_to_lots(bbo["bid_qty"]).tolist(),
        inst.price_to_ticks(bbo["ask_price"]).tolist(),
        inst.qty_to_lots(bbo["ask_qty"]).tolist(),
        strict=True,
    ):
        bbo_by_id[row[0]].append(row[1:])
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    r = Replay(0, 0, 0, 0, 0, 0, [], 0, 0, 0, 0)
    # message boundaries: a change of last_update_id (the snapshot's rows share one)
    starts = np.flatnonzero(np.diff(last, prepend=last[0] - 1) != 0)
    ends = np.append(starts[1:], len(last))
    prev_u = None
    prev_top = None
    used_trades: set[int] = set()
    for m, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        is_last_message = m == len(starts) - 1
        k0 = int(kind[a])
        if k0 == EventKind.DEPTH:
            expected_rows = int(last[a] - first[a] + 1)
            if prev_u is not None and (first[a] != prev_u + 1 or prev[a] != prev_u):
                r.id_errors += 1
            if b - a != expected_rows and not is_last_message:
                r.id_errors += 1
        top_before = (max(bids), bids[max(bids)], min(asks), asks[min(asks)]) if bids else None
        msg_trades = trades_at.get(int(ts[a]), []) if k0 == EventKind.DEPTH else []
        if msg_trades:
            used_trades.add(int(ts[a]))
            for s, p, q in msg_trades:
                r.trades_checked += 1
                assert top_before is not None
                book = asks if s == 1 else bids
                touch = top_before[2] if s == 1 else top_before[0]
                through = p >= touch if s == 1 else p <= touch
                if not through or book.get(p, 0) < q:
                    r.trades_bad.append(f"{s} {p} {q} touch {touch} level {book.get(p, 0)}")
            if msg_trades[0][1] != (top_before[2] if msg_trades[0][0] == 1 else top_before[0]):
                r.trades_bad.append(f"first print {msg_trades[0]} not at the touch {top_before}")
        for j in range(a, b):
            kj = int(kind[j])
            if kj == EventKind.CLEAR:
                bids.clear()
                asks.clear()
                continue
            book = bids if side[j] == 1 else asks
            p, q = int(price[j]), int(qty[j])
            old = book.get(p, 0)
            if kj == EventKind.DEPTH and q < old and top_before is not None:
                best = top_before[0] if side[j] == 1 else top_before[2]
                dist = best - p if side[j] == 1 else p - best
                if msg_trades:
                    r.touch_trade_decreases += dist == 0
                elif dist == 0:
                    r.touch_cancels += 1
                elif dist <= 3:
                    r.near_cancels += 1
            if q == 0:
                book.pop(p, None)
            else:
                book[p] = q
        r.messages += 1
        if not bids or not asks:
            r.crossed += 1  # an empty side counts as broken too
            continue
        top = (max(bids), bids[max(bids)], min(asks), asks[min(asks)])
        r.crossed += top[0] >= top[2]
        u = int(last[a])
        for quote in bbo_by_id.get(u, []):
            r.bbo_checked += 1
            r.bbo_mismatch += quote != top
        if top != prev_top and u not in bbo_by_id and not is_last_message:
            r.top_changes_without_bbo += 1
        prev_top = top
        prev_u = u
    # every trade belongs to a depth message at its exchange time
    r.trades_bad.extend(f"orphan trade at {t}" for t in trades_at if t not in used_trades)
    return r


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "store"
    summary = synthesize(root, events=EVENTS, seed=SEED)
    assert summary.rows == EVENTS
    return root


@pytest.fixture(scope="module")
def streams(market: Path) -> dict[tuple[str, Channel], dict[str, np.ndarray]]:
    return {(s, c): read_stream(market, s, c) for s in SYMBOLS for c in Channel}


@pytest.fixture(scope="module")
def replays(streams: dict[tuple[str, Channel], dict[str, np.ndarray]]) -> dict[str, Replay]:
    return {
        s: replay(
            INSTRUMENTS[s],
            streams[(s, Channel.DEPTH)],
            streams[(s, Channel.TRADE)],
            streams[(s, Channel.BBO)],
        )
        for s in SYMBOLS
    }


# --------------------------------------------------------------------------- determinism, counts
def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = synthesize(tmp_path / "a", events=40_000, seed=5)
    b = synthesize(tmp_path / "b", events=40_000, seed=5)
    c = synthesize(tmp_path / "c", events=40_000, seed=6)
    fa, fb, fc = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b"), file_bytes(tmp_path / "c")
    assert len(fa) == 10  # 9 streams + labels
    assert fa == fb
    assert a.rows_by_stream == b.rows_by_stream
    assert set(fa) == set(fc)
    assert all(fa[name] != fc[name] for name in fa)
    assert c.rows == 40_000


@pytest.mark.parametrize("events", [1, 57, 12_345])
def test_generates_exactly_the_requested_row_count(tmp_path: Path, events: int) -> None:
    summary = synthesize(tmp_path / "s", events=events, seed=3)
    on_disk = sum(f.rows for key in Store(tmp_path / "s").streams()
                  for f in Store(tmp_path / "s").files(key))
    assert summary.rows == events
    assert on_disk == events
    assert sum(summary.rows_by_stream.values()) == events


def test_row_count_is_exact_in_the_store(market: Path) -> None:
    store = Store(market)
    assert {(k.venue, k.symbol, k.channel) for k in store.streams()} == {
        (VENUE, s, c) for s in SYMBOLS for c in Channel
    }
    assert store.events().rows == EVENTS
    assert sum(len(chunk) for chunk in store.events()) == EVENTS
    assert [i.symbol for i in store.instruments()] == sorted(SYMBOLS)
    for inst in store.instruments():
        assert inst == INSTRUMENTS[inst.symbol]


def test_in_memory_tables_equal_the_files(market: Path, streams: dict) -> None:
    data = synthesize_tables(events=EVENTS, seed=SEED)
    assert data.rows == EVENTS
    for key, cols in streams.items():
        table = data.tables[key]
        for name, values in cols.items():
            np.testing.assert_array_equal(table.column(name).to_numpy(), values)
    labels = pq.read_table(market / LABELS_PATH)
    assert data.labels is not None and data.labels.equals(labels)


def test_merged_event_array_is_in_local_time_order() -> None:
    events, instruments = synthesize_events(events=30_000, seed=2)
    assert len(events) == 30_000
    assert [i.symbol for i in instruments] == list(SYMBOLS)
    assert np.all(np.diff(events["ts_local"]) >= 0)
    assert set(np.unique(events["instrument"]).tolist()) == {0, 1, 2}


def test_duration_bounds_exchange_time(tmp_path: Path) -> None:
    summary = synthesize(tmp_path / "s", duration_s=20.0, seed=4, start_ns=DEFAULT_START_NS)
    assert summary.rows > 1_000
    for key, _ in summary.rows_by_stream.items():
        symbol, channel = key.split("/")[1:]
        ts = read_stream(tmp_path / "s", symbol, Channel(channel))["ts_exchange"]
        assert ts.min() >= DEFAULT_START_NS
        assert ts.max() < DEFAULT_START_NS + 20 * NS_PER_S
    assert summary.span_s > 19.0
    # both limits: whichever comes first
    assert synthesize_tables(events=500, duration_s=20.0, seed=4).rows == 500


# --------------------------------------------------------------------------- order and latency
def test_files_sorted_by_local_time_and_each_stream_in_exchange_order(streams: dict) -> None:
    for key, cols in streams.items():
        assert np.all(np.diff(cols["ts_local"]) >= 0), key
        assert np.all(np.diff(cols["ts_exchange"]) >= 0), key
        assert np.all(cols["ts_local"] >= cols["ts_exchange"]), key


def test_arrival_order_differs_from_exchange_order_across_streams(streams: dict) -> None:
    ts_local = np.concatenate([c["ts_local"] for c in streams.values()])
    ts_exchange = np.concatenate([c["ts_exchange"] for c in streams.values()])
    order = np.argsort(ts_local, kind="stable")
    regressions = np.count_nonzero(np.diff(ts_exchange[order]) < 0)
    assert regressions > EVENTS // 100


def test_latency_has_base_jitter_and_spikes(streams: dict) -> None:
    worst = []
    dense_without_spikes = []
    for key, cols in streams.items():
        latency = (cols["ts_local"] - cols["ts_exchange"]) / NS_PER_MS
        p50, p90 = np.percentile(latency, [50, 90])
        assert latency.min() > 1.0, key  # a base latency, never zero
        assert p90 > p50, key  # jitter
        # Spikes: rare excursions far beyond the jitter (stalls). Stalls are a few per stream
        # here and a sparse stream may send nothing during them: only dense streams count.
        spike = np.mean(latency > p50 + 5 * (p90 - p50) + 2.0)
        assert spike < 0.05, key
        if len(latency) > 10_000 and spike == 0:
            dense_without_spikes.append(key)
        worst.append(latency.max() / p50)
    assert len(dense_without_spikes) <= 1, dense_without_spikes
    assert max(worst) > 5


# --------------------------------------------------------------------------- book sanity
@pytest.mark.parametrize("symbol", SYMBOLS)
def test_depth_replay_is_never_crossed_and_ids_chain(replays: dict, symbol: str) -> None:
    r = replays[symbol]
    assert r.messages > 1_000
    assert r.crossed == 0
    assert r.id_errors == 0


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bbo_agrees_with_the_replayed_book(replays: dict, streams: dict, symbol: str) -> None:
    r = replays[symbol]
    assert r.bbo_checked == len(streams[(symbol, Channel.BBO)]["update_id"])
    assert r.bbo_mismatch == 0
    assert r.top_changes_without_bbo == 0


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_trades_print_at_or_through_the_touch(replays: dict, streams: dict, symbol: str) -> None:
    r = replays[symbol]
    assert r.trades_checked == len(streams[(symbol, Channel.TRADE)]["trade_id"])
    assert r.trades_bad == []
    ids = streams[(symbol, Channel.TRADE)]["trade_id"]
    assert np.all(np.diff(np.sort(ids)) == 1)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_queues_at_the_touch_shrink_by_cancellations_too(replays: dict, symbol: str) -> None:
    r = replays[symbol]
    # Both ways a queue ahead of a resting order shrinks must be common, or queue models agree.
    assert r.touch_trade_decreases > 200
    assert r.touch_cancels > 0.2 * r.touch_trade_decreases
    assert r.near_cancels > r.touch_cancels / 2


def test_snapshot_opens_every_depth_stream(streams: dict) -> None:
    for symbol in SYMBOLS:
        depth = streams[(symbol, Channel.DEPTH)]
        assert depth["kind"][0] == EventKind.CLEAR
        n_snap = np.argmax(depth["kind"] == EventKind.DEPTH)
        assert n_snap > 10
        assert np.all(depth["kind"][1:n_snap] == EventKind.SNAPSHOT)
        assert np.all(depth["prev_update_id"][:n_snap] == -1)
        assert depth["first_update_id"][n_snap] == depth["last_update_id"][0] + 1


# --------------------------------------------------------------------------- market realism
def test_spreads_sizes_and_trade_clustering(streams: dict) -> None:
    for symbol in SYMBOLS:
        inst = INSTRUMENTS[symbol]
        bbo = streams[(symbol, Channel.BBO)]
        spread = inst.price_to_ticks(bbo["ask_price"]) - inst.price_to_ticks(bbo["bid_price"])
        held = np.diff(bbo["ts_exchange"], append=bbo["ts_exchange"][-1])
        share = {k: held[spread == k].sum() / held.sum() for k in (1, 2)}
        assert share[1] > 0.5, symbol
        assert share[1] + share[2] > 0.95, symbol
        trades = streams[(symbol, Channel.TRADE)]
        p50, p99 = np.percentile(trades["qty"], [50, 99])
        assert p99 > 8 * p50, symbol  # heavy tail
        arrivals = np.unique(trades["ts_exchange"])  # one market order per timestamp
        gaps = np.diff(arrivals).astype(float)
        assert gaps.std() / gaps.mean() > 1.2, symbol  # clustered (Poisson would be 1)
        buys = np.mean(trades["side"] == 1)
        assert 0.35 < buys < 0.65, symbol


def test_btc_and_eth_move_together(streams: dict) -> None:
    grid = np.arange(DEFAULT_START_NS + NS_PER_S, DEFAULT_START_NS + 200 * NS_PER_S, NS_PER_S)
    returns = []
    for symbol in ("BTCUSDT", "ETHUSDT"):
        bbo = streams[(symbol, Channel.BBO)]
        mid = (bbo["bid_price"] + bbo["ask_price"]) / 2
        at = mid[np.searchsorted(bbo["ts_exchange"], grid, "right") - 1]
        returns.append(np.diff(np.log(at)))
    assert np.corrcoef(*returns)[0, 1] > 0.4


# --------------------------------------------------------------------------- the triangle
def test_triangle_holds_outside_labelled_mispricings_and_breaks_inside(
    market: Path, streams: dict
) -> None:
    labels = pq.read_table(market / LABELS_PATH)
    assert labels.schema.names == ["start_ns", "end_ns", "instrument", "size_bps", "direction"]
    start = labels.column("start_ns").to_numpy()
    end = labels.column("end_ns").to_numpy()
    size = labels.column("size_bps").to_numpy()
    direction = labels.column("direction").to_numpy()
    assert len(start) >= 5
    assert np.all(end > start) and np.all(np.diff(start) > 0) and np.all(start[1:] >= end[:-1])
    assert set(labels.column("instrument").to_pylist()) == {"ETHBTC"}
    assert set(direction.tolist()) <= {-1, 1} and np.all(size > 0)

    t0 = max(streams[(s, Channel.BBO)]["ts_exchange"][0] for s in SYMBOLS)
    t1 = min(streams[(s, Channel.BBO)]["ts_exchange"][-1] for s in SYMBOLS)
    grid = np.arange(t0, t1, 10 * NS_PER_MS)

    def mid(symbol: str) -> np.ndarray:
        bbo = streams[(symbol, Channel.BBO)]
        m = (bbo["bid_price"] + bbo["ask_price"]) / 2
        return m[np.searchsorted(bbo["ts_exchange"], grid, "right") - 1]

    dev_bps = (mid("ETHBTC") / (mid("ETHUSDT") / mid("BTCUSDT")) - 1) * 1e4
    near = np.zeros(len(grid), dtype=bool)
    for a, b in zip(start, end, strict=True):
        near |= (grid >= a - 100 * NS_PER_MS) & (grid < b + NS_PER_S)
    calm = np.abs(dev_bps[~near])
    assert np.median(calm) < 1.0  # half an ETHBTC tick
    assert np.percentile(calm, 99) < 3.0
    # Inside: the signed deviation over each episode's second half, for episodes long enough
    # for the ETHBTC book to have followed its shifted fair price.
    signed = []
    for a, b, s, d in zip(start, end, size, direction, strict=True):
        window = (grid >= a + (b - a) // 2) & (grid < b)
        if b - a >= 200 * NS_PER_MS and window.any():
            signed.append(d * np.median(dev_bps[window]) / s)
    assert len(signed) >= 3
    assert np.median(signed) > 0.5  # the book shows at least half the labelled size
    assert np.mean(np.array(signed) > 0) >= 0.8  # in the labelled direction


def test_labels_only_for_the_whole_triangle(tmp_path: Path) -> None:
    summary = synthesize(tmp_path / "s", events=20_000, instruments=["BTCUSDT", "synth/ethbtc"])
    assert [i.symbol for i in summary.instruments] == ["BTCUSDT", "ETHBTC"]
    assert summary.mispricings == 0
    assert not (tmp_path / "s" / LABELS_PATH).exists()
    assert {k.symbol for k in Store(tmp_path / "s").streams()} == {"BTCUSDT", "ETHBTC"}
    alone = synthesize_tables(events=5_000, instruments=["ETHBTC"], seed=1)
    assert alone.labels is None and {k[0] for k in alone.tables} == {"ETHBTC"}


# --------------------------------------------------------------------------- options and CLI
@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"events": 0}, "events"),
        ({"events": -5}, "events"),
        ({"duration_s": 0.0}, "duration"),
        ({"duration_s": float("nan")}, "duration"),
        ({"events": 10, "instruments": ["XRPUSDT"]}, "XRPUSDT"),
        ({"events": 10, "instruments": []}, "instrument"),
        ({"events": 10, "seed": -1}, "seed"),
    ],
)
def test_bad_options_are_config_errors(tmp_path: Path, kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        synthesize(tmp_path / "s", **kwargs)
    assert not (tmp_path / "s").exists()


def test_refuses_non_empty_folder_and_force_replaces_only_its_own_output(tmp_path: Path) -> None:
    root = tmp_path / "s"
    synthesize(root, events=5_000, seed=1)
    (root / "venue=other").mkdir()
    (root / "venue=other" / "keep.txt").write_text("not ours")
    with pytest.raises(ConfigError, match=r"not empty.*--force"):
        synthesize(root, events=5_000, seed=2)
    synthesize(root, events=3_000, seed=2, force=True)
    assert (root / "venue=other" / "keep.txt").read_text() == "not ours"
    assert Store(root).events().rows == 3_000  # no leftovers of the first run


def test_cli_synth_writes_a_store_and_reports(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "s"
    result = runner.invoke(
        app, ["synth", "--events", "20000", "--seed", "3", "--out", str(out), "-i", "BTCUSDT"]
    )
    assert result.exit_code == 0, result.output
    assert "20,000 rows" in result.output
    assert "synth/BTCUSDT/depth" in result.output
    assert Store(out).events().rows == 20_000
    again = runner.invoke(app, ["synth", "--events", "100", "--out", str(out)])
    assert again.exit_code != 0
    assert isinstance(again.exception, ConfigError)
