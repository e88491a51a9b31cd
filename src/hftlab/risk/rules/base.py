"""The interface of a risk rule, and the per-run state the rules of one manager share.

A :class:`Rule` measures one thing and says whether its limit is breached; the
:class:`~hftlab.risk.RiskManager` composes the rules that are on and acts for them (refuses the
request, pulls or resumes quotes, kills). A rule implements only the hooks it needs:

``check_request``
    the pre-trade check of a new order or a modify: 0 to let it go, else the rule's reject
    code (the rule records its ``block_order`` row through :meth:`Rule.refuse`). Called in
    :data:`~hftlab.risk.RULES` order; the first refusal wins. One hook for both kinds of
    request, called directly by the gate: a request pays one call per rule.
``check_feed``
    per instrument at every periodic check (and at order attempts while quotes are pulled):
    ``(breached, value, limit, detail)``, or None when there is nothing new to judge.
``check_equity``
    at every periodic check and every fill received: ``(value, limit, detail)`` when the
    equity breaches the limit (the manager then kills), else None.

Class attributes tell the manager what a rule needs: fills (to track cash), the periodic
timer, the largest size requested per order (worst-case exposure), the request log.
"""

from __future__ import annotations

import math
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self

from hftlab.risk.config import RISK_REJECT_CODES, RiskConfig
from hftlab.vocab import TimeInForce

if TYPE_CHECKING:
    from hftlab.events import Instrument
    from hftlab.strategy import Fill, Order
    from hftlab.strategy.context import Context

__all__ = ["Breach", "FeedReading", "Recorder", "RiskState", "Rule"]

#: ``(value, limit, detail)`` of an equity limit that is breached.
Breach = tuple[float, float, str]
#: ``(breached, value, limit, detail)`` of a feed measurement.
FeedReading = tuple[bool, float, float, str]
#: Records one ``risk.parquet`` row: ``(ts, instrument, rule, action, value, limit, detail)``
#: (instrument -1: account-wide).
Recorder = Callable[[int, int, str, str, float, float, str], None]

_TIF_MARKET = int(TimeInForce.MARKET)  # compared per refused order: a plain int
_TIF_LABELS = TimeInForce.labels()


class RiskState:
    """What the rules of one run share: the context, the instruments, the last known mids,
    the cash from the fills received, and what was requested (sizes, times).

    Built by the manager at ``on_start``; a rule reads it from :attr:`Rule.state`.

    Attributes
    ----------
    ctx
        The strategy's context.
    instruments, keys, lot
        The run's instruments, their ``VENUE/SYMBOL`` keys and lot sizes (exact ratio as a
        float).
    start
        Local time of the start (ns).
    mid
        Last known local mid per instrument (NaN before any; a fill's price stands in until
        a mid is seen).
    cash
        Cash from the fills received, fees included, per instrument (kept when a rule needs
        fills).
    req_lots
        The largest size ever requested per order id (kept by the manager's gate when a rule
        tracks orders; always the same dict).
    req_times
        Local times of the requests sent (kept when a rule counts requests).
    """

    __slots__ = (
        "_record",
        "cash",
        "ctx",
        "instruments",
        "keys",
        "lot",
        "mid",
        "n",
        "req_lots",
        "req_times",
        "start",
    )

    def __init__(self, ctx: Context, record: Recorder) -> None:
        self.ctx = ctx
        # Weak: the manager owns this state, so a strong reference to its bound method would
        # be a cycle keeping the run's context and core (~15 MB of buffers) alive until the
        # garbage collector happens to run (it did, in back-to-back backtests).
        self._record: Callable[[], Recorder | None] = (
            weakref.WeakMethod(record) if hasattr(record, "__self__") else lambda: record
        )
        insts: tuple[Instrument, ...] = tuple(ctx.instruments)
        self.instruments = insts
        self.n = len(insts)
        self.keys = [inst.key for inst in insts]
        self.lot = [inst.lot_ratio[0] / inst.lot_ratio[1] for inst in insts]
        self.start = ctx.now
        self.mid = [math.nan] * self.n
        self.cash = [0.0] * self.n
        self.req_lots: dict[int, int] = {}
        self.req_times: deque[int] = deque()

    def record(
        self, ts: int, inst: int, rule: str, action: str, value: float, limit: float, detail: str
    ) -> None:
        """Log one risk-manager action (a ``risk.parquet`` row) through the manager."""
        record = self._record()
        if record is not None:
            record(ts, inst, rule, action, value, limit, detail)

    # ------------------------------------------------------------------ prices and money
    def mark(self, inst: int, ticks: int = 0) -> float:
        """Local mid of ``inst`` (remembered), else the last one seen, else the price of
        ``ticks`` (an order's price; 0: none), else NaN."""
        mid = self.ctx.book(inst).mid
        if not math.isnan(mid):
            self.mid[inst] = mid
            return mid
        if not math.isnan(self.mid[inst]) or ticks <= 0:
            return self.mid[inst]
        return self.ctx.from_ticks(ticks, inst)

    def on_fill(self, fill: Fill) -> None:
        """Book a fill received: its cash (fee included); its price marks the instrument
        until a mid is seen."""
        i = fill.instrument
        self.cash[i] += self.instruments[i].cash_delta(fill.side, fill.qty, fill.price, fill.fee)
        if math.isnan(self.mid[i]):
            self.mid[i] = fill.price

    def equity(self) -> float:
        """Cash from the fills received plus positions marked to the local mid, summed over
        instruments (one quote currency); a position with no known price counts 0."""
        ctx = self.ctx
        eq = 0.0
        for i in range(self.n):
            eq += self.cash[i]
            pos = ctx.position_lots(i)
            if pos:
                mid = self.mark(i)
                if not math.isnan(mid):
                    eq += self.instruments[i].position_value(pos * self.lot[i], mid)
        return eq

    # ------------------------------------------------------------------ orders
    def forget_closed(self) -> None:
        """Drop the requested sizes of orders no longer open (in place: rules hold the dict)."""
        live = self.ctx.orders
        req = self.req_lots
        for oid in [k for k in req if k not in live]:
            del req[oid]

    def describe(self, inst: int, side: int, ticks: int, lots: int, tif: int) -> str:
        """``"buy 0.001 @ 50000 gtc"`` / ``"sell 0.002 market"``: a new order, for details."""
        what = "buy" if side > 0 else "sell"
        qty = f"{lots * self.lot[inst]:g}"
        if tif == _TIF_MARKET:
            return f"{what} {qty} market"
        return f"{what} {qty} @ {self.ctx.from_ticks(ticks, inst):g} {_TIF_LABELS.get(tif, '')}"


