"""What the risk wrapper costs: Python per wake-up and per order, and a whole backtest.

Run: ``python bench/risk_overhead.py [--events N]``. Prints figures; asserts nothing.

1. Per wake-up: what the engine calls for ``on_book`` (``RiskManager.handler``: the strategy's
   own method when no rule is on, else the manager's wrapper) around a no-op ``on_book``, minus
   the bare call (what every subscribed wake-up pays, with no rule and with every rule on but
   far away).
2. Per new order: ``ctx.buy`` through the gate (no rule; position + notional + rate rules on,
   with 2 orders open), minus the ungated path.
3. Whole runs over the synthetic market: a strategy woken at every book change, wrapped with
   the default config and with every rule on but loose (so nothing triggers).
"""

from __future__ import annotations

import argparse
import timeit

from hftlab.backtest import run_backtest
from hftlab.data.synthetic import synthesize_events
from hftlab.risk import RiskConfig, RiskManager
from hftlab.sim import _layout as L
from hftlab.sim.config import SimConfig
from hftlab.sim.core import SimCore
from hftlab.strategy import Strategy
from hftlab.strategy.context import Context

LOOSE = RiskConfig(
    max_position=1e6,
    max_notional=1e12,
    max_loss=1e9,
    max_drawdown=1e9,
    stale_feed_ms=1e9,
    max_feed_latency_ms=1e9,
    max_order_rate=1_000_000,
)


class BookWatcher(Strategy):
    """Woken at every local book change; does nothing."""

    def on_book(self, ctx: Context, instrument: int) -> None:
        pass


def _ns(stmt: object, n: int = 200_000) -> float:
    best = min(timeit.repeat(stmt, number=n, repeat=5))  # type: ignore[arg-type]
    return best / n * 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    args = ap.parse_args()
    ev, insts = synthesize_events(events=args.events, instruments=["BTCUSDT"], seed=1)

    print("1. per wake-up (ns of Python, best of 5)")
    inner = BookWatcher()
    core = SimCore(insts, SimConfig())
    ctx = Context(core)
    bare = _ns(lambda: inner.on_book(ctx, 0))
    for name, cfg in (("default", RiskConfig()), ("all rules, loose", LOOSE)):
        mgr = RiskManager(BookWatcher(), cfg)
        mgr.on_start(ctx)
        call = mgr.handler("on_book")
        kind = "strategy's own" if mgr.transparent else "wrapper"
        wrapped = _ns(lambda call=call: call(ctx, 0))
        added = wrapped - bare
        print(
            f"   {name:18s} {kind:15s} {wrapped:6.0f}  bare {bare:6.0f}  added {added:6.0f}"
        )

    print("2. per new order through the gate (ns, includes the core's submit)")
    for name, cfg in (("no gate", None), ("default", RiskConfig()), ("all rules, loose", LOOSE)):
        core = SimCore(insts, SimConfig())
        c = Context(core)
        if cfg is not None:
            RiskManager(BookWatcher(), cfg).on_start(c)
        c.buy(0.001, 50_000.0)
        c.sell(0.001, 70_000.0)

        def order(c: Context = c, core: SimCore = core) -> None:
            c.buy(0.001, 50_000.0)
            c.orders.popitem()
            c.sent.pop()
            core.ctl[L.C_RQ_TAIL] = core.ctl[L.C_RQ_HEAD]  # drop it: keep the request ring empty

        print(f"   {name:18s} {_ns(order, 20_000):7.0f}")

    print("3. whole runs (BookWatcher on every book change)")
    for name, cfg in (("default", None), ("all rules, loose", LOOSE)):
        run_backtest([ev[:1000]], BookWatcher(), SimConfig(), instruments=insts, risk=cfg)
        res = run_backtest([ev], BookWatcher(), SimConfig(), instruments=insts, risk=cfg)
        wall = res.run_info["wall_seconds"]
        print(f"   {name:18s} {len(ev):,} events in {wall:.3f} s ({len(ev) / wall:,.0f} events/s)")


if __name__ == "__main__":
    main()
