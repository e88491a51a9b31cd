"""QuoteManager through real backtests on the synthetic market (orders, fills, latencies).

The strategy below pegs one or more levels to the touch (or through it, to provoke post-only
rejects) and records what it wanted; the assertions read the run's order log.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from hftlab.backtest.result import BacktestResult
from hftlab.errors import ConfigError
from hftlab.strategy import Strategy
from hftlab.strategy.context import Context
from hftlab.strategy.quote_manager import QuoteManager

MS = 1_000_000
REQUESTS = {"sent_new", "sent_modify", "sent_cancel"}
ANSWERS = {"accepted", "rejected", "modified", "modify_rejected", "canceled", "cancel_rejected"}
TERMINAL = {"filled", "canceled", "rejected", "expired"}


class Pegger(Strategy):
    """Wants ``levels`` bids from ``best_bid − offset`` down (asks mirrored), every 100 ms.

    ``cross=True`` wants the bid at the best ask and the ask at the best bid (always crossing:
    every such order is a post-only reject unless the manager backs off).
    """

    def __init__(
        self,
        *,
        offset: int = 0,
        cross: bool = False,
        levels: int = 1,
        lots: int = 10,
        jitter: int = 0,
        **qm: Any,
    ) -> None:
        super().__init__()
        self.offset, self.cross, self.levels, self.lots, self.jitter = (
            offset,
            cross,
            levels,
            lots,
            jitter,
        )
        self.qm_kw = qm
        self.trace: list[tuple[int, int, int, int, int, int, int]] = []

    def on_start(self, ctx: Context) -> None:
        self.qm = QuoteManager(0, levels=self.levels, **self.qm_kw)
        self.book = ctx.book(0)
        self.rng = np.random.default_rng(3)
        # Watch the requests on their way to the session's sink.
        self.sent: list[tuple[int, ...]] = []
        to_sink = ctx._log_request

        def log_request(row: tuple[int, int, int, int, int, int, int, int]) -> None:
            self.sent.append(row)
            to_sink(row)

        ctx._log_request = log_request
        ctx.every(100 * MS)

    def on_timer(self, ctx: Context) -> None:
        (bt, bq), (at, aq) = self.book.best_bid_ticks, self.book.best_ask_ticks
        if not bq or not aq:
            return
        j = int(self.rng.integers(-self.jitter, self.jitter + 1)) if self.jitter else 0
        want_b = (at if self.cross else bt - self.offset) + j
        want_a = (bt if self.cross else at + self.offset) + j
        bids = [want_b - i for i in range(self.levels)]
        asks = [want_a + i for i in range(self.levels)]
        sizes = [self.lots] * self.levels
        slot = self.qm.orders(1)[0]
        live = slot.price_ticks if slot is not None and slot.status != 0 else None
        was_idle = slot is not None and not self.qm.busy(1)
        n_sent = len(self.sent)
        self.qm.set_side(ctx, 1, bids, sizes, self.levels)
        kinds = [row[3] for row in self.sent[n_sent:] if slot is not None and row[1] == slot.id]
        # only a live order that is still the level's order after the call is comparable
        same = slot is not None and self.qm.orders(1)[0] is slot and slot.is_open
        self.trace.append(
            (
                ctx.now,
                want_b - self.qm.backoff(1),
                -1 if live is None else live,
                int(was_idle and same),
                len(kinds),
                self.qm.backoff(1),
                at,
            )
        )
        self.qm.set_side(ctx, -1, asks, sizes, self.levels)

    def on_stop(self, ctx: Context) -> None:
        self.qm.cancel_all(ctx)


def _by_order(orders: pa.Table) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in orders.to_pylist():
        out[row["order_id"]].append(row)
    return out


def _stop_time(res: BacktestResult) -> int:
    return int(res.summary["last_ts"])


def _assert_one_request_in_flight(res: BacktestResult) -> None:
    stop = _stop_time(res)
    for oid, rows in _by_order(res.orders).items():
        waiting = False
        for r in rows:
            if r["event"] in REQUESTS:
                # the only exception: the stop-time cancel queued behind a request
                assert not waiting or (r["event"] == "sent_cancel" and r["ts_local"] == stop), (
                    f"order {oid}: {r['event']} at {r['ts_local']} while a request is in flight"
                )
                waiting = True
            elif r["event"] in ANSWERS:
                waiting = False


def test_one_request_per_order_and_all_cancelled_at_stop(run) -> None:  # type: ignore[no-untyped-def]
    strat = Pegger(levels=2, jitter=2, max_order_age_ms=2000)
    res = run(strat, entry_latency={"value_us": 20_000}, response_latency={"value_us": 20_000})
    st = strat.qm.stats
    assert st.sent > 10 and st.modified > 10 and res.fills.num_rows > 0
    _assert_one_request_in_flight(res)
    # every order is closed (filled, cancelled, rejected) or got a cancel at the stop (requests
    # still travelling when the data ends are never answered)
    stop = _stop_time(res)
    for oid, rows in _by_order(res.orders).items():
        closed = any(r["status"] in TERMINAL for r in rows)
        cancelled_at_stop = any(r["event"] == "sent_cancel" and r["ts_local"] == stop for r in rows)
        assert closed or cancelled_at_stop, f"order {oid} left open: {rows[-1]}"
    # the manager's counters agree with the order log
    ev = res.orders["event"].to_pylist()
    assert st.sent == ev.count("sent_new")
    assert st.modified == ev.count("sent_modify")
    assert st.cancelled == ev.count("sent_cancel")


@pytest.mark.parametrize("tol", [0, 2])
def test_priority_kept_within_tolerance_replaced_beyond(run, tol: int) -> None:  # type: ignore[no-untyped-def]
    strat = Pegger(jitter=3, tolerance_ticks=tol)
    run(strat)
    checked = moved = kept = 0
    for _, want, live, idle, n_req, _, _ in strat.trace:
        if live < 0 or not idle:
            continue
        checked += 1
        if abs(want - live) > tol:
            assert n_req == 1, (want, live)  # one modify
            moved += 1
        else:
            assert n_req == 0, (want, live)  # queue position kept
            kept += 1
    assert checked > 100 and moved > 10 and kept > 10


def test_tolerance_reduces_modifies(run) -> None:  # type: ignore[no-untyped-def]
    tight, loose = Pegger(jitter=3), Pegger(jitter=3, tolerance_ticks=3)
    run(tight)
    run(loose)
    assert loose.qm.stats.modified < tight.qm.stats.modified / 2


def test_modify_prices_exceed_tolerance_in_order_log(run) -> None:  # type: ignore[no-untyped-def]
    tol = 2
    strat = Pegger(jitter=4, tolerance_ticks=tol)
    res = run(strat)
    n = 0
    for rows in _by_order(res.orders).values():
        price = None
        for r in rows:
            if r["event"] in ("sent_new", "accepted", "modified"):
                price = r["price"]
            elif r["event"] == "sent_modify":
                assert price is not None and abs(r["price"] - price) > tol  # tick = 1.0
                n += 1
    assert n > 10


def test_cancel_new_mode_replaces_without_modify(run) -> None:  # type: ignore[no-untyped-def]
    strat = Pegger(jitter=3, replace="cancel_new")
    res = run(strat)
    ev = res.orders["event"].to_pylist()
    assert ev.count("sent_modify") == 0
    assert strat.qm.stats.cancelled > 10
    _assert_one_request_in_flight(res)
    # a cancel and its replacement go out at the same instant
    sent = [(r["ts_local"], r["event"]) for r in res.orders.to_pylist() if r["event"] in REQUESTS]
    times_new = {t for t, e in sent if e == "sent_new"}
    stop = _stop_time(res)
    cancels = [t for t, e in sent if e == "sent_cancel" and t != stop]
    assert cancels and all(t in times_new for t in cancels)


def test_max_order_age_refreshes(run) -> None:  # type: ignore[no-untyped-def]
    age_ms = 1000
    strat = Pegger(offset=3, tolerance_ticks=1000, max_order_age_ms=age_ms)
    res = run(strat)
    stop = _stop_time(res)
    lifetimes = []
    for rows in _by_order(res.orders).values():
        t_new = next(r["ts_local"] for r in rows if r["event"] == "sent_new")
        for r in rows:
            if r["event"] == "sent_cancel" and r["ts_local"] != stop:
                lifetimes.append(r["ts_local"] - t_new)
    assert lifetimes and strat.qm.stats.refreshed == len(lifetimes)
    # refreshed at the first wake-up (100 ms timer) at or after the maximum age
    assert min(lifetimes) >= age_ms * MS
    assert max(lifetimes) < (age_ms + 100) * MS
    assert res.orders["event"].to_pylist().count("sent_modify") == 0  # tolerance: never moved


@pytest.mark.parametrize("mode", ["leave", "resize"])
def test_partial_fills(run, mode: str) -> None:  # type: ignore[no-untyped-def]
    lots = 2000  # 0.2 BTC at the touch: trades eat it in pieces
    strat = Pegger(lots=lots, tolerance_ticks=2, partial_fill=mode)
    res = run(strat)
    assert strat.qm.stats.partial_fills > 0
    resizes = 0
    for rows in _by_order(res.orders).values():
        qty0 = rows[0]["qty"]
        filled = 0.0
        for r in rows:
            if r["event"] == "fill":
                filled = r["filled"]
            elif r["event"] == "sent_modify" and r["qty"] != pytest.approx(qty0):
                resizes += 1
                # topped up to filled + wanted size (lot 0.0001)
                assert r["qty"] == pytest.approx(filled + lots * 1e-4)
    if mode == "leave":
        assert resizes == 0 and strat.qm.stats.resized == 0
    else:
        assert resizes > 0 and strat.qm.stats.resized > 0


def test_post_only_rejects_back_off(run) -> None:  # type: ignore[no-untyped-def]
    lat = {"entry_latency": {"value_us": 5_000}, "response_latency": {"value_us": 5_000}}
    stubborn = Pegger(cross=True, reject_backoff_ticks=0)
    res0 = run(stubborn, **lat)
    backing = Pegger(cross=True, reject_backoff_ticks=1, max_backoff_ticks=3)
    res1 = run(backing, **lat)
    s0, s1 = stubborn.qm.stats, backing.qm.stats
    assert s0.post_only_rejects > 0 and s1.post_only_rejects > 0
    # counted post-only rejects match the order log (answers delivered before the stop; other
    # rejects, e.g. a modify that lost the race against a fill, close the order as filled)
    for res, st in ((res0, s0), (res1, s1)):
        stop = _stop_time(res)
        logged = sum(
            1
            for r in res.orders.to_pylist()
            # a post-only modify that would take is cancelled by the venue (Binance's rule)
            if r["event"] in ("rejected", "modify_rejected", "canceled")
            and r["reason"] in ("post_only_would_cross", "would_cross")
            and r["ts_local"] <= stop
        )
        assert st.post_only_rejects == logged
    # backing off one tick lets quotes rest; without it nearly every crossing order is rejected
    acc0 = res0.orders["event"].to_pylist().count("accepted") / max(s0.sent, 1)
    acc1 = res1.orders["event"].to_pylist().count("accepted") / max(s1.sent, 1)
    assert acc1 > acc0
    # the back-off builds up after rejects, never beyond its cap, and decays without them
    backoffs = [b for *_, b, _ in backing.trace]
    assert 0 < max(backoffs) <= 3
    assert any(b1 < b0 for b0, b1 in itertools.pairwise(backoffs))
    assert all(b == 0 for *_, b, _ in stubborn.trace)


def test_bad_parameters_are_config_errors() -> None:
    for kw, name in (
        ({"levels": 0}, "levels"),
        ({"tolerance_ticks": -1}, "tolerance_ticks"),
        ({"max_order_age_ms": -5}, "max_order_age_ms"),
        ({"partial_fill": "keep"}, "partial_fill"),
        ({"replace": "amend"}, "replace"),
        ({"tif": "ioc"}, "tif"),
    ):
        with pytest.raises(ConfigError, match=name) as exc:
            QuoteManager(0, **kw)  # type: ignore[arg-type]
        assert "\n" not in str(exc.value)
