"""Store rows of the Binance normaliser: depth message tables, depth rows, held rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from hftlab.events import (
    CHANNEL_SCHEMAS,
    FLAG_TS_INFERRED,
    NO_ID,
    Channel,
    EventKind,
    Side,
)

Columns = dict[str, np.ndarray]

_DTYPES: Final[dict[Channel, dict[str, np.dtype]]] = {
    ch: {f.name: np.dtype(f.type.to_pandas_dtype()) for f in schema}
    for ch, schema in CHANNEL_SCHEMAS.items()
}


def empty_columns(channel: Channel) -> Columns:
    """Zero rows of ``channel`` in its store schema's dtypes."""
    return {name: np.zeros(0, dtype=dt) for name, dt in _DTYPES[channel].items()}


def concat_columns(channel: Channel, parts: list[Columns]) -> Columns:
    """Rows of several parts, in order (a part itself when there is only one)."""
    parts = [p for p in parts if p["ts_local"].shape[0]]
    if not parts:
        return empty_columns(channel)
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@dataclass
class DepthChunk:
    """Depth messages (diffs and snapshots) of one batch, in arrival order.

    Kept after its batch while the book sync buffers some of its diffs, which a later snapshot
    may hand back for replay. ``pending`` marks messages whose venue time is still to be
    inferred (``tsx`` holds the inferred time once known).
    """

    base: int  # depth sequence number of the first message
    ts_local: np.ndarray
    first: np.ndarray  # U (lastUpdateId for snapshots)
    last: np.ndarray  # u (lastUpdateId for snapshots)
    prev: np.ndarray  # pu (NO_ID on spot and for snapshots)
    tsx: np.ndarray  # venue time, ns (T where present, else E; inferred when timeless)
    timeless: np.ndarray  # no venue time in the message: flagged FLAG_TS_INFERRED
    pending: np.ndarray
    is_snap: np.ndarray
    nb: np.ndarray
    nlev: np.ndarray
    lstart: np.ndarray
    levels: np.ndarray  # (n_levels, 2) price, qty

    def __len__(self) -> int:
        return self.ts_local.shape[0]

    @property
    def end(self) -> int:
        return self.base + self.ts_local.shape[0]

    def tail(self, seq: int) -> DepthChunk:
        """The messages from depth sequence number ``seq`` on."""
        i = seq - self.base
        if i <= 0:
            return self
        lo = int(self.lstart[i]) if i < len(self) else self.levels.shape[0]
        return DepthChunk(
            seq,
            *(a[i:] for a in (self.ts_local, self.first, self.last, self.prev, self.tsx,
                              self.timeless, self.pending, self.is_snap, self.nb, self.nlev)),
            self.lstart[i:] - lo,
            self.levels[lo:],
        )  # fmt: skip

    @classmethod
    def join(cls, chunks: list[DepthChunk]) -> DepthChunk:
        """One chunk of consecutive chunks."""
        if len(chunks) == 1:
            return chunks[0]
        lstart = []
        off = 0
        for c in chunks:
            lstart.append(c.lstart + off)
            off += c.levels.shape[0]

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(c, name) for c in chunks])

        return cls(
            chunks[0].base,
            *(cat(n) for n in ("ts_local", "first", "last", "prev", "tsx", "timeless",
                               "pending", "is_snap", "nb", "nlev")),
            np.concatenate(lstart),
            np.concatenate([c.levels for c in chunks]),
        )  # fmt: skip


