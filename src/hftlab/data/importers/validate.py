"""Book validation: rebuild the L2 book from depth rows and compare it with the venue's BBO.

The comparison is by **update id**, never by arrival time: a BBO row with update id ``u`` is
compared with the book right after the depth update whose last id is ``u`` (if there is one
and it was applied in sync). Binance's ``bookTicker.u`` and the depth ``u`` come from the same
counter, so at such a point the book's best bid/ask (price and size) must equal the ticker's
exactly. Rows flagged ``FLAG_UNSYNCED`` are not applied. The rebuilt book is also checked for
crossing (best bid >= best ask) after every applied update.

Only the top of the book is compared, so the replay uses a flat price ladder over the rows'
tick range when that range is modest (one array slot per tick, O(1) per update whatever the
depth: Binance futures diffs touch levels hundreds deep, which the sorted book of
:mod:`hftlab.book` must shift); wider ranges replay through :mod:`hftlab.book` itself. Both give
the same top of book and crossing at every group end (tested against each other).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit

from hftlab.book import (
    EMPTY_ASK,
    EMPTY_BID,
    book_apply,
    book_best_ask,
    book_best_bid,
    book_clear,
    book_is_crossed,
    book_new,
)
from hftlab.data.importers._common import BookValidation
from hftlab.data.store import Store, StreamKey
from hftlab.events import FLAG_UNSYNCED, Channel, EventKind, Instrument

_MAX_EXAMPLES = 5

#: Ticks held on the flat ladder (two int64 arrays of this many slots): small enough to stay
#: in cache; levels further from the median price go to a sorted book.
MAX_LADDER_TICKS = 1 << 18


@njit(cache=True)
def _replay(
    kinds: np.ndarray,
    sides: np.ndarray,
    prices: np.ndarray,
    qtys: np.ndarray,
    skip: np.ndarray,
    group_end: np.ndarray,
    capacity: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply rows in order; at each group end record the top of book and crossing."""
    bk = book_new(capacity)
    ng = 0
    for i in range(group_end.shape[0]):
        if group_end[i]:
            ng += 1
    bid_p = np.empty(ng, np.int64)
    bid_q = np.empty(ng, np.int64)
    ask_p = np.empty(ng, np.int64)
    ask_q = np.empty(ng, np.int64)
    crossed = np.zeros(ng, np.bool_)
    g = 0
    for i in range(kinds.shape[0]):
        if not skip[i]:
            k = kinds[i]
            if k == 3:  # CLEAR
                book_clear(bk, sides[i])
            elif k == 1 or k == 2:  # DEPTH, SNAPSHOT
                book_apply(bk, sides[i], prices[i], qtys[i])
        if group_end[i]:
            p, q = book_best_bid(bk)
            bid_p[g] = p
            bid_q[g] = q
            p, q = book_best_ask(bk)
            ask_p[g] = p
            ask_q[g] = q
            crossed[g] = book_is_crossed(bk)
            g += 1
    return bid_p, bid_q, ask_p, ask_q, crossed


@njit(cache=True)
def _ladder_set(lq: np.ndarray, j: int, q: int, held: int, best: int, step: int) -> tuple:
    """Set slot ``j`` of a ladder side to ``q``; return (old qty, levels held, best slot).

    ``step`` is +1 for bids (better is higher) and -1 for asks; ``best`` is -1 (bids) or the
    ladder width (asks) when the side is empty.
    """
    old = lq[j]
    lq[j] = q
    if q > 0:
        if old == 0:
            held += 1
        if held == 1 or (j - best) * step > 0:
            best = j
    elif old > 0:
        held -= 1
        if held == 0:
            best = -1 if step > 0 else lq.shape[0]
        elif j == best:
            while lq[best] == 0:
                best -= step
    return old, held, best


