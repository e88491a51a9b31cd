"""``RiskManager``: a strategy wrapper that enforces :class:`RiskConfig` limits.

The manager is itself a :class:`~hftlab.strategy.Strategy`. It forwards the callbacks the
wrapped strategy overrides (and subscribes to nothing else, besides fills when a loss rule
needs them), installs itself as the context's order gate when a rule is on (pre-trade
checks on ``buy``, ``sell`` and ``modify``), and runs its periodic checks on an internal timer
that never wakes the strategy's ``on_timer``. It only talks to the ``Context``, so the
backtester and the live paper engine drive it alike. With every rule off (the default
config) it is *transparent*: no gate, and :meth:`RiskManager.handler` gives engines the
strategy's own callbacks.

Each rule is an object of :mod:`hftlab.risk.rules` that measures and judges; the manager
composes the rules that are on and carries out their actions: it refuses requests, pulls and
resumes an instrument's quotes, kills (cancel all, optionally flatten), and records every
action as a ``risk.parquet`` row.

Refused requests are never sent. A refused new order comes back from ``ctx.buy``/``ctx.sell``
with status ``REJECTED``, a negative id and ``reject_reason`` set to one of
:data:`RISK_REJECT_CODES`; a refused modify leaves the order unchanged with ``reject_reason``
set. In both cases the strategy's ``on_order_update`` is called with the order once its current
callback has returned (refusals made inside that notification are delivered at the next
wake-up, so a strategy that retries on rejection cannot loop forever at one instant).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hftlab.errors import ConfigError
from hftlab.risk.config import RISK_REJECT_CODES, RiskConfig, reject_reason_name
from hftlab.risk.results import RISK_SCHEMA, RiskRow, risk_summary, risk_table
from hftlab.risk.rules import RiskState, Rule, build_rules
from hftlab.strategy import Fill, Order, Strategy, Trade
from hftlab.vocab import TimeInForce

if TYPE_CHECKING:
    from hftlab.strategy.context import Context

__all__ = [
    "RISK_REJECT_CODES",
    "RISK_SCHEMA",
    "RiskManager",
    "RiskRow",
    "reject_reason_name",
    "risk_summary",
    "risk_table",
]

log = logging.getLogger("hftlab.risk")

_CALLBACKS = (
    "on_start",
    "on_timer",
    "on_quote",
    "on_book",
    "on_trade",
    "on_book_status",
    "on_order_update",
    "on_fill",
    "on_stop",
)
# Time-in-force codes as plain ints (compared and passed to the context per order).
_TIF_MARKET = int(TimeInForce.MARKET)
_TIF_IOC = int(TimeInForce.IOC)
_TIF_LABELS = TimeInForce.labels()


def _overrides(strategy: Strategy, name: str) -> bool:
    return getattr(type(strategy), name) is not getattr(Strategy, name)


class RiskManager(Strategy):
    """Wrap ``strategy`` with the limits of ``config`` (see ``docs/risk.md``).

    Parameters
    ----------
    strategy
        The strategy to protect; it is called exactly as it would be unwrapped, until a kill.
    config
        The limits; the default switches every rule off.

    Attributes
    ----------
    rules
        The rules ``config`` switches on (:mod:`hftlab.risk.rules`), in :data:`RULES` order.
    events
        The triggers so far, rows of :data:`RISK_SCHEMA`.
    killed, kill_ts
        Whether the kill switch fired, and when (local ns).
    """

    Config = RiskConfig
    config: RiskConfig

    def __init__(self, strategy: Strategy, config: RiskConfig | None = None) -> None:
        if isinstance(strategy, RiskManager):
            raise ConfigError("the strategy is already wrapped by a RiskManager: wrap it once")
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"RiskManager wraps a Strategy, got {type(strategy).__name__}")
        super().__init__(config or RiskConfig())
        self.strategy = strategy
        rules: tuple[Rule, ...] = build_rules(self.config)
        self.rules = rules
        inner = {name: _overrides(strategy, name) for name in _CALLBACKS}
        # What the rules need of the manager (see Rule's class attributes).
        self._needs_fills = any(r.needs_fills for r in rules)
        self._periodic = any(r.periodic for r in rules)
        self._tracking = any(r.tracks_orders for r in rules)
        self._counting = any(r.counts_requests for r in rules)
        # The hooks each rule implements, bound once: the gate calls them per request.
        checking = [r for r in rules if r.implements("check_request")]
        self._checks = tuple(r.check_request for r in checking)
        # A rule that tracks orders judges only what adds to the worst case: a modify that
        # does not grow an order is not shown to it.
        self._checks_no_growth = tuple(r.check_request for r in checking if not r.tracks_orders)
        self._equity_rules = tuple(r for r in rules if r.implements("check_equity"))
        feed = [r for r in rules if r.implements("check_feed")]
        self._feed_rules = tuple((r, 1 << k) for k, r in enumerate(feed))  # (rule, pull bit)
        self._sync_rules = tuple((r, b) for r, b in self._feed_rules if r.reads_book_sync)
        self._wants = dict(inner)
        self._wants["on_fill"] = inner["on_fill"] or self._needs_fills
        self._wants["on_book_status"] = inner["on_book_status"] or bool(self._sync_rules)
        self._inner_on_start = strategy.on_start
        self._inner_on_timer = strategy.on_timer
        self._inner_on_quote = strategy.on_quote
        self._inner_on_book = strategy.on_book
        self._inner_on_trade = strategy.on_trade
        self._inner_on_book_status = strategy.on_book_status if inner["on_book_status"] else None
        self._inner_on_stop = strategy.on_stop
        self._inner_on_fill = strategy.on_fill if inner["on_fill"] else None
        self._inner_on_update = strategy.on_order_update if inner["on_order_update"] else None
        # Every rule off (the default): no request can be refused, the strategy never stopped,
        # no fill tracked. The manager then only forwards, so it installs no order gate and
        # lets engines call the strategy directly (see `handler`).
        self._transparent = not rules
        self._ctx: Context | None = None
        self._state: RiskState | None = None
        self._reset()

    def _reset(self) -> None:
        """Per-run state (a manager can drive several runs one after another)."""
        self.events: list[RiskRow] = []
        self.killed = False
        self.kill_ts: int | None = None
        self._kill_rule = ""
        self._active = True  # False after a kill: the strategy is no longer called
        self._blocked = False  # killed, or some instrument's quotes are pulled
        self._refused: list[Order] = []
        self._first_block: set[str] = set()
        self._req_times: deque[int] = deque()
        self._req_lots: dict[int, int] = {}

    # ------------------------------------------------------------------ subscriptions
    def wants_callback(self, name: str) -> bool:
        """Whether the engine should deliver ``name``: what the strategy overrides, plus fills
        when a loss rule tracks cash."""
        return self._wants.get(name, False)

    @property
    def needs_book_status(self) -> bool:
        """True when a rule reads the books' sync (``stale_feed``): the engine then delivers
        ``on_book_status`` for every instrument, whatever the strategy subscribed to (the
        manager forwards only what the strategy asked for)."""
        return bool(self._sync_rules)

    @property
    def transparent(self) -> bool:
        """True when every rule is off: the manager forwards every callback unchanged and
        gates no request (it installs no order gate)."""
        return self._transparent

    def handler(self, name: str) -> Callable[..., None]:
        """What a driver should call for callback ``name`` (``on_timer``, ``on_quote``...).

        The wrapped strategy's own bound method when the manager is :attr:`transparent` (the
        wrapper would only forward the call: calling it directly spares a Python frame per
        wake-up), else the manager's wrapper. ``on_start`` always needs the manager's.

        Parameters
        ----------
        name
            A :class:`~hftlab.strategy.Strategy` callback name.

        Returns
        -------
        Callable[..., None]
            A bound method taking the callback's arguments.
        """
        own = getattr(self, name)
        if name == "on_start" or not self._transparent:
            return own
        if getattr(type(self), name) is not getattr(RiskManager, name):
            return own  # a subclass adds behaviour: keep it
        return getattr(self.strategy, name)

    # ------------------------------------------------------------------ set-up
    def _setup(self, ctx: Context) -> None:
        self._reset()
        state = RiskState(ctx, self._record)
        self._state = state
        self._n = state.n
        self._keys = state.keys
        self._req_times = state.req_times
        self._req_lots = state.req_lots
        self._pulled = [0] * state.n  # per instrument: bits of the feed rules pulling it
        self._pull_info: list[dict[str, tuple[float, float]]] = [{} for _ in range(state.n)]
        for rule in self.rules:
            rule.start(state)

    # ------------------------------------------------------------------ callbacks
    def on_start(self, ctx: Context) -> None:
        self._ctx = ctx
        self._setup(ctx)
        ctx.set_order_gate(None if self._transparent else self)
        if self._periodic:
            ctx.internal_timer(round(self.config.check_interval_ms * 1e6), self._check)
        self._inner_on_start(ctx)
        if self._refused:
            self._notify(ctx)

    def on_timer(self, ctx: Context) -> None:
        if self._active:
            self._inner_on_timer(ctx)
            if self._refused:
                self._notify(ctx)

    def on_quote(self, ctx: Context, instrument: int) -> None:
        if self._active:
            self._inner_on_quote(ctx, instrument)
            if self._refused:
                self._notify(ctx)

    def on_book(self, ctx: Context, instrument: int) -> None:
        if self._active:
            self._inner_on_book(ctx, instrument)
            if self._refused:
                self._notify(ctx)

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        if self._active:
            self._inner_on_trade(ctx, trade)
            if self._refused:
                self._notify(ctx)

    def on_book_status(self, ctx: Context, instrument: int, synced: bool) -> None:
        if self._sync_rules and not self.killed:
            # Pull (or resume) at once, not at the next periodic check.
            self._evaluate_feed(instrument, ctx.now, self._sync_rules)
        inner = self._inner_on_book_status
        if self._active and inner is not None:
            subs = ctx.subscriptions
            if subs is None or instrument in subs.book_status:
                inner(ctx, instrument, synced)
                if self._refused:
                    self._notify(ctx)

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        if self._needs_fills:
            self._state.on_fill(fill)  # type: ignore[union-attr]
            if self._active:
                self._check_equity(ctx)
        if self._active and self._inner_on_fill is not None:
            self._inner_on_fill(ctx, fill)
            if self._refused:
                self._notify(ctx)

    def on_order_update(self, ctx: Context, order: Order) -> None:
        if self._active and self._inner_on_update is not None:
            self._inner_on_update(ctx, order)
            if self._refused:
                self._notify(ctx)

    def on_stop(self, ctx: Context) -> None:
        if self._active:
            self._inner_on_stop(ctx)
            if self._refused:
                self._notify(ctx)

    def _notify(self, ctx: Context) -> None:
        batch, self._refused = self._refused, []
        cb = self._inner_on_update
        if cb is not None and self._active:
            for order in batch:
                cb(ctx, order)

    # ------------------------------------------------------------------ order gate
    def allow_new(self, instrument: int, side: int, ticks: int, lots: int, tif: int) -> int:
        """Pre-trade check of a new order: 0 to send it, else the risk reject code."""
        if self._blocked:
            rule = self._blocking_rule(instrument)
            if rule:
                what = self._state.describe(instrument, side, ticks, lots, tif)  # type: ignore[union-attr]
                return self._refuse_blocked(rule, instrument, what)
        for check in self._checks:
            code = check(instrument, side, ticks, lots, tif, lots, None)
            if code:
                return code
        if self._counting:
            self._req_times.append(self._ctx.now)  # type: ignore[union-attr]
        return 0

    def allow_modify(self, order: Order, ticks: int, lots: int) -> int:
        """Pre-trade check of a modify (new price ``ticks``, new total size ``lots``)."""
        inst = order.instrument
        if self._blocked:
            rule = self._blocking_rule(inst)
            if rule:
                return self._refuse_blocked(rule, inst, f"modify order {order.id}")
        grow = 0  # lots above the largest size ever requested: what the worst case gains
        if self._tracking:
            was = max(order.qty_lots, self._req_lots.get(order.id, 0))
            if lots > was:
                grow = lots - was
        for check in self._checks if grow else self._checks_no_growth:
            code = check(inst, order.side, ticks, lots, -1, grow, order)
            if code:
                return code
        if self._counting:
            self._req_times.append(self._ctx.now)  # type: ignore[union-attr]
        if self._tracking:
            req = self._req_lots
            req[order.id] = max(req.get(order.id, 0), lots)
            if len(req) > 64 + 4 * len(self._ctx.orders):  # type: ignore[union-attr]
                self._state.forget_closed()  # type: ignore[union-attr]
        return 0

    def sent_cancel(self, order: Order) -> None:
        """Cancels are never refused; they count towards the order rate."""
        if self._counting:
            self._req_times.append(self._ctx.now)  # type: ignore[union-attr]

    def refused(self, order: Order) -> None:
        """Queue the strategy's notification of a refused request."""
        if self._inner_on_update is not None:
            self._refused.append(order)

    def _blocking_rule(self, inst: int) -> str:
        """The rule that blocks orders on ``inst`` now ("" if none; may resume the feed)."""
        if self.killed:
            return self._kill_rule
        bits = self._pulled[inst]
        if bits:
            self._evaluate_feed(inst, self._ctx.now)  # type: ignore[union-attr]
            bits = self._pulled[inst]
            for rule, bit in self._feed_rules:
                if bits & bit:
                    return rule.name
        return ""

    def _refuse_blocked(self, rule: str, inst: int, what: str) -> int:
        """Refuse a request (``what``) on ``inst`` while killed or while its quotes are
        pulled by ``rule``."""
        if self.killed:
            return self._block(rule, -1, math.nan, math.nan, f"{what}: trading killed")
        value, limit = self._pull_info[inst].get(rule, (math.nan, math.nan))
        return self._block(rule, inst, value, limit, f"{what}: quotes pulled")

    def _block(self, rule: str, inst: int, value: float, limit: float, detail: str) -> int:
        self._record(self._ctx.now, inst, rule, "block_order", value, limit, detail)  # type: ignore[union-attr]
        return RISK_REJECT_CODES[rule]

    # ------------------------------------------------------------------ periodic checks
    def _check(self, ctx: Context) -> None:
        now = ctx.now
        if self.killed:
            if self.config.flatten_on_kill:
                for i in range(self._n):
                    if ctx.position_lots(i) and not ctx.open_orders(i):
                        self._flatten(ctx, i, now)
            return
        if self._feed_rules:
            for i in range(self._n):
                self._evaluate_feed(i, now)
        if self._equity_rules:
            self._check_equity(ctx)

    def equity(self) -> float:
        """Equity as the strategy knows it: cash from the fills received (fees included) plus
        positions marked to the local mid, summed over instruments (one quote currency)."""
        state = self._state
        assert state is not None, "equity is known once the run has started"
        return state.equity()

    def _check_equity(self, ctx: Context) -> None:
        eq = self._state.equity()  # type: ignore[union-attr]
        for rule in self._equity_rules:
            breach = rule.check_equity(eq)
            if breach is not None:
                value, limit, detail = breach
                self._kill(ctx, rule.name, value, limit, detail)
                return

    def _kill(self, ctx: Context, rule: str, value: float, limit: float, detail: str) -> None:
        now = ctx.now
        self.killed = True
        self.kill_ts = now
        self._kill_rule = rule
        self._active = False
        self._blocked = True
        self._refused = []
        self._record(now, -1, rule, "kill", value, limit, detail + "; cancel all, strategy stopped")
        ctx.cancel_all()
        if self.config.flatten_on_kill:
            for i in range(self._n):
                self._flatten(ctx, i, now)

    def _flatten(self, ctx: Context, inst: int, now: int) -> None:
        pos = ctx.position_lots(inst)
        if pos == 0:
            return
        side = -1 if pos > 0 else 1
        slip = self.config.flatten_slippage_ticks
        ticks, tif = 0, _TIF_MARKET
        if slip is not None:
            book = ctx.book(inst)
            touch, qty = book.best_ask_ticks if side > 0 else book.best_bid_ticks
            if qty:
                ticks, tif = touch + side * slip, _TIF_IOC
        order = ctx._submit(side, inst, ticks, abs(pos), tif, _TIF_LABELS[tif])
        if self._counting:
            self._req_times.append(now)
        state = self._state
        assert state is not None
        self._record(
            now,
            inst,
            self._kill_rule,
            "flatten",
            pos * state.lot[inst],
            0.0,
            f"order {order.id}: " + state.describe(inst, side, ticks, abs(pos), tif),
        )

    def _evaluate_feed(
        self, i: int, now: int, rules: tuple[tuple[Rule, int], ...] | None = None
    ) -> None:
        """Pull or resume quoting on instrument ``i`` by what the feed rules (or ``rules``)
        read of it."""
        tsx, tsl = self._ctx.data_times(i)  # type: ignore[union-attr]
        for rule, bit in self._feed_rules if rules is None else rules:
            reading = rule.check_feed(i, now, tsx, tsl)
            if reading is not None:
                on, value, limit, detail = reading
                self._set_pull(i, rule.name, bit, on, now, value, limit, detail)

    def _set_pull(
        self,
        i: int,
        rule: str,
        bit: int,
        on: bool,
        now: int,
        value: float,
        limit: float,
        detail: str,
    ) -> None:
        was = self._pulled[i]
        if on and not was & bit:
            self._pulled[i] = was | bit
            self._pull_info[i][rule] = (value, limit)
            self._blocked = True
            self._record(now, i, rule, "pull_quotes", value, limit, detail + "; cancel all")
            self._ctx.cancel_all(i)  # type: ignore[union-attr]
        elif not on and was & bit:
            self._pulled[i] = was & ~bit
            self._blocked = self.killed or any(self._pulled)
            self._record(now, i, rule, "resume", value, limit, detail)

    # ------------------------------------------------------------------ results
    def _record(
        self, ts: int, inst: int, rule: str, action: str, value: float, limit: float, detail: str
    ) -> None:
        key = "" if inst < 0 else self._keys[inst]
        self.events.append((int(ts), key, rule, action, float(value), float(limit), detail))
        if action != "block_order":
            level = logging.WARNING if action in ("kill", "pull_quotes") else logging.INFO
        elif rule in self._first_block:
            level = logging.DEBUG
        else:
            self._first_block.add(rule)
            level = logging.INFO
            detail += " (further blocks by this rule are logged at DEBUG)"
        log.log(
            level,
            "risk %s %s at t=%d %s: %s (value %g, limit %g)",
            rule,
            action,
            ts,
            key or "account",
            detail,
            value,
            limit,
        )

    def table(self) -> pa.Table:
        """The triggers as a :data:`RISK_SCHEMA` table (``risk.parquet``)."""
        return risk_table(self.events)

    def summary(self) -> dict[str, Any]:
        """``{"triggers": {rule: count}, "killed": bool, "kill_ts": int | None}``."""
        return risk_summary(self.events, self.killed, self.kill_ts)
