"""Gaps in the depth data: rows flagged unsynced are not applied, matching against the stale
book stops until the resync snapshot, the strategy is told, and the results count it.

Hand-built rows (tick and lot 1, times in µs * 1000) mark a stretch of depth rows
``FLAG_UNSYNCED`` and end it with a ``FLAG_RESYNC`` snapshot, as the importer does after a
sequence gap (``docs/data-format.md``); ``test_real_data.py`` injects a gap into a real capture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from simhelpers import INST, C, D, S, Script, T, events, events_of, fills

from hftlab.backtest import run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.events import FLAG_RESYNC, FLAG_STALE, FLAG_UNSYNCED
from hftlab.risk import RiskConfig
from hftlab.sim.config import LatencyModel, SimConfig
from hftlab.strategy.context import Context
from hftlab.vocab import RejectReason

US = 1_000
U, R, STALE = FLAG_UNSYNCED, FLAG_RESYNC, FLAG_UNSYNCED | FLAG_STALE


def flagged(rows: Sequence[tuple]) -> np.ndarray:
    """Rows ``(ts_exchange, ts_local, kind, side, price, qty, flags)``."""
    ev = events([r[:6] for r in rows])
    ev["flags"] = [r[6] for r in rows]
    return ev


BOOK = [  # bids 100 x5, 99 x7; asks 101 x3, 102 x4 (in sync)
    (1 * US, 1 * US, D, 1, 100, 5, 0),
    (1 * US, 1 * US, D, 1, 99, 7, 0),
    (1 * US, 1 * US, D, -1, 101, 3, 0),
    (1 * US, 1 * US, D, -1, 102, 4, 0),
]
# From 20 the recorder lost a depth message: what follows is flagged until the snapshot at 60.
# Applied, the rows at 25 would put asks at 100 and 99, through a bid at 100 (a fill).
GAP = [
    (20 * US, 20 * US, D, 1, 100, 0, U),
    (25 * US, 25 * US, D, -1, 100, 6, U),
    (25 * US, 25 * US, D, -1, 99, 2, U),
    (35 * US, 35 * US, D, 1, 98, 9, U),
]
RESYNC = [  # bids 97 x1, 96 x2; asks 98 x4
    (60 * US, 60 * US, C, 0, 0, 0, R),
    (60 * US, 60 * US, S, 1, 97, 1, R),
    (60 * US, 60 * US, S, 1, 96, 2, R),
    (60 * US, 60 * US, S, -1, 98, 4, R),
]
AFTER = [(70 * US, 70 * US, D, 1, 95, 1, 0), (90 * US, 90 * US, D, 1, 94, 1, 0)]
ROWS = [*BOOK, *GAP, *RESYNC, *AFTER]


class Watcher(Script):
    """:class:`Script` that also records book status and quote wake-ups with the local touch."""

    def on_book_status(self, ctx: Context, instrument: int, synced: bool) -> None:
        book = ctx.book(instrument)
        assert book.synced is synced
        self.log.append(("status", ctx.now, synced, book.touch_ticks))

    def on_quote(self, ctx: Context, instrument: int) -> None:
        self.log.append(("quote", ctx.now, ctx.book(instrument).touch_ticks))


def run_rows(
    rows: Sequence[tuple],
    actions: dict[int, Callable[[Context], Any]] | None = None,
    *,
    strategy: type[Script] = Watcher,
    chunk: int | None = None,
    risk: RiskConfig | None = None,
    **cfg: Any,
) -> tuple[BacktestResult, Script]:
    ev = flagged(rows)
    chunks = [ev] if chunk is None else [ev[i : i + chunk] for i in range(0, len(ev), chunk)]
    strat = strategy(actions or {})
    config = SimConfig(
        entry_latency=LatencyModel(value_us=1), response_latency=LatencyModel(value_us=1), **cfg
    )
    res = run_backtest(chunks, strat, config, instruments=[INST], risk=risk)
    return res, strat


def status_log(strat: Script) -> list[tuple]:
    return [e for e in strat.log if e[0] == "status"]


# --------------------------------------------------------------------------- exchange side
def test_unsynced_rows_are_not_applied_and_no_fill_comes_from_the_stale_book() -> None:
    """Our bid at 100 would be crossed by the flagged asks at 25: no fill. After the resync
    snapshot (asks at 98) the book is the snapshot's, and it crosses our bid: a maker fill."""
    res, _ = run_rows(
        ROWS, {10 * US: lambda c: c.buy(1, 100, tif="post_only")}, record_interval_ms=0.01
    )
    assert fills(res) == [(1, 100.0, 1.0, "maker")]
    assert res.fills.to_pylist()[0]["ts_exchange"] == 60 * US  # at the resync, not at 25
    st = {r["ts"]: r["mid"] for r in res.state.to_pylist()}
    assert st[30 * US] == 100.5  # the frozen book, not the flagged rows' crossed one
    assert st[80 * US] == 97.5  # (97 + 98) / 2: the snapshot's book


