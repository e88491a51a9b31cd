"""Hand-computed scenarios: queue models, latency ordering, races, order types, fees, PnL.

Times are in µs * 1000 (ns) so latencies given in µs read naturally; prices are ticks of 1.0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from simhelpers import INST, B, C, D, S, T, events, events_of, fills, run

from hftlab.errors import ConfigError
from hftlab.events import ContractType, Instrument
from hftlab.sim import _core
from hftlab.sim import _layout as L
from hftlab.sim.config import DEFAULT_MODIFY_RULE, VENUE_MODIFY_RULES, Fees, SimConfig

US = 1_000


def base_book(t: int = 1 * US) -> list[tuple]:
    return [
        (t, t, D, 1, 100, 5),
        (t, t, D, 1, 99, 7),
        (t, t, D, -1, 101, 3),
        (t, t, D, -1, 102, 4),
        (t, t, D, -1, 103, 5),
    ]


# --------------------------------------------------------------------------- queue models
def test_risk_averse_queue() -> None:
    """Front = 5 at entry; +3 joins behind (no change); 8 -> 3 caps front at 3; trades advance."""
    rows = [
        *base_book(),
        (20 * US, 20 * US, D, 1, 100, 8),
        (30 * US, 30 * US, D, 1, 100, 3),  # front = min(5, 3) = 3
        (40 * US, 40 * US, T, -1, 100, 2),  # front 3 -> 1, no fill
        (50 * US, 50 * US, T, -1, 100, 2),  # front 1 -> 0, excess 1: fill 1
        (60 * US, 60 * US, T, -1, 100, 5),  # fills the remaining 1
    ]
    res, _ = run(rows, {10 * US: lambda c: c.buy(2, 100)}, queue_model="risk_averse")
    assert fills(res) == [(1, 100.0, 1.0, "maker"), (1, 100.0, 1.0, "maker")]
    ts = [r["ts_exchange"] for r in res.fills.to_pylist()]
    assert ts == [50 * US, 60 * US]


def test_risk_averse_ignores_cancels_ahead() -> None:
    """A decrease that still leaves more than our front does not advance us."""
    rows = [
        *base_book(),
        (20 * US, 20 * US, D, 1, 100, 9),  # 4 join behind
        (30 * US, 30 * US, D, 1, 100, 6),  # 3 cancel: front stays 5 (risk averse)
        (40 * US, 40 * US, T, -1, 100, 5),  # front 5 -> 0: no fill yet
    ]
    res, _ = run(rows, {10 * US: lambda c: c.buy(1, 100)}, queue_model="risk_averse")
    assert fills(res) == []


def test_prob_queue_formula() -> None:
    # power n=2: front 10, back 5, decrease 6 -> P(behind) = 25/125 = 0.2
    # est = 10 - 0.8*6 + min(5 - 0.2*6, 0) = 5.2
    assert _core.queue_on_depth(L.QM_PROB_POWER, 2.0, 10.0, 0.0, 15, 9) == pytest.approx(5.2)
    # log: P = log1p(5) / (log1p(5) + log1p(10))
    p = math.log1p(5) / (math.log1p(5) + math.log1p(10))
    assert _core.queue_on_depth(L.QM_PROB_LOG, 0.0, 10.0, 0.0, 15, 9) == pytest.approx(
        10 - (1 - p) * 6
    )
    # Trades already counted are not counted twice: 15 -> 9 after 6 traded is no cancel.
    assert _core.queue_on_depth(L.QM_PROB_POWER, 2.0, 4.0, 6.0, 15, 9) == pytest.approx(4.0)
    # A decrease larger than the back eats into the front: front 2, back 1, decrease 5 (n=1):
    # P = 1/3, est = 2 - 2/3*5 + min(1 - 5/3, 0) = -2 -> clamped at 0.
    assert _core.queue_on_depth(L.QM_PROB_POWER, 1.0, 2.0, 0.0, 3, 0) == 0.0
    # Increases never move us; the level caps the front.
    assert _core.queue_on_depth(L.QM_PROB_POWER, 2.0, 4.0, 0.0, 5, 8) == 4.0


def test_prob_power_queue_scenario() -> None:
    """Front 10; 5 join; 6 cancel -> front 5.2; trade 6 -> front 0 (0.8 excess, < 1 lot);
    trade 3 -> fills our 2."""
    rows = [
        (1 * US, 1 * US, D, 1, 100, 10),
        (1 * US, 1 * US, D, -1, 101, 10),
        (20 * US, 20 * US, D, 1, 100, 15),
        (30 * US, 30 * US, D, 1, 100, 9),
        (40 * US, 40 * US, T, -1, 100, 6),
        (50 * US, 50 * US, T, -1, 100, 3),
    ]
    res, _ = run(
        rows, {10 * US: lambda c: c.buy(2, 100)}, queue_model="prob_power", queue_power=2.0
    )
    assert fills(res) == [(1, 100.0, 2.0, "maker")]
    assert res.fills["ts_exchange"].to_pylist() == [50 * US]
    # The risk-averse model would still have 10 - 6 - 3 = 1 lot ahead: no fill.
    res2, _ = run(rows, {10 * US: lambda c: c.buy(2, 100)}, queue_model="risk_averse")
    assert fills(res2) == []


def test_trade_through_fills_everything() -> None:
    rows = [*base_book(), (20 * US, 20 * US, T, -1, 99, 1)]
    res, _ = run(rows, {10 * US: lambda c: c.buy(4, 100)}, queue_model="risk_averse")
    assert fills(res) == [(1, 100.0, 4.0, "maker")]


def test_book_crossing_our_order_fills_it() -> None:
    rows = [*base_book(), (20 * US, 20 * US, D, -1, 100, 2)]  # ask at our bid price
    res, _ = run(rows, {10 * US: lambda c: c.buy(4, 100)}, queue_model="risk_averse")
    assert fills(res) == [(1, 100.0, 4.0, "maker")]


def test_l1_intensity_model() -> None:
    """Quote-only data: A huge -> filled at the next quote; A = 0 -> never (unless crossed)."""
    rows = [(t * US, t * US, B, 0, 100, 5, 0, 101, 5) for t in (1, 20, 30)]
    act = {10 * US: lambda c: c.buy(1, 99)}
    res, _ = run(rows, act, queue_model="l1", l1_a=1e12, l1_k=0.0, book_from_bbo=[True])
    assert fills(res) == [(1, 99.0, 1.0, "maker")]
    assert res.fills["ts_exchange"].to_pylist() == [20 * US]
    res, _ = run(rows, act, queue_model="l1", l1_a=0.0, book_from_bbo=[True])
    assert fills(res) == []
    crossing = [*rows, (40 * US, 40 * US, B, 0, 97, 5, 0, 98, 5)]
    res, _ = run(crossing, act, queue_model="l1", l1_a=0.0, book_from_bbo=[True])
    assert fills(res) == [(1, 99.0, 1.0, "maker")]


def test_l1_fill_rate_matches_intensity() -> None:
    """Fraction filled within dt is 1 - exp(-A e^(-k δ) dt): A=2/s, k=0.5, δ=2, dt=1 s."""
    lam = 2.0 * math.exp(-0.5 * 2)
    expected = 1 - math.exp(-lam * 1.0)
    n_fill = 0
    trials = 300
    for seed in range(trials):
        rows = [(t, t, B, 0, 100, 5, 0, 101, 5) for t in (1, 10**9 + 1, 2 * 10**9 + 1)]
        res, _ = run(
            rows,
            {1: lambda c: c.buy(1, 98)},
            queue_model="l1",
            l1_a=2.0,
            l1_k=0.5,
            book_from_bbo=[True],
            seed=seed,
            record_interval_ms=0,
        )
        n_fill += any(r == 10**9 + 1 for r in res.fills["ts_exchange"].to_pylist())
    assert abs(n_fill / trials - expected) < 4 * math.sqrt(expected * (1 - expected) / trials)


# --------------------------------------------------------------------------- latency
def test_latency_ordering() -> None:
    """Entry 5 µs, response 7 µs, feed latency 3 µs: every clock lines up."""
    rows = [
        (1 * US, 4 * US, D, 1, 99, 5),
        (1 * US, 4 * US, D, -1, 101, 5),
        (12 * US, 15 * US, D, -1, 100, 1),  # at the exchange before our order (arrives at 15)
        (30 * US, 33 * US, D, 1, 98, 1),
    ]
    res, strat = run(rows, {10 * US: lambda c: c.buy(1, 100)}, entry_us=5, response_us=7)
    o = [r for r in res.orders.to_pylist() if r["order_id"] == 1]
    assert [(r["event"], r["ts_exchange"], r["ts_local"], r["liquidity"]) for r in o] == [
        ("sent_new", None, 10 * US, ""),
        ("accepted", 15 * US, 22 * US, ""),  # arrives at 10 + 5, acknowledged at 15 + 7
        ("fill", 15 * US, 22 * US, "taker"),  # the ask that came at 12 was there to take
    ]
    assert ("fill", 22 * US, 1, 100.0, 1.0, False) in strat.log
    assert ("order", 22 * US, 1, "FILLED", 1) in strat.log


def test_strategy_sees_book_at_local_time() -> None:
    """The exchange applies a bid at 8 that the strategy only sees at 60."""
    seen = {}
    rows = [
        (1 * US, 5 * US, D, 1, 100, 5),
        (1 * US, 5 * US, D, -1, 110, 5),
        (8 * US, 60 * US, D, 1, 105, 1),  # 52 µs feed latency
        (70 * US, 70 * US, D, -1, 111, 1),
    ]

    def look(c):
        seen["bid"] = c.book().best_bid
        c.sell(1, 105, tif="ioc")  # the strategy cannot see 105, but it is there

    res, _ = run(rows, {10 * US: look})
    assert seen["bid"] == 100.0
    assert fills(res) == [(1, 105.0, 1.0, "taker")]


def test_negative_feed_latency_is_clamped() -> None:
    """ts_exchange after ts_local (unsynced clocks): the exchange applies it at ts_local."""
    rows = [
        (9 * US, 5 * US, D, 1, 100, 5),
        (9 * US, 5 * US, D, -1, 101, 5),
        (20 * US, 20 * US, D, 1, 100, 4),
    ]
    res, _ = run(rows, {6 * US: lambda c: c.sell(1, 100, tif="ioc")})
    assert fills(res) == [(1, 100.0, 1.0, "taker")]


# --------------------------------------------------------------------------- cancel race
def _race_rows() -> list[tuple]:
    return [*base_book(), (25 * US, 25 * US, T, -1, 99, 1)]  # sweeps our bid at 25


def test_cancel_loses_race_against_fill() -> None:
    """Cancel sent at 20 arrives at 30; the sweep at 25 filled us first."""
    res, _strat = run(
        [*_race_rows(), (40 * US, 40 * US, D, 1, 98, 1)],
        {10 * US: lambda c: c.buy(2, 100), 20 * US: lambda c: c.cancel_all()},
        entry_us=10,
        queue_model="risk_averse",
    )
    assert events_of(res, 1) == ["sent_new", "accepted", "sent_cancel", "fill", "cancel_rejected"]
    assert res.orders.to_pylist()[-1]["reason"] == "unknown_order"
    assert res.summary["instruments"]["t/X"]["position"] == 2.0


def test_cancel_wins_race() -> None:
    res, _ = run(
        _race_rows(),
        {10 * US: lambda c: c.buy(2, 100), 12 * US: lambda c: c.cancel_all()},
        entry_us=10,
        queue_model="risk_averse",
    )
    # Cancel sent at 12 (before the ack at 20) arrives at 22, before the sweep at 25.
    assert events_of(res, 1) == ["sent_new", "sent_cancel", "accepted", "canceled"]
    assert res.summary["instruments"]["t/X"]["position"] == 0.0


# --------------------------------------------------------------------------- order types
def test_post_only_rejected_when_crossing() -> None:
    res, strat = run(
        [*base_book(), (30 * US, 30 * US, D, 1, 99, 1)],
        {10 * US: lambda c: c.buy(1, 101, tif="post_only")},
    )
    rows = [r for r in res.orders.to_pylist() if r["order_id"] == 1]
    assert [r["event"] for r in rows] == ["sent_new", "rejected"]
    assert rows[-1]["reason"] == "post_only_would_cross"
    assert ("order", 10 * US, 1, "REJECTED", 0) in strat.log


def test_post_only_rests_when_not_crossing() -> None:
    res, _ = run(
        [*base_book(), (30 * US, 30 * US, D, 1, 99, 1)],
        {10 * US: lambda c: c.sell(1, 101, tif="post_only")},
    )
    assert events_of(res, 1) == ["sent_new", "accepted"]


def test_market_order_sweeps_the_book() -> None:
    res, _ = run([*base_book(), (30 * US, 30 * US, D, 1, 99, 1)], {10 * US: lambda c: c.buy(10)})
    assert fills(res) == [
        (1, 101.0, 3.0, "taker"),
        (1, 102.0, 4.0, "taker"),
        (1, 103.0, 3.0, "taker"),
    ]
    assert events_of(res, 1)[-1] == "fill"


def test_market_order_larger_than_book_expires_rest() -> None:
    res, _ = run([*base_book(), (30 * US, 30 * US, D, 1, 99, 1)], {10 * US: lambda c: c.buy(20)})
    assert sum(f[2] for f in fills(res)) == 12.0
    last = [r for r in res.orders.to_pylist() if r["order_id"] == 1][-1]
    assert (last["event"], last["filled"], last["qty"]) == ("expired", 12.0, 20.0)


def test_ioc_takes_up_to_limit_then_expires() -> None:
    res, _ = run(
        [*base_book(), (30 * US, 30 * US, D, 1, 99, 1)],
        {10 * US: lambda c: c.buy(10, 102, tif="ioc")},
    )
    assert fills(res) == [(1, 101.0, 3.0, "taker"), (1, 102.0, 4.0, "taker")]
    assert events_of(res, 1)[-1] == "expired"


def test_gtc_crossing_takes_then_rests() -> None:
    res, _ = run(
        [*base_book(), (30 * US, 30 * US, D, -1, 104, 1)], {10 * US: lambda c: c.buy(10, 102)}
    )
    assert fills(res) == [(1, 101.0, 3.0, "taker"), (1, 102.0, 4.0, "taker")]
    assert events_of(res, 1)[-1] == "fill"
    st = res.state.to_pylist()[-1]
    assert (st["bid"], st["bid_qty"]) == (102.0, 3.0)  # the rest rests at 102


def test_taken_liquidity_is_not_taken_twice() -> None:
    res, _ = run(
        [*base_book(), (30 * US, 30 * US, D, 1, 99, 1)],
        {10 * US: lambda c: (c.buy(2, 101, tif="ioc"), c.buy(2, 101, tif="ioc"))},
    )
    assert fills(res) == [(1, 101.0, 2.0, "taker"), (2, 101.0, 1.0, "taker")]


def test_self_trade_rejected() -> None:
    res, _ = run(
        [*base_book(), (30 * US, 30 * US, D, 1, 99, 1)],
        {10 * US: lambda c: (c.sell(1, 104), c.buy(1, 104, tif="post_only"))},
    )
    assert events_of(res, 2)[-1] == "rejected"
    assert res.orders.to_pylist()[-1]["reason"] in ("post_only_would_cross", "self_trade")


def test_modify_loses_priority_on_price_or_size_up() -> None:
    """Front 5 at 100; a size decrease keeps it, a size increase sends us back (front 5+)."""
    rows = [
        *base_book(),
        (20 * US, 20 * US, D, 1, 100, 9),  # 4 join behind us
        (40 * US, 40 * US, T, -1, 100, 6),  # kept priority: front 5 -> fill 1
    ]
    res, _ = run(
        rows,
        {10 * US: lambda c: c.buy(3, 100), 30 * US: lambda c: c.modify(c.open_orders()[0], qty=2)},
        queue_model="risk_averse",
    )
    assert fills(res) == [(1, 100.0, 1.0, "maker")]
    res, _strat = run(
        rows,
        {10 * US: lambda c: c.buy(3, 100), 30 * US: lambda c: c.modify(c.open_orders()[0], qty=4)},
        queue_model="risk_averse",
    )
    assert fills(res) == []  # back of a queue of 9: the trade of 6 does not reach us
    assert "modified" in events_of(res, 1)


# Binance's three venue types, tick and lot 1 so the hand-built rows read as in the tests above.
VENUE_TYPES = {
    "spot": Instrument(venue="binance", symbol="X", tick_size=1.0, lot_size=1.0),
    "usdm": Instrument(
        venue="binance-futures",
        symbol="X",
        tick_size=1.0,
        lot_size=1.0,
        contract_type=ContractType.LINEAR,
    ),
    "coinm": Instrument(
        venue="binance-delivery",
        symbol="X_PERP",
        tick_size=1.0,
        lot_size=1.0,
        contract_type=ContractType.INVERSE,
        contract_size=100.0,
    ),
    "synthetic": INST,  # a venue without a rule of its own: Binance's
}


def _crossing_modify(inst: Instrument, **cfg: object) -> tuple[list[dict], object]:
    """A post-only bid at 100 (best ask 101) modified to 101 at 30: it would take."""
    script = {
        10 * US: lambda c: c.buy(2, 100, tif="post_only"),
        30 * US: lambda c: c.modify(c.open_orders()[0], price=101),
    }
    res, strat = run(
        [*base_book(), (50 * US, 50 * US, D, 1, 98, 1)], script, instruments=(inst,), **cfg
    )
    rows = [r for r in res.orders.to_pylist() if r["order_id"] == 1]
    return rows, strat


@pytest.mark.parametrize("venue_type", list(VENUE_TYPES))
def test_post_only_modify_that_would_cross_cancels(venue_type: str) -> None:
    """Binance cancels a post-only (GTX / LIMIT_MAKER) order whose modify would take liquidity
    (USD-M and COIN-M Modify Order; spot's cancel-replace cancels, then rejects the maker
    order), on every venue type: the strategy sees it cancelled with the post-only reason."""
    inst = VENUE_TYPES[venue_type]
    rows, strat = _crossing_modify(inst)
    assert [r["event"] for r in rows] == ["sent_new", "accepted", "sent_modify", "canceled"]
    last = rows[-1]
    assert (last["status"], last["reason"]) == ("canceled", "post_only_would_cross")
    assert (last["price"], last["qty"], last["filled"]) == (100.0, 2.0, 0.0)  # as it stood
    assert ("order", 30 * US, 1, "CANCELED", 0) in strat.log
    assert strat.orders_seen[1].reject_reason == L.RJ_POST_ONLY


def test_post_only_modify_rule_reject_keeps_the_order() -> None:
    """``modify_rule="reject"`` (a venue that refuses the amend): the order stays at 100."""
    rows, strat = _crossing_modify(INST, modify_rule="reject")
    assert [r["event"] for r in rows] == ["sent_new", "accepted", "sent_modify", "modify_rejected"]
    assert (rows[-1]["status"], rows[-1]["price"]) == ("new", 100.0)
    assert strat.orders_seen[1].is_open


def test_gtc_modify_that_would_cross_is_rejected() -> None:
    """A GTC modify through the touch is rejected (``would_cross``) and the order kept."""
    script = {
        10 * US: lambda c: c.buy(2, 100),
        30 * US: lambda c: c.modify(c.open_orders()[0], price=101),
    }
    res, _ = run([*base_book(), (50 * US, 50 * US, D, 1, 98, 1)], script)
    rows = [r for r in res.orders.to_pylist() if r["order_id"] == 1]
    assert (rows[-1]["event"], rows[-1]["reason"]) == ("modify_rejected", "would_cross")


@pytest.mark.parametrize(("rule", "event"), [("venue", "canceled"), ("reject", "modify_rejected")])
def test_modify_to_filled_size_cancels(rule: str, event: str) -> None:
    """Binance cancels a partially filled order modified to a size at or below the filled size;
    with ``modify_rule="reject"`` the modify is rejected (``bad_qty``) and the rest rests."""
    rows = [*base_book(), (20 * US, 20 * US, T, -1, 100, 6), (50 * US, 50 * US, D, 1, 98, 1)]
    script = {
        10 * US: lambda c: c.buy(3, 100),  # front 5; the trade of 6 fills 1
        30 * US: lambda c: c.modify(c.open_orders()[0], qty=1),
    }
    res, _ = run(rows, script, queue_model="risk_averse", modify_rule=rule)
    last = [r for r in res.orders.to_pylist() if r["order_id"] == 1][-1]
    assert (last["event"], last["reason"], last["filled"]) == (event, "bad_qty", 1.0)
    assert res.summary["instruments"]["t/X"]["position"] == 1.0


def test_modify_rule_per_venue() -> None:
    cfg = SimConfig()
    assert {v: cfg.modify_rule_for(v) for v in VENUE_MODIFY_RULES} == {
        "binance": "cancel",
        "binance-futures": "cancel",
        "binance-delivery": "cancel",
    }
    assert cfg.modify_rule_for("synth") == DEFAULT_MODIFY_RULE == "cancel"
    assert SimConfig(modify_rule="reject").modify_rule_for("binance") == "reject"
    with pytest.raises(ConfigError):
        SimConfig.from_dict({"modify_rule": "amend"})


def test_partial_fill_invariant() -> None:
    rows = [*base_book(), (20 * US, 20 * US, T, -1, 100, 6), (30 * US, 30 * US, T, -1, 100, 1)]
    res, _ = run(rows, {10 * US: lambda c: c.buy(3, 100)}, queue_model="risk_averse")
    for r in res.orders.to_pylist():
        if r["event"] != "sent_new":
            assert r["filled"] <= r["qty"]
    assert [f[2] for f in fills(res)] == [1.0, 1.0]


# --------------------------------------------------------------------------- fees and PnL
def test_fees_and_rebates() -> None:
    rows = [*base_book(), (20 * US, 20 * US, T, -1, 99, 1), (30 * US, 30 * US, D, 1, 98, 1)]
    res, _ = run(
        rows,
        {10 * US: lambda c: (c.buy(2, 100), c.sell(1))},
        fees=Fees(maker=-0.0001, taker=0.0004),
        queue_model="risk_averse",
    )
    # taker sell 1 @100 (best bid): +100 - 0.04 fee; maker buy 2 @100: -200 + 0.02 rebate
    s = res.summary["instruments"]["t/X"]
    assert s["fees"] == pytest.approx(0.04 - 0.02)
    assert s["cash"] == pytest.approx(100 - 0.04 - 200 + 0.02)
    assert s["position"] == 1.0


def test_inverse_contract_pnl() -> None:
    """Buy 10 contracts of 100 USD at 50000, sell at 51000: PnL = 1000 * (1/50000 - 1/51000)."""
    inv = Instrument(
        venue="t",
        symbol="XBTUSD",
        tick_size=0.5,
        lot_size=1.0,
        contract_type=ContractType.INVERSE,
        contract_size=100.0,
    )
    rows = [
        (1 * US, 1 * US, D, 1, 99_998, 100),  # 49999.0
        (1 * US, 1 * US, D, -1, 100_000, 100),  # 50000.0
        (20 * US, 20 * US, D, -1, 100_000, 0),
        (20 * US, 20 * US, D, -1, 102_002, 100),
        (20 * US, 20 * US, D, 1, 102_000, 100),  # bid 51000.0
        (40 * US, 40 * US, D, 1, 102_001, 1),
    ]
    res, _ = run(
        rows,
        {10 * US: lambda c: c.buy(10), 30 * US: lambda c: c.sell(10)},
        instruments=[inv],
        fees=Fees(taker=0.0005),
    )
    s = res.summary["instruments"]["t/XBTUSD"]
    gross = 1000 * (1 / 50000 - 1 / 51000)
    fees = 0.0005 * (1000 / 50000 + 1000 / 51000)
    assert s["position"] == 0.0
    assert s["cash"] == pytest.approx(gross - fees, rel=1e-12)
    assert s["equity"] == pytest.approx(gross - fees, rel=1e-12)


def test_inverse_equity_marked_to_mid() -> None:
    inv = Instrument(
        venue="t",
        symbol="XBTUSD",
        tick_size=0.5,
        lot_size=1.0,
        contract_type=ContractType.INVERSE,
        contract_size=100.0,
    )
    rows = [
        (1 * US, 1 * US, D, 1, 99_998, 100),
        (1 * US, 1 * US, D, -1, 100_000, 100),
        (20 * US, 20 * US, D, -1, 100_000, 0),
        (20 * US, 20 * US, D, 1, 99_998, 0),
        (20 * US, 20 * US, D, -1, 101_002, 100),
        (20 * US, 20 * US, D, 1, 101_000, 100),
    ]
    res, _ = run(rows, {10 * US: lambda c: c.buy(10)}, instruments=[inv])
    mid = 101_001 * 0.5
    s = res.summary["instruments"]["t/XBTUSD"]
    assert s["equity"] == pytest.approx(1000 / 50000 - 1000 / mid, rel=1e-12)


def test_linear_contract_size() -> None:
    lin = Instrument(
        venue="t",
        symbol="ETHUSD",
        tick_size=0.01,
        lot_size=1.0,
        contract_type=ContractType.LINEAR,
        contract_size=0.01,
    )
    rows = [
        (1 * US, 1 * US, D, 1, 300_000, 100),
        (1 * US, 1 * US, D, -1, 300_001, 100),
        (20 * US, 20 * US, D, -1, 300_001, 0),
        (20 * US, 20 * US, D, -1, 310_001, 100),
        (20 * US, 20 * US, D, 1, 310_000, 100),
        (40 * US, 40 * US, D, 1, 309_000, 1),
    ]
    res, _ = run(
        rows, {10 * US: lambda c: c.buy(5), 30 * US: lambda c: c.sell(5)}, instruments=[lin]
    )
    s = res.summary["instruments"]["t/ETHUSD"]
    assert s["cash"] == pytest.approx(5 * 0.01 * (3100.00 - 3000.01))


# --------------------------------------------------------------------------- multi, chunks
def test_several_instruments_and_chunking() -> None:
    y = Instrument(venue="t", symbol="Y", tick_size=1.0, lot_size=1.0)
    rows = [
        (1 * US, 1 * US, D, 1, 100, 5, 0),
        (1 * US, 1 * US, D, -1, 101, 5, 0),
        (2 * US, 2 * US, D, 1, 50, 5, 1),
        (2 * US, 2 * US, D, -1, 51, 5, 1),
    ] + [(t * US, t * US, D, 1, 40, 1, 1) for t in range(20, 40)]
    act = {10 * US: lambda c: (c.buy(1), c.sell(2, instrument=1))}
    for chunk in (None, 1, 3):
        res, _ = run(rows, act, instruments=[INST, y], chunk=chunk)
        assert fills(res) == [(1, 101.0, 1.0, "taker"), (2, 50.0, 2.0, "taker")]
        s = res.summary["instruments"]
        assert (s["t/X"]["position"], s["t/Y"]["position"]) == (1.0, -2.0)


def test_snapshot_rebuild_does_not_wake_midway() -> None:
    quotes = []

    from simhelpers import Script

    class Q(Script):
        def on_quote(self, ctx, i):
            b = ctx.book(i)
            quotes.append((b.best_bid, b.best_ask))

    rows = events(
        [(1, 1, C, 0, 0, 0), (1, 1, S, 1, 100, 1), (1, 1, S, -1, 101, 1), (2, 2, D, 1, 100, 2)]
    )
    from hftlab.backtest import run_backtest
    from hftlab.sim.config import SimConfig

    run_backtest([rows], Q({}), SimConfig(), instruments=[INST])
    assert quotes == [(100.0, 101.0), (100.0, 101.0)]


def test_state_series_regular_grid() -> None:
    rows = [*base_book(), (int(250000000.0), int(250000000.0), D, 1, 98, 1)]
    res, _ = run(rows, {}, record_interval_ms=100)
    ts = res.state["ts"].to_pylist()
    assert ts == [int(1e8), int(2e8), int(2.5e8)]
    assert np.allclose(res.state["mid"].to_numpy(), 100.5)


def test_exchange_applies_events_in_exchange_time_order() -> None:
    """A trade stamped 20 arriving after a depth update stamped 30 is applied first."""
    rows = [
        *base_book(),
        (30 * US, 60 * US, D, 1, 100, 2),
        (20 * US, 61 * US, T, -1, 100, 3),  # exchange order: trade (front 5 -> 2), then depth
        (70 * US, 70 * US, D, 1, 98, 1),
    ]
    res, _ = run(rows, {10 * US: lambda c: c.buy(1, 100)}, queue_model="risk_averse")
    assert fills(res) == []
    # Applied in arrival order instead (depth caps the front at 2, the trade of 3 reaches us):
    res, _ = run(
        rows, {10 * US: lambda c: c.buy(1, 100)}, queue_model="risk_averse", reorder_window_ms=0.0
    )
    assert fills(res) == [(1, 100.0, 1.0, "maker")]
