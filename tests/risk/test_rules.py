"""The rules one by one (hooks, measurements, what they return) and how the manager composes
them: which rules a config switches on, in which order, and what each needs of the manager."""

from __future__ import annotations

import math

import msgspec
import pytest

import hftlab.risk as risk
from hftlab.backtest import run_backtest
from hftlab.data.synthetic import synthesize_events
from hftlab.events import ContractType
from hftlab.risk import RULES, RiskConfig, RiskManager
from hftlab.risk.rules import (
    RULE_TYPES,
    FeedLatency,
    MaxDrawdown,
    MaxLoss,
    MaxNotional,
    MaxPosition,
    OrderRate,
    RiskState,
    Rule,
    StaleFeed,
    build_rules,
)
from hftlab.runfolder import RISK_SCHEMA
from hftlab.sim.config import Fees, LatencyModel, SimConfig
from hftlab.sim.core import SimCore
from hftlab.strategies.simple_quoter import SimpleQuoter, SimpleQuoterConfig
from hftlab.strategy import Strategy
from hftlab.strategy.context import Context
from hftlab.vocab import RISK_ACTIONS

MS = 1_000_000
SEC = 1_000_000_000
HOOKS = ("check_request", "check_feed", "check_equity")


@pytest.fixture(scope="module")
def market() -> tuple:
    return synthesize_events(events=5_000, instruments=["BTCUSDT", "ETHUSDT"], seed=2)


def _state(insts: list, records: list) -> RiskState:
    ctx = Context(SimCore(insts, SimConfig()))
    return RiskState(ctx, lambda *row: records.append(row))


def test_rule_types_follow_the_rule_names() -> None:
    assert tuple(t.name for t in RULE_TYPES) == RULES
    assert risk.ACTIONS is RISK_ACTIONS
    assert risk.RISK_SCHEMA is RISK_SCHEMA
    # Every rule on: each at its key (limit 1).
    every = RiskConfig(**{t.key: 1 for t in RULE_TYPES})
    rules = build_rules(every)
    assert tuple(r.name for r in rules) == RULES
    assert {r.name: r.code for r in rules} == risk.RISK_REJECT_CODES


@pytest.mark.parametrize(
    ("config", "types"),
    [
        ({}, ()),
        ({"max_position": 1.0}, (MaxPosition,)),
        ({"max_position": {"BTCUSDT": 1.0}}, (MaxPosition,)),
        ({"max_notional": 1e6}, (MaxNotional,)),
        ({"capital": 1e4, "max_leverage": 2.0}, (MaxNotional,)),
        ({"max_loss": 1.0, "max_drawdown": 1.0}, (MaxLoss, MaxDrawdown)),
        ({"stale_feed_ms": 5.0, "max_feed_latency_ms": 5.0}, (StaleFeed, FeedLatency)),
        ({"max_order_rate": 5, "max_position": 1.0}, (MaxPosition, OrderRate)),
        ({"capital": 1.0}, ()),  # a base without a leverage limit is no rule
    ],
)
def test_build_rules_in_rule_order(config: dict, types: tuple) -> None:
    rules = build_rules(RiskConfig.from_dict(config))
    assert tuple(type(r) for r in rules) == types
    manager = RiskManager(SimpleQuoter(SimpleQuoterConfig()), RiskConfig.from_dict(config))
    assert tuple(type(r) for r in manager.rules) == types
    assert manager.transparent == (not types)


def test_each_rule_implements_its_hooks_and_needs() -> None:
    hooks = {t.name: {h for h in HOOKS if t.implements(h)} for t in RULE_TYPES}
    assert hooks == {
        "max_position": {"check_request"},
        "max_notional": {"check_request"},
        "max_loss": {"check_equity"},
        "max_drawdown": {"check_equity"},
        "stale_feed": {"check_feed"},
        "feed_latency": {"check_feed"},
        "order_rate": {"check_request"},
    }
    needs = {
        t.name: {
            a
            for a in ("needs_fills", "periodic", "tracks_orders", "counts_requests")
            if getattr(t, a)
        }
        for t in RULE_TYPES
    }
    assert needs == {
        "max_position": {"tracks_orders"},
        "max_notional": {"tracks_orders"},
        "max_loss": {"needs_fills", "periodic"},
        "max_drawdown": {"needs_fills", "periodic"},
        "stale_feed": {"periodic"},
        "feed_latency": {"periodic"},
        "order_rate": {"counts_requests"},
    }


