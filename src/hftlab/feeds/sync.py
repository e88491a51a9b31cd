"""Binance local-order-book synchronisation: a state machine over update ids only.

It knows nothing about files, sockets or price levels. The caller feeds it each diff's ids
(``U``, ``u`` and, on futures, ``pu``) and each REST snapshot's ``lastUpdateId`` in arrival
order, and it answers what to do with the event. The importers use it on recorded captures; the
live recorder uses it on the socket, where :attr:`BookSync.needs_snapshot` says when to fetch one.

Rules (``BINANCE_FORMATS.md`` §3):

Spot
    Buffer diffs until a snapshot arrives. A snapshot older than the first buffered ``U`` is too
    old (rejected, wait for the next). Drop buffered diffs with ``u <= lastUpdateId``; the first
    diff applied must satisfy ``U <= lastUpdateId + 1 <= u`` (or ``U <= lastUpdateId <= u``, the
    older wording). Afterwards a diff with ``u < book id`` is stale; ``U > book id + 1`` is a gap.
Futures (USD-M, COIN-M)
    Drop buffered diffs with ``u < lastUpdateId``; the first diff applied must satisfy
    ``U <= lastUpdateId <= u``; afterwards every diff's ``pu`` must equal the previous ``u``
    (``U == prev u + 1`` does not hold: the id counter is shared by all symbols).

A snapshot often arrives *after* diffs that already straddle it (it is logged when the response
arrived). Those buffered diffs are handed back by :meth:`BookSync.on_snapshot` so the caller can
apply them, in order, right after loading the snapshot.

On a gap the book is out of sync: the event that revealed the gap and every diff after it is
reported :data:`UNSYNCED` (buffered for the next snapshot) until a snapshot rebuilds the book;
that snapshot is reported as a *resync* so the caller can flag it ``FLAG_RESYNC``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Generic, TypeVar

H = TypeVar("H")

#: Diffs kept while waiting for a snapshot. A snapshot can only use diffs newer than itself, so
#: the oldest are dropped first; 100k diffs is ~3 h of spot @100ms or minutes of futures @0ms.
DEFAULT_MAX_BUFFER: Final = 100_000


class DiffAction(IntEnum):
    """What to do with a diff."""

    APPLY = 0  # in sequence: apply it to the book
    UNSYNCED = 1  # no synced book (before the first snapshot or after a gap): buffered, not applied
    STALE = 2  # older than the book (u below book id): ignore it


class SnapshotAction(IntEnum):
    """What to do with a snapshot."""

    LOAD = 0  # clear the book, load the snapshot, then apply the returned buffered diffs
    TOO_OLD = 1  # older than the buffered diffs (or than our synced book): not used
    REDUNDANT = 2  # the book is already in sync: not used


@dataclass
class SyncStats:
    """Counters of one book's synchronisation."""

    diffs: int = 0
    applied: int = 0
    unsynced: int = 0
    stale: int = 0
    gaps: int = 0  # sequence breaks found (while synced, or inside the buffer)
    snapshots: int = 0
    snapshots_loaded: int = 0
    resyncs: int = 0  # snapshots loaded after a gap
    buffer_dropped: int = 0  # buffered diffs dropped for the buffer limit


@dataclass(slots=True)
class _Buffered(Generic[H]):
    first: int
    last: int
    prev: int
    handle: H


