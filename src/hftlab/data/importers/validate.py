"""Book validation: rebuild the L2 book from depth rows and compare it with the venue's BBO.

The comparison is by **update id**, never by arrival time: a BBO row with update id ``u`` is
compared with the book right after the depth update whose last id is ``u`` (if there is one
and it was applied in sync). Binance's ``bookTicker.u`` and the depth ``u`` come from the same
counter, so at such a point the book's best bid/ask (price and size) must equal the ticker's
exactly. Rows flagged ``FLAG_UNSYNCED`` are not applied. The rebuilt book is also checked for
crossing (best bid >= best ask) after every applied update.

The book is the compiled one of :mod:`hftlab.book`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit

from hftlab.book import (
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
    bid_p, bid_q, ask_p, ask_q, crossed = _replay(kind, side, prices, qtys, skip, ends, cap)
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
