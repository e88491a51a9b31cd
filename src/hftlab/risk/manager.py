"""``RiskManager``: a strategy wrapper that enforces :class:`RiskConfig` limits.

The manager is itself a :class:`~hftlab.strategy.Strategy`. It forwards the callbacks the
wrapped strategy overrides (and subscribes to nothing else, besides fills when a loss rule
needs them), installs itself as the context's order gate when a rule is on (pre-trade
checks on ``buy``, ``sell`` and ``modify``), and runs its periodic checks on an internal timer
that never wakes the strategy's ``on_timer``. It only talks to the ``Context``, so the
backtester and the live paper engine drive it alike. With every rule off (the default
config) it is *transparent*: no gate, and :meth:`RiskManager.handler` gives engines the
strategy's own callbacks.

Refused requests are never sent. A refused new order comes back from ``ctx.buy``/``ctx.sell``
with status ``REJECTED``, a negative id and ``reject_reason`` set to one of
:data:`RISK_REJECT_CODES`; a refused modify leaves the order unchanged with ``reject_reason``
set. In both cases the strategy's ``on_order_update`` is called with the order once its current
callback has returned (refusals made inside that notification are delivered at the next
wake-up, so a strategy that retries on rejection cannot loop forever at one instant).
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hftlab.errors import ConfigError
from hftlab.risk.config import RULES, RiskConfig
from hftlab.sim import _layout as L
from hftlab.strategy import TIF_NAMES, Fill, Order, Strategy, Trade

if TYPE_CHECKING:
    from hftlab.strategy.context import Context

__all__ = [
    "RISK_REJECT_CODES",
    "RISK_SCHEMA",
    "RiskManager",
    "reject_reason_name",
    "risk_summary",
    "risk_table",
]

log = logging.getLogger("hftlab.risk")

#: ``Order.reject_reason`` of a request refused by a rule (101 + index in :data:`RULES`).
RISK_REJECT_CODES: dict[str, int] = {rule: 101 + k for k, rule in enumerate(RULES)}
_CODE_RULE = {code: rule for rule, code in RISK_REJECT_CODES.items()}

#: Schema of ``risk.parquet`` (read by ``hftlab report``; keep it stable).
RISK_SCHEMA = pa.schema(
    [
        ("ts_local", pa.int64()),
        ("instrument", pa.string()),
        ("rule", pa.string()),
        ("action", pa.string()),
        ("value", pa.float64()),
        ("limit", pa.float64()),
        ("detail", pa.string()),
    ]
)

_CALLBACKS = (
    "on_start",
    "on_timer",
    "on_quote",
    "on_book",
    "on_trade",
    "on_order_update",
    "on_fill",
    "on_stop",
)
_STALE = 1  # pull reasons (bits)
_LATENCY = 2
_NEG = -(2**63 - 1)
_SECOND = 1_000_000_000

RiskRow = tuple[int, str, str, str, float, float, str]


def reject_reason_name(code: int) -> str:
    """``"risk_<rule>"`` for a risk reject code, ``""`` for anything else."""
    rule = _CODE_RULE.get(code)
    return "" if rule is None else f"risk_{rule}"


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
        c = self.config
        self.strategy = strategy
        inner = {name: _overrides(strategy, name) for name in _CALLBACKS}
        self._loss_rules = c.max_loss is not None or c.max_drawdown is not None
        self._feed_rules = c.stale_feed_ms is not None or c.max_feed_latency_ms is not None
        self._wants = dict(inner)
        self._wants["on_fill"] = inner["on_fill"] or self._loss_rules
        self._inner_on_start = strategy.on_start
        self._inner_on_timer = strategy.on_timer
        self._inner_on_quote = strategy.on_quote
        self._inner_on_book = strategy.on_book
        self._inner_on_trade = strategy.on_trade
        self._inner_on_stop = strategy.on_stop
        self._inner_on_fill = strategy.on_fill if inner["on_fill"] else None
        self._inner_on_update = strategy.on_order_update if inner["on_order_update"] else None
        self._rate_max = c.max_order_rate
        self._notional_limit = c.notional_limit
        # Every rule off (the default): no request can be refused, the strategy never stopped,
        # no fill tracked. The manager then only forwards, so it installs no order gate and
        # lets engines call the strategy directly (see `handler`).
        self._transparent = not (
            self._loss_rules
            or self._feed_rules
            or c.max_position is not None
            or self._notional_limit is not None
            or self._rate_max is not None
        )
        self._ctx: Context | None = None
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
        self._req_lots: dict[int, int] = {}  # largest size ever requested, by order id

    # ------------------------------------------------------------------ subscriptions
    def wants_callback(self, name: str) -> bool:
        """Whether the engine should deliver ``name``: what the strategy overrides, plus fills
        when a loss rule tracks cash."""
        return self._wants.get(name, False)

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
        c = self.config
        insts = ctx.instruments
        n = len(insts)
        self._n = n
        self._keys = [inst.key for inst in insts]
        self._lot = [inst.lot_ratio[0] / inst.lot_ratio[1] for inst in insts]
        self._csize = [float(inst.contract_size) for inst in insts]
        self._inverse = [str(inst.contract_type) == "inverse" for inst in insts]
        limits: list[float | None] = [None] * n
        if isinstance(c.max_position, dict):
            for name, value in c.max_position.items():
                try:
                    limits[ctx.instrument_index(name)] = value
                except KeyError:
                    raise ConfigError(
                        f"[risk] max_position names {name!r}, not an instrument of this run "
                        f"({', '.join(self._keys)})"
                    ) from None
        elif c.max_position is not None:
            limits = [c.max_position] * n
        # In lots, rounded down: the limit is never exceeded by rounding.
        self._pos_limit = [
            None if lim is None else math.floor(lim / self._lot[i] + 1e-9)
            for i, lim in enumerate(limits)
        ]
        self._has_pos_limit = any(x is not None for x in self._pos_limit)
        self._track_orders = self._has_pos_limit or self._notional_limit is not None
        self._cash = [0.0] * n
        self._mid = [math.nan] * n
        self._peak = 0.0
        self._pulled = [0] * n
        self._pull_info: list[dict[int, tuple[float, float]]] = [{} for _ in range(n)]
        self._start = ctx.now
        self._stale_ns = None if c.stale_feed_ms is None else round(c.stale_feed_ms * 1e6)
        self._lat_ns = None if c.max_feed_latency_ms is None else round(c.max_feed_latency_ms * 1e6)
        self._lat_last = [_NEG] * n  # ts_local of the last event sampled
        self._lat_hist: list[deque[int]] = [deque() for _ in range(n)]
        self._lat_sorted: list[list[int]] = [[] for _ in range(n)]

    # ------------------------------------------------------------------ callbacks
    def on_start(self, ctx: Context) -> None:
        self._ctx = ctx
        self._setup(ctx)
        ctx.set_order_gate(None if self._transparent else self)
        if self._loss_rules or self._feed_rules:
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

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        if self._loss_rules:
            i = fill.instrument
            q = fill.qty * self._csize[i]
            if self._inverse[i]:
                self._cash[i] += fill.side * q / fill.price - fill.fee
            else:
                self._cash[i] -= fill.side * q * fill.price + fill.fee
            if math.isnan(self._mid[i]):
                self._mid[i] = fill.price
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
                return self._block_rule(rule, instrument, side, ticks, lots, tif)
        if self._has_pos_limit:
            lim = self._pos_limit[instrument]
            if lim is not None:
                reach = self._exposure(instrument, side) + lots
                if reach > lim:
                    return self._block(
                        "max_position",
                        instrument,
                        reach * self._lot[instrument],
                        lim * self._lot[instrument],
                        self._describe(instrument, side, ticks, lots, tif)
                        + f": position could reach {side * reach * self._lot[instrument]:g}",
                    )
        if self._notional_limit is not None:
            gross = self._gross_notional(instrument, side, lots, ticks)
            if gross > self._notional_limit:
                return self._block(
                    "max_notional",
                    instrument,
                    gross,
                    self._notional_limit,
                    self._describe(instrument, side, ticks, lots, tif)
                    + f": gross notional could reach {gross:.6g}",
                )
        if self._rate_max is not None:
            n = self._rate_count()
            if n >= self._rate_max:
                return self._block(
                    "order_rate",
                    instrument,
                    n + 1,
                    self._rate_max,
                    self._describe(instrument, side, ticks, lots, tif)
                    + f": {n} requests in the last second",
                )
            self._req_times.append(self._ctx.now)  # type: ignore[union-attr]
        return 0

    def allow_modify(self, order: Order, ticks: int, lots: int) -> int:
        """Pre-trade check of a modify (new price ``ticks``, new total size ``lots``)."""
        inst = order.instrument
        if self._blocked:
            rule = self._blocking_rule(inst)
            if rule:
                return self._block_rule(rule, inst, order.side, ticks, lots, -1, order)
        if self._track_orders:
            was = max(order.qty_lots, self._req_lots.get(order.id, 0))
            if lots > was:
                grow = lots - was
                lim = self._pos_limit[inst] if self._has_pos_limit else None
                if lim is not None:
                    reach = self._exposure(inst, order.side) + grow
                    if reach > lim:
                        return self._block(
                            "max_position",
                            inst,
                            reach * self._lot[inst],
                            lim * self._lot[inst],
                            f"modify order {order.id} to {lots * self._lot[inst]:g}: "
                            f"position could reach {order.side * reach * self._lot[inst]:g}",
                        )
                if self._notional_limit is not None:
                    gross = self._gross_notional(inst, order.side, grow, ticks)
                    if gross > self._notional_limit:
                        return self._block(
                            "max_notional",
                            inst,
                            gross,
                            self._notional_limit,
                            f"modify order {order.id} to {lots * self._lot[inst]:g}: "
                            f"gross notional could reach {gross:.6g}",
                        )
        if self._rate_max is not None:
            n = self._rate_count()
            if n >= self._rate_max:
                return self._block(
                    "order_rate",
                    inst,
                    n + 1,
                    self._rate_max,
                    f"modify order {order.id}: {n} requests in the last second",
                )
            self._req_times.append(self._ctx.now)  # type: ignore[union-attr]
        if self._track_orders:
            req = self._req_lots
            req[order.id] = max(req.get(order.id, 0), lots)
            if len(req) > 64 + 4 * len(self._ctx.orders):  # type: ignore[union-attr]
                live = self._ctx.orders  # type: ignore[union-attr]
                self._req_lots = {k: v for k, v in req.items() if k in live}
        return 0

    def sent_cancel(self, order: Order) -> None:
        """Cancels are never refused; they count towards the order rate."""
        if self._rate_max is not None:
            self._req_times.append(self._ctx.now)  # type: ignore[union-attr]

    def refused(self, order: Order) -> None:
        """Queue the strategy's notification of a refused request."""
        if self._inner_on_update is not None:
            self._refused.append(order)

    # ------------------------------------------------------------------ gate helpers
    def _rate_count(self) -> int:
        q = self._req_times
        cut = self._ctx.now - _SECOND  # type: ignore[union-attr]
        while q and q[0] <= cut:
            q.popleft()
        return len(q)

    def _exposure(self, inst: int, side: int) -> int:
        """Lots the position could reach towards ``side`` if every open order on that side
        filled in full (each at the largest size ever requested for it)."""
        ctx = self._ctx
        assert ctx is not None
        pos = ctx.position_lots(inst)
        req = self._req_lots
        open_lots = 0
        for o in ctx.orders.values():
            if o.instrument == inst and o.side == side:
                q = o.qty_lots
                r = req.get(o.id)
                if r is not None and r > q:
                    q = r
                open_lots += q - o.filled_lots
        return (pos if side > 0 else -pos) + open_lots

    def _exposures(self, inst: int) -> tuple[int, int]:
        """``(long, short)``: :meth:`_exposure` of both sides in one pass over the orders."""
        ctx = self._ctx
        assert ctx is not None
        pos = ctx.position_lots(inst)
        req = self._req_lots
        buys = sells = 0
        for o in ctx.orders.values():
            if o.instrument == inst:
                q = o.qty_lots
                r = req.get(o.id)
                if r is not None and r > q:
                    q = r
                if o.side > 0:
                    buys += q - o.filled_lots
                else:
                    sells += q - o.filled_lots
        return pos + buys, sells - pos

    def _price(self, inst: int, ticks: int = 0) -> float:
        """Local mid (or the last one seen, or the order's price) of ``inst``."""
        ctx = self._ctx
        assert ctx is not None
        mid = ctx.book(inst).mid
        if not math.isnan(mid):
            self._mid[inst] = mid
            return mid
        if not math.isnan(self._mid[inst]) or ticks <= 0:
            return self._mid[inst]
        return ctx.from_ticks(ticks, inst)

    def _value(self, inst: int, lots: int, price: float) -> float:
        """Notional of ``lots`` (absolute) at ``price`` in the instrument's quote currency."""
        if lots == 0 or math.isnan(price):
            return 0.0
        q = abs(lots) * self._lot[inst] * self._csize[inst]
        return q / price if self._inverse[inst] else q * price

    def _gross_notional(self, inst: int, side: int, extra: int, ticks: int) -> float:
        """Gross worst-case notional if ``extra`` lots more were ordered on ``side`` of
        ``inst``."""
        gross = 0.0
        for j in range(self._n):
            long_, short = self._exposures(j)
            if j == inst:
                if side > 0:
                    long_ += extra
                else:
                    short += extra
            worst = max(long_, short, 0)
            if worst:
                gross += self._value(j, worst, self._price(j, ticks if j == inst else 0))
        return gross

    def _describe(self, inst: int, side: int, ticks: int, lots: int, tif: int) -> str:
        ctx = self._ctx
        assert ctx is not None
        what = "buy" if side > 0 else "sell"
        qty = f"{lots * self._lot[inst]:g}"
        if tif == L.TIF_MARKET:
            return f"{what} {qty} market"
        return f"{what} {qty} @ {ctx.from_ticks(ticks, inst):g} {TIF_NAMES.get(tif, '')}"

    def _blocking_rule(self, inst: int) -> str:
        """The rule that blocks orders on ``inst`` now ("" if none; may resume the feed)."""
        if self.killed:
            return self._kill_rule
        if self._pulled[inst]:
            self._evaluate_feed(inst, self._ctx.now)  # type: ignore[union-attr]
            bits = self._pulled[inst]
            if bits & _STALE:
                return "stale_feed"
            if bits & _LATENCY:
                return "feed_latency"
        return ""

    def _block_rule(
        self,
        rule: str,
        inst: int,
        side: int,
        ticks: int,
        lots: int,
        tif: int,
        order: Order | None = None,
    ) -> int:
        what = (
            f"modify order {order.id}"
            if order is not None
            else self._describe(inst, side, ticks, lots, tif)
        )
        if self.killed:
            return self._block(rule, -1, math.nan, math.nan, f"{what}: trading killed")
        bit = _STALE if rule == "stale_feed" else _LATENCY
        value, limit = self._pull_info[inst].get(bit, (math.nan, math.nan))
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
        if self._loss_rules:
            self._check_equity(ctx)

    def equity(self) -> float:
        """Equity as the strategy knows it: cash from the fills received (fees included) plus
        positions marked to the local mid, summed over instruments (one quote currency)."""
        ctx = self._ctx
        assert ctx is not None
        eq = 0.0
        for i in range(self._n):
            eq += self._cash[i]
            pos = ctx.position_lots(i)
            if pos:
                mid = self._price(i)
                if not math.isnan(mid):
                    q = pos * self._lot[i] * self._csize[i]
                    eq += -q / mid if self._inverse[i] else q * mid
        return eq

    def _check_equity(self, ctx: Context) -> None:
        c = self.config
        eq = self.equity()
        if eq > self._peak:
            self._peak = eq
        if c.max_loss is not None and -eq > c.max_loss:
            self._kill(ctx, "max_loss", -eq, c.max_loss, f"equity {eq:.6g}")
        elif c.max_drawdown is not None and self._peak - eq > c.max_drawdown:
            self._kill(
                ctx,
                "max_drawdown",
                self._peak - eq,
                c.max_drawdown,
                f"equity {eq:.6g}, peak {self._peak:.6g}",
            )

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
        ticks, tif = 0, L.TIF_MARKET
        if slip is not None:
            book = ctx.book(inst)
            touch, qty = book.best_ask_ticks if side > 0 else book.best_bid_ticks
            if qty:
                ticks, tif = touch + side * slip, L.TIF_IOC
        order = ctx._submit(side, inst, ticks, abs(pos), tif, TIF_NAMES[tif])
        if self._rate_max is not None:
            self._req_times.append(now)
        self._record(
            now,
            inst,
            self._kill_rule,
            "flatten",
            pos * self._lot[inst],
            0.0,
            f"order {order.id}: " + self._describe(inst, side, ticks, abs(pos), tif),
        )

    def _evaluate_feed(self, i: int, now: int) -> None:
        """Pull or resume quoting on instrument ``i`` by the freshness and latency of its feed."""
        ctx = self._ctx
        assert ctx is not None
        tsx, tsl = ctx.data_times(i)
        if self._stale_ns is not None:
            silent = now - max(tsl, self._start)
            self._set_pull(
                i,
                _STALE,
                silent > self._stale_ns,
                now,
                silent / 1e6,
                self._stale_ns / 1e6,
                f"no market data for {silent / 1e6:.3f} ms",
            )
        if self._lat_ns is not None and tsl != _NEG and tsl != self._lat_last[i]:
            self._lat_last[i] = tsl
            lat = tsl - tsx
            srt = self._lat_sorted[i]
            mode = self.config.feed_latency_baseline
            if mode == "none":
                base = 0
            elif not srt:
                base = lat
            else:
                base = srt[0] if mode == "min" else srt[len(srt) // 2]
            limit = base + self._lat_ns
            if mode != "none":
                hist = self._lat_hist[i]
                hist.append(lat)
                bisect.insort(srt, lat)
                if len(hist) > self.config.feed_latency_window:
                    old = hist.popleft()
                    del srt[bisect.bisect_left(srt, old)]
            detail = f"feed latency {lat / 1e6:.3f} ms"
            if mode != "none":
                detail += f" ({mode} baseline {base / 1e6:.3f} ms)"
            self._set_pull(i, _LATENCY, lat > limit, now, lat / 1e6, limit / 1e6, detail)

    def _set_pull(
        self,
        i: int,
        bit: int,
        on: bool,
        now: int,
        value: float,
        limit: float,
        detail: str,
    ) -> None:
        was = self._pulled[i]
        rule = "stale_feed" if bit == _STALE else "feed_latency"
        if on and not was & bit:
            self._pulled[i] = was | bit
            self._pull_info[i][bit] = (value, limit)
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


def risk_table(events: list[RiskRow]) -> pa.Table:
    """Rows ``(ts_local, instrument, rule, action, value, limit, detail)`` to a table."""
    cols = list(zip(*events, strict=True)) if events else [[] for _ in RISK_SCHEMA]
    return pa.Table.from_arrays(
        [pa.array(list(col), f.type) for col, f in zip(cols, RISK_SCHEMA, strict=True)],
        schema=RISK_SCHEMA,
    )


def risk_summary(events: list[RiskRow], killed: bool, kill_ts: int | None) -> dict[str, Any]:
    """Per rule, how often it fired (``block_order``, ``pull_quotes`` and ``kill`` rows)."""
    counts = dict.fromkeys(RULES, 0)
    for row in events:
        if row[3] in ("block_order", "pull_quotes", "kill"):
            counts[row[2]] += 1
    return {"triggers": counts, "killed": bool(killed), "kill_ts": kill_ts}