class BookSync(Generic[H]):
    """Sequence state of one Binance book.

    Parameters
    ----------
    futures
        Use the futures rules (``pu`` continuity) instead of the spot rules (``U``/``u``).
    max_buffer
        Most diffs kept while waiting for a snapshot.

    Examples
    --------
    >>> s = BookSync[int](futures=False)
    >>> s.on_diff(10, 12, -1, handle=0)       # before any snapshot: buffered
    <DiffAction.UNSYNCED: 1>
    >>> s.on_diff(13, 20, -1, handle=1)
    <DiffAction.UNSYNCED: 1>
    >>> s.on_snapshot(15)                     # late snapshot: diff 1 straddles it, replay it
    (<SnapshotAction.LOAD: 0>, [1])
    >>> s.on_diff(21, 25, -1, handle=2)
    <DiffAction.APPLY: 0>
    """

    def __init__(self, *, futures: bool, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.futures = futures
        self.max_buffer = max_buffer
        self.stats = SyncStats()
        #: Id of the last update in the book (-1 when not synced).
        self.book_id = -1
        self._synced = False
        self._pending_first = False  # snapshot loaded; the next diff must straddle it
        self._after_gap = False  # a gap happened: the next loaded snapshot is a resync
        self._buffer: deque[_Buffered[H]] = deque()

    # ----------------------------------------------------------------- state
    @property
    def synced(self) -> bool:
        """True while diffs are being applied to a book built from a snapshot."""
        return self._synced

    @property
    def needs_snapshot(self) -> bool:
        """True when a snapshot must be fetched (no book yet, or a gap broke it)."""
        return not self._synced

    @property
    def is_resync_pending(self) -> bool:
        """True if the next loaded snapshot rebuilds a book broken by a gap."""
        return self._after_gap

    @property
    def oldest_buffered(self) -> H | None:
        """Handle of the oldest buffered diff (the first a snapshot could hand back), or None."""
        return self._buffer[0].handle if self._buffer else None

    # ---------------------------------------------------------------- events
    def on_diff(self, first: int, last: int, prev: int, handle: H) -> DiffAction:
        """Classify a diff with ids ``U`` (first), ``u`` (last), ``pu`` (prev; -1 on spot).

        ``handle`` is whatever identifies the diff for the caller (an index, the message); it is
        handed back by :meth:`on_snapshot` for buffered diffs that must be replayed.
        """
        st = self.stats
        st.diffs += 1
        if self._synced:
            action = self._step(first, last, prev)
            if action is not None:
                if action is DiffAction.APPLY:
                    st.applied += 1
                else:
                    st.stale += 1
                return action
            self._gap()
        self._buffer_diff(first, last, prev, handle)
        st.unsynced += 1
        return DiffAction.UNSYNCED

    def on_snapshot(self, last_update_id: int) -> tuple[SnapshotAction, list[H]]:
        """Classify a snapshot; on LOAD also return the buffered diffs to apply after it, in order.

        The caller clears its book, loads the snapshot, then applies the returned diffs (which it
        received earlier, flagged unsynced) in the order given.
        """
        st = self.stats
        st.snapshots += 1
        if self._synced:
            # A second snapshot while in sync would rewind the book; keep the book we have.
            return SnapshotAction.REDUNDANT, []
        buf = self._buffer
        if buf and last_update_id + 1 < buf[0].first:
            # Older than the first buffered diff: updates in between are lost; wait for another.
            return SnapshotAction.TOO_OLD, []
        self._synced = True
        self._pending_first = True
        self.book_id = last_update_id
        st.snapshots_loaded += 1
        if self._after_gap:
            st.resyncs += 1
            self._after_gap = False
        pending = list(buf)
        buf.clear()
        replay: list[H] = []
        for i, b in enumerate(pending):
            action = self._step(b.first, b.last, b.prev)
            if action is DiffAction.APPLY:
                st.applied += 1
                replay.append(b.handle)
            elif action is None:
                # A break inside the buffer: the book is out of sync again from this diff on.
                self._gap()
                for rest in pending[i:]:
                    self._buffer_diff(rest.first, rest.last, rest.prev, rest.handle)
                break
            # STALE: already contained in the snapshot.
        return SnapshotAction.LOAD, replay

    # -------------------------------------------------------------- internal
    def _step(self, first: int, last: int, prev: int) -> DiffAction | None:
        """APPLY or STALE for a diff against the synced book; None for a gap."""
        book = self.book_id
        if self._pending_first:
            if self.futures:
                if last < book:
                    return DiffAction.STALE
                ok = first <= book <= last
            else:
                if last <= book:
                    return DiffAction.STALE
                ok = first <= book + 1 <= last or first <= book <= last
            if not ok:
                return None
            self._pending_first = False
        elif self.futures:
            if last < book:
                return DiffAction.STALE
            if prev != book:
                return None
        else:
            if last <= book:
                return DiffAction.STALE
            if first > book + 1:
                return None
        self.book_id = last
        return DiffAction.APPLY

    def _gap(self) -> None:
        self.stats.gaps += 1
        self._synced = False
        self._pending_first = False
        self._after_gap = True
        self.book_id = -1
        self._buffer.clear()

    def _buffer_diff(self, first: int, last: int, prev: int, handle: H) -> None:
        buf = self._buffer
        if buf:
            tail = buf[-1]
            broken = prev != tail.last if self.futures else first > tail.last + 1
            if broken:
                # No snapshot can bridge a break inside the buffer: restart it from this diff.
                self.stats.gaps += 1
                self._after_gap = True
                buf.clear()
        buf.append(_Buffered(first, last, prev, handle))
        if len(buf) > self.max_buffer:
            buf.popleft()
            self.stats.buffer_dropped += 1