class Rule:
    """One limit of :class:`~hftlab.risk.RiskConfig` (see the module docstring for the hooks).

    Parameters
    ----------
    config
        The manager's config (a rule reads its own keys).
    limit
        The value of the rule's :attr:`key` (:meth:`limit_of`).

    Attributes
    ----------
    name
        The rule's name in :data:`~hftlab.risk.RULES` (``risk.parquet``'s ``rule``).
    key
        The :class:`~hftlab.risk.RiskConfig` key whose value is the limit (None: rule off).
    code
        ``Order.reject_reason`` of the requests it refuses (:data:`RISK_REJECT_CODES`).
    state
        The run's shared state (set by :meth:`start`).
    """

    name: ClassVar[str]
    key: ClassVar[str]
    #: The rule reads cash: the manager tracks fills (and asks for them) and equity.
    needs_fills: ClassVar[bool] = False
    #: The rule is evaluated at the manager's periodic check (``check_interval_ms``).
    periodic: ClassVar[bool] = False
    #: The rule reads worst-case exposures: the manager keeps each order's largest size.
    tracks_orders: ClassVar[bool] = False
    #: The rule reads the books' sync (``ctx.book(i).synced``): the manager subscribes to
    #: ``on_book_status`` and evaluates the rule's ``check_feed`` at once when a book goes
    #: out of sync or back in.
    reads_book_sync: ClassVar[bool] = False
    #: The rule reads the request log: the manager notes every request sent.
    counts_requests: ClassVar[bool] = False

    state: RiskState

    def __init__(self, config: RiskConfig, limit: Any) -> None:
        self.config = config
        self.limit = limit
        self.code = RISK_REJECT_CODES[self.name]

    @classmethod
    def limit_of(cls, config: RiskConfig) -> Any:
        """The rule's limit in ``config`` (None: the rule is off): the value of :attr:`key`."""
        return getattr(config, cls.key)

    @classmethod
    def from_config(cls, config: RiskConfig) -> Self | None:
        """The rule if ``config`` switches it on, else None."""
        limit = cls.limit_of(config)
        return None if limit is None else cls(config, limit)

    def start(self, state: RiskState) -> None:
        """Begin a run (a manager can drive several, one after another): reset per-run
        state."""
        self.state = state

    def refuse(self, inst: int, value: float, limit: float, detail: str) -> int:
        """Record a ``block_order`` row for this rule and return its reject code."""
        self.state.record(self.state.ctx.now, inst, self.name, "block_order", value, limit, detail)
        return self.code

    def what(
        self, inst: int, side: int, ticks: int, lots: int, tif: int, order: Order | None
    ) -> str:
        """The request, for a refusal's detail: the new order, or ``"modify order N to Q"``."""
        if order is None:
            return self.state.describe(inst, side, ticks, lots, tif)
        return f"modify order {order.id} to {lots * self.state.lot[inst]:g}"

    # ------------------------------------------------------------------ hooks
    def check_request(
        self, inst: int, side: int, ticks: int, lots: int, tif: int, extra: int, order: Order | None
    ) -> int:
        """Pre-trade check of a request: 0 to let it go, or :meth:`refuse`'s code.

        Parameters
        ----------
        inst, side, ticks, lots, tif
            The request: instrument, +1 buy / −1 sell, price in ticks, total size in lots,
            time-in-force code (−1 for a modify).
        extra
            Lots the request adds to the worst case: a new order's size; for a modify, its
            growth above the largest size ever requested for the order (0 if none, or if no
            rule tracks orders). A rule that :attr:`tracks_orders` is asked only when
            ``extra > 0``.
        order
            None for a new order; the order being modified.
        """
        return 0

    def check_feed(
        self, inst: int, now: int, ts_exchange: int, ts_local: int
    ) -> FeedReading | None:
        """Judge the feed of ``inst`` (``ts_*``: its last event, ``ctx.data_times``)."""
        return None

    def check_equity(self, equity: float) -> Breach | None:
        """Judge the equity (:meth:`RiskState.equity`)."""
        return None

    @classmethod
    def implements(cls, hook: str) -> bool:
        """Whether the rule overrides ``hook`` (the manager calls only those)."""
        return getattr(cls, hook) is not getattr(Rule, hook)