def test_manager_binds_only_the_hooks_rules_implement() -> None:
    config = RiskConfig(max_position=1.0, max_loss=5.0, stale_feed_ms=10.0, max_order_rate=3)
    mgr = RiskManager(SimpleQuoter(SimpleQuoterConfig()), config)
    by_name = {r.name: r for r in mgr.rules}
    assert [m.__self__.name for m in mgr._checks] == ["max_position", "order_rate"]
    # A modify that does not grow an order is shown only to rules that do not track sizes.
    assert [m.__self__.name for m in mgr._checks_no_growth] == ["order_rate"]
    assert mgr._equity_rules == (by_name["max_loss"],)
    assert mgr._feed_rules == ((by_name["stale_feed"], 1),)
    assert mgr.wants_callback("on_fill")  # max_loss tracks cash


def test_equity_rules(market: tuple) -> None:
    loss = MaxLoss.from_config(RiskConfig(max_loss=10.0))
    assert loss is not None
    assert loss.check_equity(-10.0) is None
    assert loss.check_equity(-12.5) == (12.5, 10.0, "equity -12.5")
    dd = MaxDrawdown.from_config(RiskConfig(max_drawdown=3.0))
    assert dd is not None
    dd.start(_state(market[1], []))
    assert dd.check_equity(5.0) is None and dd.peak == 5.0
    assert dd.check_equity(2.0) is None  # exactly 3 below the peak: not more than the limit
    assert dd.check_equity(1.5) == (3.5, 3.0, "equity 1.5, peak 5")
    dd.start(_state(market[1], []))  # a new run starts from a zero peak
    assert dd.peak == 0.0 and dd.check_equity(-3.5) is not None


def test_feed_rules_read_silence_and_latency(market: tuple) -> None:
    records: list = []
    state = _state(market[1], records)
    t0 = state.start
    stale = StaleFeed.from_config(RiskConfig(stale_feed_ms=20.0))
    assert stale is not None
    stale.start(state)
    none = -(2**63 - 1)
    assert stale.check_feed(0, t0 + 20 * MS, none, none)[0] is False  # silent since the start
    on, value, limit, detail = stale.check_feed(0, t0 + 25 * MS, t0, t0 + 1 * MS)
    assert on and value == 24.0 and limit == 20.0 and detail == "no market data for 24.000 ms"

    lat = FeedLatency.from_config(
        RiskConfig(max_feed_latency_ms=5.0, feed_latency_baseline="min", feed_latency_window=2)
    )
    assert lat is not None
    lat.start(state)
    assert lat.check_feed(0, t0, none, none) is None  # no event yet
    first = lat.check_feed(0, t0, t0 - 100 * MS, t0)  # baseline: its own sample
    assert first is not None and first[:3] == (False, 100.0, 105.0)
    assert lat.check_feed(0, t0 + MS, t0 - 100 * MS, t0) is None  # the same event: no sample
    assert lat.check_feed(0, t0, t0 - 103 * MS, t0 + 3 * MS)[:3] == (True, 106.0, 105.0)
    assert lat.check_feed(0, t0, t0 - 105 * MS, t0 + 20 * MS)[:3] == (True, 125.0, 105.0)
    # The window holds 2 samples: the min baseline (100) aged out, 106 is the new minimum.
    assert lat.check_feed(0, t0, t0 - 78 * MS, t0 + 30 * MS)[:3] == (False, 108.0, 111.0)
    assert lat.check_feed(1, t0, t0 - 7 * MS, t0)[:3] == (False, 7.0, 12.0)  # per instrument
    assert records == []  # rules only measure: the manager pulls and records


