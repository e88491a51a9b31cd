"""Binance payloads -> store rows, incrementally: one normaliser per symbol.

A normaliser takes one symbol's decoded payloads (:mod:`hftlab.feeds.binance.schemas`) in
arrival order with their local receive time, a message or a batch at a time, and returns the
store rows (``DEPTH_SCHEMA``, ``TRADE_SCHEMA``, ``BBO_SCHEMA`` columns of :mod:`hftlab.events`)
that are final. The capture importer feeds a whole recording through it; the live recorder
feeds it the socket. The rows do not depend on how the messages were batched.

Depth
    Diffs and REST snapshots run through :class:`hftlab.feeds.sync.BookSync`. Rows are written
    as received: one DEPTH row per level of a diff; a CLEAR row plus one SNAPSHOT row per level
    of a snapshot (``FLAG_RESYNC`` when it rebuilds a book broken by a gap), followed by the
    buffered diffs that straddle it, written again at the snapshot's ``ts_local`` without the
    flag. Diffs received without a synced book (before the first usable snapshot, after a gap)
    and stale ones, and snapshots not used, carry ``FLAG_UNSYNCED``; stale diffs and snapshots
    not needed while in sync also carry ``FLAG_STALE`` (not applied either, but no break of the
    book). Reading the depth channel in order and skipping unsynced rows therefore rebuilds the
    exact book; the simulator does so (``docs/sim-core.md``, "Gaps in the depth data").
Trades
    ``@trade`` (or, with ``agg_trades=True``, ``@aggTrade``: a capture without ``@trade``);
    ``m`` true means the aggressor sold.
Venue time
    ``T`` where the payload has one, else ``E``. Spot ``bookTicker`` and spot snapshots carry
    none: theirs is inferred (``FLAG_TS_INFERRED``; rule in :mod:`hftlab.feeds.binance._infer`)
    once the depth batch covering their update id and a later message have arrived. Rows wait
    for that in order (a ticker row holds back the ticker rows after it, a snapshot the depth
    rows after it); :meth:`SpotNormaliser.flush` releases them with what is known.

Spot, USD-M and COIN-M differ only in the sequence rule and the venue id: the futures classes
override just those.

Examples
--------
>>> from hftlab.feeds.binance.schemas import BookTicker, DepthSnapshot, DepthUpdate
>>> import msgspec
>>> n = SpotNormaliser("BTCUSDT")
>>> raw = msgspec.Raw
>>> rows = n.feed([10, 20], [DepthUpdate(E=1, U=5, u=7, b=raw(b'[["1.0","2"]]'), a=raw(b"[]")),
...                          DepthSnapshot(lastUpdateId=6, bids=raw(b"[]"), asks=raw(b"[]"))])
>>> rows.depth["flags"].tolist()      # the diff (unsynced); the snapshot waits for its time
[1]
>>> n.flush().depth["kind"].tolist()  # CLEAR, then the straddling diff replayed
[3, 1]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any, ClassVar, Final

import numpy as np

from hftlab.errors import DataError
from hftlab.events import (
    FLAG_RESYNC,
    FLAG_STALE,
    FLAG_TS_INFERRED,
    FLAG_UNSYNCED,
    NO_ID,
    Channel,
    Side,
)
from hftlab.feeds.binance._infer import DEFAULT_HISTORY, TimeInference
from hftlab.feeds.binance._levels import parse_levels
from hftlab.feeds.binance._rows import (
    Columns,
    DepthChunk,
    Held,
    concat_columns,
    depth_rows,
    empty_columns,
)
from hftlab.feeds.binance.instruments import VENUE_COINM, VENUE_SPOT, VENUE_USDM, VENUES
from hftlab.feeds.binance.schemas import (
    AggTrade,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    Payload,
    Trade,
)
from hftlab.feeds.sync import DEFAULT_MAX_BUFFER, BookSync, DiffAction, SnapshotAction
from hftlab.units import NS_PER_MS

__all__ = [
    "DeliveryNormaliser",
    "FuturesNormaliser",
    "Rows",
    "SpotNormaliser",
    "normaliser_for",
]

_DIFF, _SNAP, _TRADE, _AGG, _TICKER = 0, 1, 2, 3, 4
_KIND_OF: Final[dict[type, int]] = {
    DepthUpdate: _DIFF,
    DepthSnapshot: _SNAP,
    Trade: _TRADE,
    AggTrade: _AGG,
    BookTicker: _TICKER,
}
#: Depth chunks kept for replays before they are joined into one.
_MAX_CHUNKS: Final = 16

Locate = Callable[[int], tuple[str | None, int | None]]


@dataclass(frozen=True, slots=True)
class Rows:
    """Store rows per channel (columns of the store schemas, in ``ts_local`` order)."""

    depth: Columns
    trade: Columns
    bbo: Columns

    def __len__(self) -> int:
        return sum(c["ts_local"].shape[0] for c in (self.depth, self.trade, self.bbo))

    @classmethod
    def concat(cls, parts: Sequence[Rows]) -> Rows:
        """The rows of ``parts`` one after another, per channel."""
        return cls(
            concat_columns(Channel.DEPTH, [p.depth for p in parts]),
            concat_columns(Channel.TRADE, [p.trade for p in parts]),
            concat_columns(Channel.BBO, [p.bbo for p in parts]),
        )


def _field(objs: list[Any], name: str, dtype: Any) -> np.ndarray:
    """One attribute of every payload struct as an array (the fastest pure-Python gather)."""
    return np.fromiter(map(attrgetter(name), objs), dtype, len(objs))


class SpotNormaliser:
    """Spot: book sync by ``U``/``u`` (``BINANCE_FORMATS.md`` §3.1).

    Parameters
    ----------
    symbol
        The venue symbol (``BTCUSDT``); every payload fed is this symbol's.
    venue
        Venue id written with the rows; default the class's.
    agg_trades
        Store ``@aggTrade`` payloads as trades instead of ``@trade`` ones (the other kind is
        counted in :attr:`ignored_trades`).
    max_buffer
        Most diffs the book sync keeps while waiting for a snapshot.
    history
        Update-id records kept for inferred venue times.
    locate
        ``(path, row)`` of a message's key (see :meth:`feed`), for error messages; default
        ``("<venue>/<symbol>", message number)``.
    """

    #: Venue id of the rows.
    venue: str = VENUE_SPOT
    #: Sequence rule: ``pu`` continuity (futures) instead of ``U == prev u + 1`` (spot).
    futures: ClassVar[bool] = False

    def __init__(
        self,
        symbol: str,
        *,
        venue: str | None = None,
        agg_trades: bool = False,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        history: int = DEFAULT_HISTORY,
        locate: Locate | None = None,
    ) -> None:
        self.symbol = symbol
        if venue is not None:
            self.venue = venue
        self.agg_trades = agg_trades
        #: The book's sequence state (``needs_snapshot`` tells a recorder when to fetch one).
        self.sync: BookSync[int] = BookSync(futures=self.futures, max_buffer=max_buffer)
        #: Trade payloads of the kind not stored.
        self.ignored_trades = 0
        self._locate = locate
        self._infer = TimeInference(history)
        self._last_ts = -(2**63)
        self._n_msgs = 0
        self._n_depth = 0
        self._n_ticker = 0
        self._chunks: list[DepthChunk] = []  # depth messages the sync may still replay
        self._held_depth = Held(Channel.DEPTH)
        self._held_bbo = Held(Channel.BBO)
        # Messages whose venue time is pending: key, arrival time, update id.
        self._pend_depth = np.zeros((3, 0), dtype=np.int64)
        self._pend_bbo = np.zeros((3, 0), dtype=np.int64)
        self._latency: list[np.ndarray] = []

    # ----------------------------------------------------------------------- public
    def on_message(self, ts_local: int, message: Payload, key: int | None = None) -> Rows:
        """One payload received at ``ts_local`` (ns); see :meth:`feed`."""
        return self.feed((ts_local,), (message,), None if key is None else (key,))

    def feed(
        self,
        ts_local: Sequence[int] | np.ndarray,
        messages: Sequence[Payload],
        keys: Sequence[int] | np.ndarray | None = None,
    ) -> Rows:
        """Payloads received at ``ts_local`` (ns, non-decreasing, also across calls).

        ``keys`` identify the messages for error messages (passed to ``locate``; e.g. file and
        line). Returns the rows that became final.

        Raises
        ------
        DataError
            A receive time goes back, or a depth level is malformed or invalid.
        TypeError
            A message is not one of the payload Structs.
        """
        n = len(messages)
        if n == 0:
            return self._release(final=False)
        ts = np.asarray(ts_local, dtype=np.int64)
        if ts.shape != (n,):
            raise ValueError(f"{ts.shape[0]} receive times for {n} messages")
        seq0 = self._n_msgs
        back = np.flatnonzero(ts[1:] < ts[:-1]) + 1
        if ts[0] < self._last_ts or back.shape[0]:
            i = 0 if ts[0] < self._last_ts else int(back[0])
            prev = self._last_ts if i == 0 else int(ts[i - 1])
            path, row = self._where(keys, seq0, i)
            raise DataError(
                f"local timestamp goes back in time ({int(ts[i])} after {prev} ns)",
                path=path,
                row=row,
                hint="feed messages in arrival order",
            )
        try:
            kinds = np.fromiter(map(_KIND_OF.__getitem__, map(type, messages)), np.int8, n)
        except KeyError as exc:
            raise TypeError(f"not a Binance payload: {exc.args[0].__name__}") from None
        self._n_msgs += n
        self._last_ts = int(ts[-1])
        seqs = np.arange(seq0, seq0 + n, dtype=np.int64)

        didx = np.flatnonzero(kinds <= _SNAP)
        depth, d_items, samples_d, diffs = self._depth(ts, messages, kinds, didx, keys, seq0)
        trade_kind = _AGG if self.agg_trades else _TRADE
        self.ignored_trades += int(np.count_nonzero(kinds == (_TRADE + _AGG - trade_kind)))
        tidx = np.flatnonzero(kinds == trade_kind)
        trades, samples_t = self._trades(ts, messages, tidx)
        kidx = np.flatnonzero(kinds == _TICKER)
        bbo, k_item, k_pend = self._tickers(ts, messages, kidx)

        # Latency samples: depth diffs (group 0) sort before trades (group 1) at equal times.
        n_sd = samples_d[0].shape[0]
        self._infer.observe(
            self._last_ts,
            np.concatenate([samples_d[0], ts[tidx]]),
            np.repeat(np.array([0, 1], dtype=np.int64), [n_sd, tidx.shape[0]]),
            np.concatenate([seqs[didx][samples_d[2]], seqs[tidx]]),
            np.concatenate([samples_d[1], samples_t]),
            *diffs,
        )
        self._held_depth.add(*depth)
        self._held_bbo.add(bbo, k_item)
        if d_items.shape[1]:
            self._pend_depth = np.concatenate([self._pend_depth, d_items], axis=1)
        if k_pend.shape[1]:
            self._pend_bbo = np.concatenate([self._pend_bbo, k_pend], axis=1)
        out = self._release(final=False)
        return Rows(out.depth, trades, out.bbo)

    def flush(self) -> Rows:
        """Release every row still waiting for an inferred venue time, with what is known now.

        The importer calls it once, after the whole recording; a recorder when it closes a
        file. Rows released before the depth batch covering their update id arrived are
        clamped only from below. (Spot tickers recorded without the depth stream never get a
        covering batch: they all wait for this call.)
        """
        return self._release(final=True)

    def latencies(self) -> np.ndarray:
        """Feed latency ``ts_local - venue time`` (ns) of every message with a venue time so
        far: depth messages (once each), trades and tickers, not the inferred ones."""
        if len(self._latency) > 1:
            self._latency = [np.concatenate(self._latency)]
        return self._latency[0] if self._latency else np.zeros(0, dtype=np.int64)

    # ----------------------------------------------------------------------- depth
    def _where(
        self, keys: Sequence[int] | np.ndarray | None, seq0: int, i: int
    ) -> tuple[str | None, int | None]:
        if keys is not None and self._locate is not None:
            return self._locate(int(keys[i]))
        return f"{self.venue}/{self.symbol}", seq0 + i + 1

    def _depth(
        self,
        ts: np.ndarray,
        messages: Sequence[Payload],
        kinds: np.ndarray,
        didx: np.ndarray,
        keys: Sequence[int] | np.ndarray | None,
        seq0: int,
    ) -> tuple[
        tuple[Columns, np.ndarray],
        np.ndarray,
        tuple[np.ndarray, np.ndarray, np.ndarray],
        tuple[np.ndarray, np.ndarray],
    ]:
        """Sync and rows of the batch's depth messages.

        Returns (rows, row items), the new pending items, the latency samples (arrival time,
        latency, index among the depth messages) and the diffs' (u, venue time).
        """
        nd = didx.shape[0]
        none = np.zeros(0, dtype=np.int64)
        if nd == 0:
            return (
                (empty_columns(Channel.DEPTH), none),
                np.zeros((3, 0), dtype=np.int64),
                (none, none, none),
                (none, none),
            )
        msgs: list[Any] = list(map(messages.__getitem__, didx.tolist()))
        is_snap = kinds[didx] == _SNAP
        if not is_snap.any():
            first = _field(msgs, "U", np.int64)
            last = _field(msgs, "u", np.int64)
            prev = _field(msgs, "pu", np.int64)
            ev = _field(msgs, "E", np.int64)
            tx = _field(msgs, "T", np.int64)
            raws = list(chain.from_iterable(map(attrgetter("b", "a"), msgs)))
        else:
            si, di = np.flatnonzero(is_snap), np.flatnonzero(~is_snap)
            snaps = [msgs[i] for i in si.tolist()]
            diffs = [msgs[i] for i in di.tolist()]
            first, last, prev, ev, tx = (np.empty(nd, dtype=np.int64) for _ in range(5))
            first[di], last[di], prev[di] = (_field(diffs, f, np.int64) for f in ("U", "u", "pu"))
            first[si] = last[si] = _field(snaps, "lastUpdateId", np.int64)
            prev[si] = NO_ID
            ev[di], tx[di] = _field(diffs, "E", np.int64), _field(diffs, "T", np.int64)
            ev[si], tx[si] = _field(snaps, "E", np.int64), _field(snaps, "T", np.int64)
            raws = list(
                chain.from_iterable(
                    (m.b, m.a) if type(m) is DepthUpdate else (m.bids, m.asks) for m in msgs
                )
            )
        nb, na, levels = parse_levels(raws, lambda i: self._where(keys, seq0, int(didx[i])))
        nlev = nb + na
        lstart = np.zeros(nd, dtype=np.int64)
        lstart[1:] = np.cumsum(nlev)[:-1]
        tsx_ms = np.where(tx > 0, tx, ev)
        timeless = tsx_ms <= 0
        d_ts = ts[didx]
        base = self._n_depth
        self._n_depth += nd
        chunk = DepthChunk(
            base, d_ts, first, last, prev, tsx_ms * NS_PER_MS, timeless, timeless.copy(),
            is_snap, nb, nlev, lstart, levels,
        )  # fmt: skip
        self._chunks.append(chunk)

        em_seq, em_ts, em_flag = self._sync(chunk)
        rows = self._depth_rows(em_seq, em_ts, em_flag)
        self._trim_chunks()

        timed = ~timeless
        self._latency.append(d_ts[timed] - chunk.tsx[timed])
        diff_pos = np.flatnonzero(~is_snap)
        sample_pos = np.flatnonzero(~is_snap & timed)
        items = np.flatnonzero(timeless)
        return (
            rows,
            np.stack([base + items, d_ts[items], last[items]]),
            (d_ts[sample_pos], d_ts[sample_pos] - chunk.tsx[sample_pos], sample_pos),
            (last[diff_pos], chunk.tsx[diff_pos]),
        )

    def _sync(self, c: DepthChunk) -> tuple[list[int], list[int], list[int]]:
        """Run the chunk through the book sync: the emissions (depth seq, ts_local, flags)."""
        sync = self.sync
        on_diff = sync.on_diff
        apply = DiffAction.APPLY
        stale = DiffAction.STALE
        redundant = SnapshotAction.REDUNDANT
        stale_flags = FLAG_UNSYNCED | FLAG_STALE
        em_seq: list[int] = []
        em_ts: list[int] = []
        em_flag: list[int] = []
        base = c.base
        first, last, prev, snap, ts_l = (
            c.first.tolist(), c.last.tolist(), c.prev.tolist(), c.is_snap.tolist(),
            c.ts_local.tolist(),
        )  # fmt: skip
        for i in range(len(first)):
            if snap[i]:
                resync = sync.is_resync_pending
                action, replay = sync.on_snapshot(last[i])
                ts = ts_l[i]
                em_seq.append(base + i)
                em_ts.append(ts)
                if action is SnapshotAction.LOAD:
                    em_flag.append(FLAG_RESYNC if resync else 0)
                    em_seq += replay
                    em_ts += [ts] * len(replay)
                    em_flag += [0] * len(replay)
                else:
                    # Not used; a snapshot arriving while the book is in sync leaves it in sync.
                    em_flag.append(stale_flags if action is redundant else FLAG_UNSYNCED)
                continue
            em_seq.append(base + i)
            em_ts.append(ts_l[i])
            a = on_diff(first[i], last[i], prev[i], base + i)
            # A stale diff (already in the synced book) is not applied, and is no gap.
            em_flag.append(0 if a is apply else (stale_flags if a is stale else FLAG_UNSYNCED))
        return em_seq, em_ts, em_flag

    def _depth_rows(
        self, em_seq: list[int], em_ts: list[int], em_flag: list[int]
    ) -> tuple[Columns, np.ndarray]:
        seq = np.asarray(em_seq, dtype=np.int64)
        ts = np.asarray(em_ts, dtype=np.int64)
        flags = np.asarray(em_flag, dtype=np.uint8)
        chunks = self._chunks
        if len(chunks) == 1 or int(seq.min()) >= chunks[-1].base:  # all in this batch's chunk
            c = chunks[-1]
            return depth_rows(c, seq - c.base, ts, flags)
        # Replays of diffs from earlier batches: one run of emissions per chunk.
        ci = np.searchsorted([c.base for c in chunks], seq, side="right") - 1
        cuts = np.flatnonzero(np.diff(ci)) + 1
        parts = []
        items = []
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), seq.shape[0]], strict=True):
            c = chunks[int(ci[a])]
            cols, item = depth_rows(c, seq[a:b] - c.base, ts[a:b], flags[a:b])
            parts.append(cols)
            items.append(item)
        return concat_columns(Channel.DEPTH, parts), np.concatenate(items)

    def _trim_chunks(self) -> None:
        """Keep only the depth messages the book sync may still hand back."""
        oldest = self.sync.oldest_buffered
        if oldest is None:
            self._chunks = []
            return
        kept = [c.tail(oldest) for c in self._chunks if c.end > oldest]
        if len(kept) > _MAX_CHUNKS:
            kept = [DepthChunk.join(kept)]
        self._chunks = kept

    # ----------------------------------------------------------------------- trades, tickers
    def _trades(
        self, ts: np.ndarray, messages: Sequence[Payload], tidx: np.ndarray
    ) -> tuple[Columns, np.ndarray]:
        if not tidx.shape[0]:
            return empty_columns(Channel.TRADE), np.zeros(0, dtype=np.int64)
        msgs: list[Any] = list(map(messages.__getitem__, tidx.tolist()))
        t_ts = ts[tidx]
        ev = _field(msgs, "E", np.int64)
        tx = _field(msgs, "T", np.int64)
        tsx = np.where(tx > 0, tx, ev) * NS_PER_MS
        lat = t_ts - tsx
        self._latency.append(lat)
        cols = {
            "ts_exchange": tsx,
            "ts_local": t_ts,
            "side": np.where(_field(msgs, "m", np.bool_), Side.SELL, Side.BUY).astype(np.int8),
            "price": _field(msgs, "p", np.float64),
            "qty": _field(msgs, "q", np.float64),
            "trade_id": _field(msgs, "a" if self.agg_trades else "t", np.int64),
            "flags": np.zeros(tidx.shape[0], dtype=np.uint8),
        }
        return cols, lat

    def _tickers(
        self, ts: np.ndarray, messages: Sequence[Payload], kidx: np.ndarray
    ) -> tuple[Columns, np.ndarray, np.ndarray]:
        nk = kidx.shape[0]
        if not nk:
            none = np.zeros(0, dtype=np.int64)
            return empty_columns(Channel.BBO), none, np.zeros((3, 0), dtype=np.int64)
        msgs: list[Any] = list(map(messages.__getitem__, kidx.tolist()))
        k_ts = ts[kidx]
        ev = _field(msgs, "E", np.int64)
        tx = _field(msgs, "T", np.int64)
        tsx = np.where(tx > 0, tx, ev) * NS_PER_MS
        need = tsx <= 0
        u = _field(msgs, "u", np.int64)
        self._latency.append((k_ts - tsx)[~need])
        cols = {
            "ts_exchange": tsx,
            "ts_local": k_ts,
            "bid_price": _field(msgs, "b", np.float64),
            "bid_qty": _field(msgs, "B", np.float64),
            "ask_price": _field(msgs, "a", np.float64),
            "ask_qty": _field(msgs, "A", np.float64),
            "update_id": u,
            "flags": np.where(need, FLAG_TS_INFERRED, 0).astype(np.uint8),
        }
        keys = self._n_ticker + np.arange(nk, dtype=np.int64)
        self._n_ticker += nk
        pend = np.flatnonzero(need)
        return cols, np.where(need, keys, -1), np.stack([keys[pend], k_ts[pend], u[pend]])

    # ----------------------------------------------------------------------- inferred times
    def _release(self, *, final: bool) -> Rows:
        """Time the pending messages that can be timed, then release rows up to the first
        still pending (everything if ``final``)."""
        inf = self._infer
        for held, attr in ((self._held_depth, "_pend_depth"), (self._held_bbo, "_pend_bbo")):
            pend = getattr(self, attr)
            if not pend.shape[1]:
                continue
            ready = np.ones(pend.shape[1], bool) if final else inf.ready(pend[1], pend[2])
            if not ready.any():
                continue
            keys = pend[0, ready]
            ts = inf.infer(pend[1, ready], pend[2, ready])
            held.patch(keys, ts)
            if held is self._held_depth:
                self._patch_chunks(keys, ts)
            setattr(self, attr, pend[:, ~ready])
        waiting = [p[1, 0] for p in (self._pend_depth, self._pend_bbo) if p.shape[1]]
        inf.trim(int(min(waiting)) if waiting else inf.last_ts)
        return Rows(
            self._held_depth.release(final), empty_columns(Channel.TRADE),
            self._held_bbo.release(final),
        )  # fmt: skip

    def _patch_chunks(self, keys: np.ndarray, ts: np.ndarray) -> None:
        """Inferred times of depth messages the book sync may still replay."""
        for c in self._chunks:
            hit = (keys >= c.base) & (keys < c.end)
            if hit.any():
                i = keys[hit] - c.base
                c.tsx[i] = ts[hit]
                c.pending[i] = False


class FuturesNormaliser(SpotNormaliser):
    """USD-M futures: book sync by ``pu`` continuity (``BINANCE_FORMATS.md`` §3.2)."""

    venue: str = VENUE_USDM
    futures: ClassVar[bool] = True


class DeliveryNormaliser(FuturesNormaliser):
    """COIN-M futures: the USD-M rules under their own venue id."""

    venue: str = VENUE_COINM


def normaliser_for(venue: str, symbol: str, **kwargs: Any) -> SpotNormaliser:
    """The normaliser of ``symbol`` on ``venue``: spot rules for ``binance``, futures rules for
    every other venue id (``binance-futures``, ``binance-delivery``, or a user's override).

    ``kwargs`` go to the normaliser (:class:`SpotNormaliser`).
    """
    spec = VENUES.get(venue)
    if spec is not None and not spec.futures:
        cls: type[SpotNormaliser] = SpotNormaliser
    elif venue == VENUE_COINM:
        cls = DeliveryNormaliser
    else:
        cls = FuturesNormaliser
    return cls(symbol, venue=venue, **kwargs)
