"""Hypothesis properties of the matcher and accounts over random data and random strategies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simhelpers import INST, D, T, events

from hftlab.backtest import run_backtest
from hftlab.book import book_best_ask, book_best_bid
from hftlab.sim import _layout as L
from hftlab.sim.config import Fees, LatencyModel, SimConfig
from hftlab.strategy import Strategy

market_rows = st.lists(
    st.tuples(
        st.integers(1, 50_000),  # time step (ns)
        st.integers(-2_000, 20_000),  # feed latency (negative: unsynced clocks)
        st.sampled_from([D, D, D, T]),
        st.sampled_from([1, -1]),
        st.integers(-6, 6),  # price offset from 100 (bids below, asks above mostly)
        st.integers(0, 9),
    ),
    min_size=1,
    max_size=120,
)
actions = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell", "cancel", "modify"]),
        st.integers(-4, 4),
        st.integers(1, 6),
        st.sampled_from(["gtc", "post_only", "ioc", "market"]),
    ),
    max_size=40,
)


def _market(rows: list[tuple]) -> np.ndarray:
    t = 1_000
    out = []
    for dt, lat, kind, side, off, qty in rows:
        t += dt
        if kind == D:
            price = 100 + off if side > 0 else 101 + off
            out.append((t, t + lat, D, side, price, qty))
        else:
            out.append((t, t + lat, T, side, 100 + off, max(qty, 1)))
    out.sort(key=lambda r: r[1])  # the store gives ts_local order
    return events(out)


class Random(Strategy):
    """Acts on every wake-up from a script of random actions; checks invariants as it goes."""

    def __init__(self, acts: list[tuple]) -> None:
        super().__init__()
        self.acts = list(acts)
        self.violations: list[str] = []

    def on_start(self, ctx):
        ctx.every(7_000)

    def _check(self, ctx) -> None:
        core = ctx._core
        for s in range(core.ords.shape[0]):
            if core.ords[s, L.O_ACTIVE] == 0:
                continue
            inst = core.ords[s, L.O_INST]
            p = core.ords[s, L.O_PRICE]
            if core.ords[s, L.O_FILLED] >= core.ords[s, L.O_QTY]:
                self.violations.append("a filled order is still open")
            bk = core.books[inst]
            if core.ords[s, L.O_SIDE] > 0 and book_best_ask(bk)[0] <= p:
                self.violations.append(f"our bid {p} rests at/through the best ask")
            if core.ords[s, L.O_SIDE] < 0 and book_best_bid(bk)[0] >= p:
                self.violations.append(f"our ask {p} rests at/through the best bid")

    def _act(self, ctx) -> None:
        self._check(ctx)
        if not self.acts:
            return
        what, off, qty, tif = self.acts.pop()
        if what == "buy":
            ctx.buy(qty, None if tif == "market" else 100 + off, tif=tif)
        elif what == "sell":
            ctx.sell(qty, None if tif == "market" else 101 + off, tif=tif)
        elif ctx.open_orders():
            o = ctx.open_orders()[abs(off) % len(ctx.open_orders())]
            if what == "cancel":
                ctx.cancel(o)
            elif o.status != 0:
                ctx.modify(o, price=o.price + off, qty=max(qty, 1))

    on_timer = _act

    def on_quote(self, ctx, i):
        self._act(ctx)

    def on_trade(self, ctx, trade):
        self._act(ctx)

    def on_order_update(self, ctx, order):
        self._check(ctx)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    market_rows,
    actions,
    st.sampled_from(["risk_averse", "prob_power", "prob_log"]),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(1, 50),
)
def test_conservation_and_no_crossing(rows, acts, qmodel, entry_us, resp_us, chunk) -> None:
    ev = _market(rows)
    strat = Random(acts)
    cfg = SimConfig(
        queue_model=qmodel,
        entry_latency=LatencyModel(value_us=entry_us * 0.001),
        response_latency=LatencyModel(value_us=resp_us * 0.001),
        fees=Fees(maker=-0.0001, taker=0.0005),
    )
    chunks = [ev[i : i + chunk] for i in range(0, len(ev), chunk)]
    res = run_backtest(chunks, strat, cfg, instruments=[INST])
    assert strat.violations == []
    f = res.fills.to_pylist()
    s = res.summary["instruments"]["t/X"]
    # position = Σ signed fills
    assert s["position"] == sum(r["side"] * r["last_qty"] for r in f)
    # cash = Σ fill values - Σ fees, fees as the rates say
    assert s["cash"] == pytest.approx(sum(r["cash_delta"] - r["fee"] for r in f), abs=1e-9)
    for r in f:
        rate = -0.0001 if r["liquidity"] == "maker" else 0.0005
        assert r["fee"] == pytest.approx(rate * r["last_qty"] * r["last_price"])
        assert r["cash_delta"] == pytest.approx(-r["side"] * r["last_qty"] * r["last_price"])
    # no order fills beyond its size; filled + open = ordered, in every event
    per: dict[int, float] = {}
    for r in f:
        per[r["order_id"]] = per.get(r["order_id"], 0.0) + r["last_qty"]
    for r in res.orders.to_pylist():
        if r["event"].startswith("sent") or r["event"].endswith("rejected"):
            continue
        assert 0 <= r["filled"] <= r["qty"]
        if r["event"] == "fill":
            assert r["status"] in ("filled", "partially_filled")
            assert (r["status"] == "filled") == (r["filled"] == r["qty"])
    sizes = {}
    for r in res.orders.to_pylist():
        if r["event"] in ("accepted", "modified"):
            sizes[r["order_id"]] = max(sizes.get(r["order_id"], 0), r["qty"])
    for oid, q in per.items():
        assert q <= sizes[oid]
    # local and exchange positions agree once every response has arrived
    assert res.summary["instruments"]["t/X"]["fills"] == len(f)


@settings(max_examples=40, deadline=None)
@given(market_rows, actions, st.integers(1, 30))
def test_deterministic_and_chunking_invariant(rows, acts, chunk) -> None:
    """Equal inputs give equal results; how the data is chunked changes nothing."""
    ev = _market(rows)
    cfg = SimConfig(
        queue_model="prob_power",
        entry_latency=LatencyModel(kind="empirical", samples_us=[1.0, 3.0, 11.0]),
        response_latency=LatencyModel(kind="empirical", samples_us=[2.0, 5.0]),
        seed=3,
    )
    a = run_backtest([ev], Random(acts), cfg, instruments=[INST])
    b = run_backtest(
        [ev[i : i + chunk] for i in range(0, len(ev), chunk)],
        Random(acts),
        cfg,
        instruments=[INST],
    )
    assert _same(a.orders, b.orders)
    assert _same(a.state, b.state)


def _same(x, y) -> bool:
    """Table equality where NaN equals NaN (pyarrow's equals says NaN != NaN)."""
    if x.schema != y.schema or x.num_rows != y.num_rows:
        return False
    for name in x.column_names:
        u = x[name].to_numpy(zero_copy_only=False)
        v = y[name].to_numpy(zero_copy_only=False)
        if u.dtype.kind == "f":
            if not np.array_equal(u, v, equal_nan=True):
                return False
        elif x[name].to_pylist() != y[name].to_pylist():
            return False
    return True