def test_pre_trade_rules_refuse_and_record(market: tuple) -> None:
    records: list = []
    state = _state(market[1], records)
    ctx = state.ctx
    lot = state.lot[0]
    pos = MaxPosition.from_config(RiskConfig(max_position={"BTCUSDT": 2.5 * lot}))
    assert pos is not None
    pos.start(state)
    assert pos.lots == [2, None]  # in lots, rounded down; ETHUSDT unlimited
    assert pos.check_request(0, 1, 100, 2, 0, 2, None) == 0
    assert pos.check_request(1, 1, 100, 10**6, 0, 10**6, None) == 0
    assert pos.check_request(0, -1, 0, 3, 3, 3, None) == risk.RISK_REJECT_CODES["max_position"]
    (row,) = records
    assert row[1:5] == (0, "max_position", "block_order", 3 * lot) and row[5] == 2 * lot
    assert row[6] == f"sell {3 * lot:g} market: position could reach {-3 * lot:g}"

    rate = OrderRate.from_config(RiskConfig(max_order_rate=2))
    assert rate is not None
    rate.start(state)
    state.req_times.extend([ctx.now - SEC, ctx.now - 1])  # the first is outside the window
    assert rate.check_request(0, 1, 100, 1, 0, 1, None) == 0
    assert len(state.req_times) == 1  # the old one was forgotten
    state.req_times.append(ctx.now)
    assert rate.check_request(0, 1, 100, 1, 0, 1, None) == risk.RISK_REJECT_CODES["order_rate"]
    assert records[-1][4:6] == (3, 2) and records[-1][6].endswith(": 2 requests in the last second")


@pytest.mark.parametrize("kind", [ContractType.LINEAR, ContractType.INVERSE])
def test_notional_rule_values_through_the_instrument(market: tuple, kind: ContractType) -> None:
    insts = [msgspec.structs.replace(i, contract_type=kind, contract_size=10.0) for i in market[1]]
    records: list = []
    state = _state(insts, records)
    rule = MaxNotional.from_config(RiskConfig(max_notional=1e-9))
    assert rule is not None
    rule.start(state)
    ticks = 500_000  # no mid yet: the order's price values it
    price = state.ctx.from_ticks(ticks, 0)
    assert not math.isnan(price)
    lots = 7
    code = rule.check_request(0, 1, ticks, lots, 0, lots, None)
    assert code == risk.RISK_REJECT_CODES["max_notional"]
    assert records[-1][4] == insts[0].notional(lots * state.lot[0], price)
    assert rule.check_request(1, -1, 0, 5, 3, 0, None) == 0  # adds nothing to the worst case


def test_manager_equity_matches_the_engine_for_inverse_contracts() -> None:
    """Cash from the fills (Instrument.cash_delta) plus positions marked to the mid
    (Instrument.position_value) give the core's own equity for an inverse contract."""
    ev, insts = synthesize_events(events=20_000, instruments=["BTCUSDT"], seed=5)
    inv = [
        msgspec.structs.replace(insts[0], contract_type=ContractType.INVERSE, contract_size=100.0)
    ]
    fees = SimConfig(
        fees=Fees(maker=-0.0001, taker=0.0004),
        entry_latency=LatencyModel(value_us=300.0),
        response_latency=LatencyModel(value_us=200.0),
    )

    class Taker(Strategy):
        def on_start(self, ctx: Context) -> None:
            ctx.every(200 * MS)
            self.n = 0

        def on_timer(self, ctx: Context) -> None:
            self.n += 1
            (ctx.buy if self.n % 3 else ctx.sell)(0.01)

    mgr = RiskManager(Taker(), RiskConfig(max_loss=1e9, check_interval_ms=50.0))
    res = run_backtest([ev], mgr, fees, instruments=inv)
    assert res.fills.num_rows > 5
    end = res.summary["instruments"][inv[0].key]
    assert end["position"] != 0.0
    assert mgr.equity() == pytest.approx(end["equity"], rel=1e-9)


def test_a_rule_is_on_when_its_key_is_set() -> None:
    class Custom(Rule):
        name = "max_loss"
        key = "max_loss"

    assert Custom.from_config(RiskConfig()) is None
    rule = Custom.from_config(RiskConfig(max_loss=3.0))
    assert rule is not None and rule.limit == 3.0
    assert rule.code == risk.RISK_REJECT_CODES["max_loss"]
    assert not Custom.implements("check_equity")  # no hook: the manager would never call it
