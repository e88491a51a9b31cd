"""Binance book-sync state machine: spot U/u rules, futures pu rules, late snapshots, gaps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hftlab.feeds.sync import BookSync, DiffAction, SnapshotAction

A, U, S = DiffAction.APPLY, DiffAction.UNSYNCED, DiffAction.STALE


def test_spot_late_snapshot_replays_straddling_diffs() -> None:
    # Real shape (spot BTCUSDT 2024-08-08): diffs ahead of the snapshot line in the file.
    s = BookSync[int](futures=False)
    assert s.on_diff(50093239189, 50093239202, -1, 0) is U
    assert s.on_diff(50093239203, 50093239207, -1, 1) is U
    assert s.on_diff(50093239208, 50093239224, -1, 2) is U
    action, replay = s.on_snapshot(50093239218)
    assert action is SnapshotAction.LOAD
    assert replay == [2]  # only the diff straddling lastUpdateId
    assert s.book_id == 50093239224 and s.synced
    assert s.on_diff(50093239225, 50093239230, -1, 3) is A
    assert s.stats.gaps == 0 and s.stats.resyncs == 0


def test_spot_snapshot_first_then_boundary_rules() -> None:
    s = BookSync[int](futures=False)
    assert s.on_snapshot(100) == (SnapshotAction.LOAD, [])
    assert s.on_diff(90, 100, -1, 0) is S  # u <= lastUpdateId: already in the snapshot
    assert s.on_diff(101, 105, -1, 1) is A  # U <= lastUpdateId+1 <= u
    assert s.on_diff(106, 110, -1, 2) is A
    assert s.on_diff(100, 104, -1, 3) is S  # u < book id
    assert s.on_diff(112, 115, -1, 4) is U  # U > book id + 1: gap
    assert s.stats.gaps == 1 and not s.synced and s.needs_snapshot


def test_spot_first_diff_must_straddle() -> None:
    s = BookSync[int](futures=False)
    s.on_snapshot(100)
    assert s.on_diff(103, 110, -1, 0) is U  # 101..102 lost between snapshot and diff
    assert s.stats.gaps == 1


def test_gap_then_resync_from_next_snapshot() -> None:
    s = BookSync[int](futures=False)
    s.on_snapshot(10)
    assert s.on_diff(11, 20, -1, 0) is A
    assert s.on_diff(25, 30, -1, 1) is U  # gap
    assert s.on_diff(31, 40, -1, 2) is U
    assert s.is_resync_pending
    action, replay = s.on_snapshot(35)
    assert action is SnapshotAction.LOAD and replay == [2]
    assert s.stats.resyncs == 1 and s.synced and s.book_id == 40


def test_too_old_snapshot_is_not_used() -> None:
    s = BookSync[int](futures=False)
    s.on_diff(100, 110, -1, 0)
    assert s.on_snapshot(50) == (SnapshotAction.TOO_OLD, [])
    assert not s.synced
    assert s.on_snapshot(105)[0] is SnapshotAction.LOAD
    assert s.on_snapshot(120) == (SnapshotAction.REDUNDANT, [])


def test_futures_pu_chain_with_shared_counter() -> None:
    # Futures ids are shared by all symbols: U != prev u + 1 is normal, pu is the check.
    s = BookSync[int](futures=True)
    assert s.on_diff(1000, 1010, 990, 0) is U
    assert s.on_diff(1050, 1060, 1010, 1) is U
    action, replay = s.on_snapshot(1055)
    assert action is SnapshotAction.LOAD and replay == [1]
    assert s.on_diff(1100, 1120, 1060, 2) is A
    assert s.on_diff(1130, 1140, 1121, 3) is U  # pu != previous u
    assert s.stats.gaps == 1


def test_futures_u_equal_last_update_id_applies() -> None:
    s = BookSync[int](futures=True)
    s.on_snapshot(500)
    assert s.on_diff(480, 499, 470, 0) is S  # u < lastUpdateId
    assert s.on_diff(490, 500, 499, 1) is A  # U <= lastUpdateId <= u
    assert s.on_diff(520, 530, 500, 2) is A


def test_gap_inside_buffer_restarts_buffer() -> None:
    s = BookSync[int](futures=False)
    s.on_diff(10, 12, -1, 0)
    s.on_diff(20, 22, -1, 1)  # break while buffering
    assert s.stats.gaps == 1
    action, replay = s.on_snapshot(21)
    assert action is SnapshotAction.LOAD and replay == [1]


@given(st.lists(st.integers(1, 5), min_size=1, max_size=60), st.integers(0, 59))
def test_contiguous_spot_stream_never_gaps(sizes: list[int], snap_at: int) -> None:
    """Any contiguous spot stream with a snapshot inside it syncs without a gap."""
    s = BookSync[int](futures=False)
    first = 1000
    bounds = []
    for n in sizes:
        bounds.append((first, first + n - 1))
        first += n
    k = min(snap_at, len(bounds) - 1)
    snapshot_id = bounds[k][0]  # inside diff k
    for i, (lo, hi) in enumerate(bounds):
        s.on_diff(lo, hi, -1, i)
        if i == k:
            action, _ = s.on_snapshot(snapshot_id)
            assert action is SnapshotAction.LOAD
    assert s.stats.gaps == 0
    assert s.synced and s.book_id == bounds[-1][1]