def test_orders_during_a_gap_are_refused_cancels_go_through() -> None:
    """While the book is out of sync a new order and a price modify are rejected
    ``book_unsynced``; a size decrease (no book needed) and a cancel are processed; after the
    resync orders are accepted again."""
    actions = {
        10 * US: lambda c: (c.buy(2, 90), c.sell(2, 110)),
        30 * US: lambda c: (
            c.buy(1, 95),
            c.modify(c.open_orders()[0], price=91),
            c.modify(c.open_orders()[1], qty=1),
        ),
        40 * US: lambda c: c.cancel(c.open_orders()[1]),
        80 * US: lambda c: c.buy(1, 90),
    }
    res, strat = run_rows(ROWS, actions)
    assert events_of(res, 3) == ["sent_new", "rejected"]
    assert events_of(res, 1)[-2:] == ["sent_modify", "modify_rejected"]
    assert events_of(res, 2)[-4:] == ["sent_modify", "modified", "sent_cancel", "canceled"]
    reasons = {(r["order_id"], r["event"]): r["reason"] for r in res.orders.to_pylist()}
    assert reasons[3, "rejected"] == reasons[1, "modify_rejected"] == "book_unsynced"
    assert events_of(res, 4) == ["sent_new", "accepted"]
    assert strat.orders_seen[3].reject_reason == RejectReason.BOOK_UNSYNCED


def test_trades_still_fill_resting_orders_during_a_gap() -> None:
    """The trade stream is intact: a seller trading at 98 went through our bid at 100, so the
    venue filled it, gap or not (holding it would let a strategy dodge that fill)."""
    rows = [*BOOK, *GAP, (40 * US, 40 * US, T, -1, 98, 1, 0), *RESYNC, *AFTER]
    res, _ = run_rows(rows, {10 * US: lambda c: c.buy(1, 100, tif="post_only")})
    assert fills(res) == [(1, 100.0, 1.0, "maker")]
    assert res.fills.to_pylist()[0]["ts_exchange"] == 40 * US


def test_the_summary_counts_rows_gaps_and_time() -> None:
    res, _ = run_rows(ROWS)
    s = res.summary["instruments"]["t/X"]
    assert (s["unsynced_rows"], s["sync_gaps"]) == (4, 1)
    assert s["unsynced_s"] == pytest.approx(40e-6)  # exchange time 20 -> 60 µs


def test_a_gap_until_the_end_counts_to_the_end() -> None:
    res, strat = run_rows([*BOOK, *GAP, (50 * US, 50 * US, T, 1, 120, 1, 0)])
    s = res.summary["instruments"]["t/X"]
    assert (s["unsynced_rows"], s["sync_gaps"]) == (4, 1)
    assert s["unsynced_s"] == pytest.approx(30e-6)  # 20 µs -> the last row at 50
    assert [e[2] for e in status_log(strat)] == [False]


def test_rows_before_the_first_snapshot_are_no_gap() -> None:
    """A capture's first diffs arrive before its snapshot (flagged, the book empty): skipped
    and counted as time out of sync, but no gap."""
    rows = [
        (1 * US, 1 * US, D, 1, 100, 5, U),
        (2 * US, 2 * US, D, -1, 101, 5, U),
        *[(5 * US, 5 * US, *r[2:6], 0) for r in RESYNC],
        *AFTER,
    ]
    res, strat = run_rows(rows, {3 * US: lambda c: c.buy(1, 90)})
    s = res.summary["instruments"]["t/X"]
    assert (s["unsynced_rows"], s["sync_gaps"]) == (2, 0)
    assert s["unsynced_s"] == pytest.approx(4e-6)
    assert events_of(res, 1) == ["sent_new", "rejected"]  # arrives at 4: no book yet
    assert [e[2] for e in status_log(strat)] == [False, True]


def test_stale_rows_are_skipped_without_a_gap() -> None:
    """``FLAG_STALE`` (a diff already in the book, a snapshot not needed): not applied, and
    the book stays in sync: no status change, no gap, orders accepted."""
    rows = [*BOOK, (20 * US, 20 * US, D, -1, 100, 6, STALE), (30 * US, 30 * US, D, 1, 98, 1, 0)]
    res, strat = run_rows(rows, {10 * US: lambda c: c.buy(1, 100, tif="post_only")})
    assert fills(res) == []  # the stale ask at 100 was not applied
    s = res.summary["instruments"]["t/X"]
    assert (s["unsynced_rows"], s["sync_gaps"], s["unsynced_s"]) == (1, 0, 0.0)
    assert status_log(strat) == []


def test_clean_data_counts_nothing() -> None:
    res, strat = run_rows([(*r[:6], 0) for r in ROWS])
    s = res.summary["instruments"]["t/X"]
    assert (s["unsynced_rows"], s["sync_gaps"], s["unsynced_s"]) == (0, 0, 0.0)
    assert status_log(strat) == []