@njit(cache=True)
def _replay_ladder(
    kinds: np.ndarray,
    sides: np.ndarray,
    prices: np.ndarray,
    qtys: np.ndarray,
    skip: np.ndarray,
    group_end: np.ndarray,
    lo: int,
    width: int,
    capacity: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_replay` on a flat ladder of ``width`` ticks from ``lo``.

    The best slot of each side is tracked directly: an insert beyond it moves it, removing it
    scans to the next held slot (near the touch: a few). A CLEAR zeroes only the slots touched
    since the previous one. Levels outside the ladder (far-off quotes some venues report) go to
    a sorted :mod:`hftlab.book`; the top of book is the better of the two.
    """
    lad = np.zeros((2, width), np.int64)  # lots per tick slot: bids, asks
    held = np.zeros(2, np.int64)
    best = np.array([-1, width], np.int64)
    step = np.array([1, -1], np.int64)
    t_lo = np.array([width, width], np.int64)  # slots touched since the last clear
    t_hi = np.array([-1, -1], np.int64)
    far = book_new(capacity)
    ng = 0
    for i in range(group_end.shape[0]):
        if group_end[i]:
            ng += 1
    bid_p = np.empty(ng, np.int64)
    bid_q = np.empty(ng, np.int64)
    ask_p = np.empty(ng, np.int64)
    ask_q = np.empty(ng, np.int64)
    crossed = np.zeros(ng, np.bool_)
    g = 0
    for i in range(kinds.shape[0]):
        if not skip[i]:
            k = kinds[i]
            if k == 3:  # CLEAR
                book_clear(far, sides[i])
                for s in range(2):
                    if (s == 0 and sides[i] >= 0) or (s == 1 and sides[i] <= 0):
                        for j in range(t_lo[s], t_hi[s] + 1):
                            lad[s, j] = 0
                        held[s] = 0
                        best[s] = -1 if s == 0 else width
                        t_lo[s] = width
                        t_hi[s] = -1
            elif k == 1 or k == 2:  # DEPTH, SNAPSHOT
                j = prices[i] - lo
                if 0 <= j < width:
                    s = 0 if sides[i] > 0 else 1
                    q = qtys[i] if qtys[i] > 0 else 0
                    if q > 0:
                        t_lo[s] = min(t_lo[s], j)
                        t_hi[s] = max(t_hi[s], j)
                    _, held[s], best[s] = _ladder_set(lad[s], j, q, held[s], best[s], step[s])
                else:
                    book_apply(far, sides[i], prices[i], qtys[i])
        if group_end[i]:
            bp, bqty = book_best_bid(far)
            if held[0] > 0 and best[0] + lo > bp:
                bp = best[0] + lo
                bqty = lad[0, best[0]]
            ap, aqty = book_best_ask(far)
            if held[1] > 0 and best[1] + lo < ap:
                ap = best[1] + lo
                aqty = lad[1, best[1]]
            bid_p[g] = bp
            bid_q[g] = bqty
            ask_p[g] = ap
            ask_q[g] = aqty
            crossed[g] = bp != EMPTY_BID and ap != EMPTY_ASK and bp >= ap
            g += 1
    return bid_p, bid_q, ask_p, ask_q, crossed


def replay_top(
    kinds: np.ndarray,
    sides: np.ndarray,
    prices: np.ndarray,
    qtys: np.ndarray,
    skip: np.ndarray,
    group_end: np.ndarray,
    capacity: int,
    *,
    ladder: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Top of book and crossing at each group end: best bid price/qty, best ask price/qty.

    With ``ladder`` (the default) a flat ladder of at most :data:`MAX_LADDER_TICKS` ticks
    centred on the median applied price holds the levels near the touch and a sorted book the
    rest; without it everything replays through :mod:`hftlab.book` (the two agree exactly).
    """
    if not ladder:
        return _replay(kinds, sides, prices, qtys, skip, group_end, capacity)
    use = ((kinds == 1) | (kinds == 2)) & ~skip
    lo, width, far = 0, 1, 0
    if use.any():
        p = prices[use]
        pmin, pmax = int(p.min()), int(p.max())
        width = min(pmax - pmin + 1, MAX_LADDER_TICKS)
        mid = int(np.median(p[:: max(1, p.shape[0] // 65_536)]))
        lo = min(max(pmin, mid - width // 2), pmax - width + 1)
        far = int(np.count_nonzero((p < lo) | (p >= lo + width)))
    far_cap = int(min(max(1024, far), capacity))
    return _replay_ladder(kinds, sides, prices, qtys, skip, group_end, lo, width, far_cap)


def _col(data: pa.Table | Mapping[str, Any], name: str) -> np.ndarray:
    if isinstance(data, pa.Table):
        return data.column(name).to_numpy()
    return np.asarray(data[name])


def group_ends(
    ts_local: np.ndarray, last_update_id: np.ndarray, kind: np.ndarray, flags: np.ndarray
) -> np.ndarray:
    """Last row of each depth update (one message, or one snapshot with its CLEAR marker)."""
    n = ts_local.shape[0]
    end = np.ones(n, dtype=np.bool_)
    if n > 1:
        is_diff = kind == EventKind.DEPTH
        same = (
            (ts_local[1:] == ts_local[:-1])
            & (last_update_id[1:] == last_update_id[:-1])
            & (is_diff[1:] == is_diff[:-1])
            & (flags[1:] == flags[:-1])
            & (kind[1:] != EventKind.CLEAR)
        )
        end[:-1] = ~same
    return end


def validate_book(
    depth: pa.Table | Mapping[str, Any],
    bbo: pa.Table | Mapping[str, Any] | None,
    instrument: Instrument,
    *,
    capacity: int | None = None,
    depth_ticks: tuple[np.ndarray, np.ndarray] | None = None,
    bbo_ticks: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> BookValidation:
    """Rebuild the book from ``depth`` rows and compare it with ``bbo`` rows by update id.

    Parameters
    ----------
    depth
        Depth-channel rows in stored order (columns of :data:`hftlab.events.DEPTH_SCHEMA`).
    bbo
        BBO-channel rows (columns of :data:`hftlab.events.BBO_SCHEMA`); ``update_id`` is the
        venue's id (Binance ``bookTicker.u``). None checks crossing only.
    instrument
        Gives the tick and lot sizes (the comparison is exact, in integer ticks and lots).
    depth_ticks, bbo_ticks
        The rows' prices and sizes already in ticks and lots (depth: price, qty; BBO: bid
        price, bid qty, ask price, ask qty), to skip converting them again.

    Returns
    -------
    BookValidation
        Points compared (BBO rows whose id equals an applied book update), points matched,
        synced book states and how many of them were crossed.
    """
    out = BookValidation()
    kind = _col(depth, "kind").astype(np.uint8)
    n = kind.shape[0]
    if n == 0:
        out.bbo_rows = 0 if bbo is None else len(_col(bbo, "update_id"))
        return out
    flags = _col(depth, "flags").astype(np.uint8)
    lid = _col(depth, "last_update_id").astype(np.int64)
    ts = _col(depth, "ts_local").astype(np.int64)
    side = _col(depth, "side").astype(np.int64)
    if depth_ticks is None:
        prices = instrument.price_to_ticks(_col(depth, "price"))
        qtys = instrument.qty_to_lots(_col(depth, "qty"))
    else:
        prices, qtys = depth_ticks
    skip = (flags & FLAG_UNSYNCED) != 0
    ends = group_ends(ts, lid, kind, flags)
    cap = capacity or int(min(max(8192, n), 1 << 20))
    bid_p, bid_q, ask_p, ask_q, crossed = replay_top(kind, side, prices, qtys, skip, ends, cap)
    synced = ~skip[ends]
    out.book_updates = int(synced.sum())
    out.crossed = int(np.count_nonzero(crossed & synced))
    if bbo is None:
        return out
    u = _col(bbo, "update_id").astype(np.int64)
    out.bbo_rows = int(u.shape[0])
    if u.shape[0] == 0 or out.book_updates == 0:
        return out
    gid = lid[ends][synced]
    gbp, gbq, gap_, gaq = bid_p[synced], bid_q[synced], ask_p[synced], ask_q[synced]
    # The last synced state per id (ids are unique per update in practice).
    order = np.argsort(gid, kind="stable")
    gid_s = gid[order]
    last = np.r_[gid_s[1:] != gid_s[:-1], True]
    keys = gid_s[last]
    pick = order[last]
    pos = np.searchsorted(keys, u)
    pos_c = np.minimum(pos, keys.shape[0] - 1)
    hit = (pos < keys.shape[0]) & (keys[pos_c] == u)
    if not hit.any():
        return out
    idx = pick[pos_c[hit]]
    if bbo_ticks is None:
        tb_p = instrument.price_to_ticks(_col(bbo, "bid_price")[hit])
        tb_q = instrument.qty_to_lots(_col(bbo, "bid_qty")[hit])
        ta_p = instrument.price_to_ticks(_col(bbo, "ask_price")[hit])
        ta_q = instrument.qty_to_lots(_col(bbo, "ask_qty")[hit])
    else:
        tb_p, tb_q, ta_p, ta_q = (a[hit] for a in bbo_ticks)
    ok = (gbp[idx] == tb_p) & (gbq[idx] == tb_q) & (gap_[idx] == ta_p) & (gaq[idx] == ta_q)
    out.compared = int(hit.sum())
    out.matched = int(ok.sum())
    if not ok.all():
        bad = np.flatnonzero(~ok)[:_MAX_EXAMPLES]
        uu = u[hit]
        for b in bad:
            j = idx[b]
            out.mismatches.append(
                f"u={int(uu[b])}: book {int(gbp[j])}x{int(gbq[j])} / {int(gap_[j])}x{int(gaq[j])}"
                f", bbo {int(tb_p[b])}x{int(tb_q[b])} / {int(ta_p[b])}x{int(ta_q[b])}"
                " (ticks x lots)"
            )
    return out


def validate_store(store: Store | str, venue: str, symbol: str) -> BookValidation:
    """Run :func:`validate_book` on one instrument's depth and BBO streams in a store."""
    st = store if isinstance(store, Store) else Store(store)
    inst = st.instrument(venue, symbol)
    dkey = StreamKey(venue, symbol, Channel.DEPTH)
    bkey = StreamKey(venue, symbol, Channel.BBO)
    keys = st.streams()
    depth = pa.concat_tables(list(st.read(dkey))) if dkey in keys else None
    bbo = pa.concat_tables(list(st.read(bkey))) if bkey in keys else None
    if depth is None:
        return BookValidation(bbo_rows=0 if bbo is None else bbo.num_rows)
    return validate_book(depth, bbo, inst)