def depth_rows(
    c: DepthChunk, msg: np.ndarray, ts_local: np.ndarray, flags: np.ndarray
) -> tuple[Columns, np.ndarray]:
    """Rows of the emissions ``msg`` (indices into ``c``) at ``ts_local`` with ``flags``.

    A snapshot emits a CLEAR row then one SNAPSHOT row per level, a diff one DEPTH row per
    level. Returns the columns and, per row, the depth sequence number of a message whose venue
    time is still pending (-1 for the others).
    """
    is_snap = c.is_snap[msg]
    counts = c.nlev[msg] + is_snap
    rows = int(counts.sum())
    row_em = np.repeat(np.arange(msg.shape[0]), counts)
    first_row = np.zeros(msg.shape[0], dtype=np.int64)
    if msg.shape[0]:
        first_row[1:] = np.cumsum(counts)[:-1]
    pos = np.arange(rows, dtype=np.int64) - first_row[row_em]  # position within the emission
    row_msg = msg[row_em]
    row_snap = is_snap[row_em]
    is_clear = row_snap & (pos == 0)
    lvl_pos = pos - row_snap  # level index within the message (-1 on the CLEAR row)
    nlv = c.levels.shape[0]
    if rows and nlv:
        lvl_idx = np.minimum(c.lstart[row_msg] + np.maximum(lvl_pos, 0), nlv - 1)
        price = np.where(is_clear, 0.0, c.levels[lvl_idx, 0])
        qty = np.where(is_clear, 0.0, c.levels[lvl_idx, 1])
    else:  # only CLEAR rows (snapshots without levels), or none
        price = np.zeros(rows, dtype=np.float64)
        qty = np.zeros(rows, dtype=np.float64)
    side = np.where(lvl_pos < c.nb[row_msg], Side.BID, Side.ASK).astype(np.int8)
    side[is_clear] = Side.NONE
    kind = np.where(row_snap, EventKind.SNAPSHOT, EventKind.DEPTH).astype(np.uint8)
    kind[is_clear] = EventKind.CLEAR
    row_flags = flags.astype(np.uint8)[row_em]
    timeless = c.timeless[row_msg]
    if timeless.any():
        row_flags |= np.where(timeless, FLAG_TS_INFERRED, 0).astype(np.uint8)
    cols = {
        "ts_exchange": c.tsx[row_msg],
        "ts_local": ts_local.astype(np.int64)[row_em],
        "kind": kind,
        "side": side,
        "price": price,
        "qty": qty,
        "first_update_id": np.where(is_clear, NO_ID, c.first[row_msg]),
        "last_update_id": c.last[row_msg],
        "prev_update_id": c.prev[row_msg],
        "flags": row_flags,
    }
    pending = np.where(c.pending[row_msg], c.base + row_msg, -1)
    return cols, pending


class Held:
    """Rows of one channel not yet released: from the first row whose venue time is pending.

    Rows go out in order, so a row waiting for its inferred time holds back every row after it.
    They are kept as the chunks they came in (joined only when released), so rows that wait
    long are not copied again with every batch.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._cols: list[Columns] = []
        self._item: list[np.ndarray] = []  # per chunk and row: key of its pending time, or -1

    def add(self, cols: Columns, item: np.ndarray) -> None:
        if item.shape[0]:
            self._cols.append(cols)
            self._item.append(item)

    def patch(self, keys: np.ndarray, ts: np.ndarray) -> None:
        """Set the venue time of the rows of ``keys`` (ascending) to ``ts``."""
        if not keys.shape[0]:
            return
        for n, (cols, item) in enumerate(zip(self._cols, self._item, strict=True)):
            idx = np.minimum(np.searchsorted(keys, item), keys.shape[0] - 1)
            hit = (item >= 0) & (keys[idx] == item)
            if hit.any():
                tsx = cols["ts_exchange"]
                if not tsx.flags.writeable:
                    tsx = cols["ts_exchange"] = tsx.copy()
                tsx[hit] = ts[idx[hit]]
                self._item[n] = np.where(hit, -1, item)

    def release(self, final: bool = False) -> Columns:
        """The rows before the first pending one (all rows if ``final``)."""
        out: list[Columns] = []
        while self._cols:
            waiting = np.flatnonzero(self._item[0] >= 0)
            if final or not waiting.shape[0]:
                out.append(self._cols.pop(0))
                self._item.pop(0)
                continue
            cut = int(waiting[0])
            cols, item = self._cols[0], self._item[0]
            out.append({k: v[:cut] for k, v in cols.items()})
            self._cols[0] = {k: v[cut:] for k, v in cols.items()}
            self._item[0] = item[cut:]
            break
        return concat_columns(self.channel, out)