# --------------------------------------------------------------------------- strategy side
def test_the_strategy_is_told_and_sees_the_stale_book() -> None:
    """``on_book_status`` at the first flagged row (False; the book keeps its last synced
    levels) and after the whole resync snapshot (True, then ``on_quote`` for the new touch);
    the flagged rows never reach the strategy's book."""
    seen: list[tuple] = []
    _res, strat = run_rows(ROWS, {30 * US: lambda c: seen.append(c.book(0).synced)})
    assert seen == [False]
    wakes = [e for e in strat.log if e[0] in ("status", "quote")]
    assert wakes == [
        ("quote", 1 * US, None),  # the book's first rows (bids only)
        ("quote", 1 * US, (100, 101)),
        ("status", 20 * US, False, (100, 101)),  # the last synced touch: stale from here on
        ("status", 60 * US, True, (97, 98)),  # the resync snapshot's book...
        ("quote", 60 * US, (97, 98)),  # ...and its new touch
    ]


def test_declared_subscriptions_choose_the_status_wake_ups() -> None:
    class Declared(Watcher):
        def on_start(self, ctx: Context) -> None:
            super().on_start(ctx)
            ctx.subscribe_book_status(0)

    _, strat = run_rows(ROWS, strategy=Declared)
    assert [e[2] for e in status_log(strat)] == [False, True]
    assert not [e for e in strat.log if e[0] == "quote"]  # not subscribed

    class Quiet(Watcher):
        def on_start(self, ctx: Context) -> None:
            super().on_start(ctx)
            ctx.declare_subscriptions()

    _, strat = run_rows(ROWS, strategy=Quiet)
    assert status_log(strat) == []


@pytest.mark.parametrize("chunk", [1, 3, 7, None])
def test_chunking_does_not_change_the_run(chunk: int | None) -> None:
    """A timer-only strategy subscribed to book status: the same run whatever the chunking
    (the loop leaves its quiet mode while rows flagged unsynced are held)."""

    class TimerStatus(Script):
        def on_start(self, ctx: Context) -> None:
            super().on_start(ctx)
            ctx.subscribe_book_status()

        def on_book_status(self, ctx: Context, instrument: int, synced: bool) -> None:
            self.log.append(("status", ctx.now, synced))
            if synced:
                ctx.buy(1, 96)
            else:
                ctx.cancel_all()

    actions = {10 * US: lambda c: c.buy(1, 99), 30 * US: lambda c: c.buy(1, 98)}
    ref, ref_strat = run_rows(ROWS, actions, strategy=TimerStatus)
    res, strat = run_rows(ROWS, actions, strategy=TimerStatus, chunk=chunk)
    assert strat.log == ref_strat.log
    assert res.orders.equals(ref.orders)
    assert [e[1:] for e in status_log(strat)] == [(20 * US, False), (60 * US, True)]
    assert events_of(res, 1) == ["sent_new", "accepted", "sent_cancel", "canceled"]


def test_risk_stale_feed_pulls_quotes_while_out_of_sync() -> None:
    """``stale_feed`` treats a book out of sync as stale: quotes pulled (cancel all) at the
    gap, orders refused locally meanwhile, resumed after the resync snapshot."""
    actions = {
        10 * US: lambda c: c.buy(1, 90),
        30 * US: lambda c: c.buy(1, 91),
        80 * US: lambda c: c.buy(1, 92),
    }
    res, _ = run_rows(ROWS, actions, risk=RiskConfig(stale_feed_ms=1000.0))
    risk = [(r["ts_local"], r["rule"], r["action"]) for r in res.risk.to_pylist()]
    assert risk == [
        (20 * US, "stale_feed", "pull_quotes"),  # at once, not at the next periodic check
        (30 * US, "stale_feed", "block_order"),
        (60 * US, "stale_feed", "resume"),
    ]
    assert events_of(res, 1) == ["sent_new", "accepted", "sent_cancel", "canceled"]
    assert events_of(res, 2) == ["sent_new", "accepted"]  # after the resume
    assert not [r for r in res.orders.to_pylist() if r["reason"] == "book_unsynced"]


def test_book_gaps_apply_keeps_the_old_behaviour() -> None:
    """``book_gaps="apply"`` (for captures without a usable snapshot) applies flagged rows as
    if in sync: the flagged asks at 25 cross our bid and fill it; nothing is held or told."""
    res, strat = run_rows(
        ROWS, {10 * US: lambda c: c.buy(1, 100, tif="post_only")}, book_gaps="apply"
    )
    assert fills(res) == [(1, 100.0, 1.0, "maker")]
    assert res.fills.to_pylist()[0]["ts_exchange"] == 25 * US
    s = res.summary["instruments"]["t/X"]
    assert (s["unsynced_rows"], s["sync_gaps"], s["unsynced_s"]) == (0, 0, 0.0)
    assert status_log(strat) == []
