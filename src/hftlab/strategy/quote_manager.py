"""Working quotes: keep one or more post-only orders per side where a strategy wants them.

A market maker decides *where* it wants to be (a price and size per level and side); the
:class:`QuoteManager` turns that into as few requests as possible while respecting the order
lifecycle::

    (empty) --new--> PENDING --accepted--> LIVE --fill--> PARTIALLY FILLED --fill--> done
                        |                   |  \\                  |
                        |                   |   modify (in flight) | cancel (in flight)
                        +--rejected--> done +--cancelled--> done --+

Rules, applied per level ("slot") at every call of :meth:`QuoteManager.set_side`:

* **One request in flight per order.** A slot whose order is pending (not yet acknowledged), or
  has a modify or cancel in flight, is left alone until the response arrives.
* **Queue priority is kept within a tolerance.** A live order is moved only when the wanted price
  is more than ``tolerance_ticks`` away from its price. A move is a ``ctx.modify`` (the order
  keeps its id; the price change loses priority as it would on the venue) or, with
  ``replace="cancel_new"`` (venues without amend), a cancel plus a new order sent together; the
  cancelled order is tracked until the exchange confirms it. A modify is never sent in a form
  the exchange rejects whatever the book (its new total size is always above the filled size;
  an unchanged price or size is not sent); one whose price reached the opposite best by the
  time it arrived costs the order (Binance cancels a post-only order whose modify would take;
  see ``SimConfig.modify_rule``) and backs off like a rejected new order.
* **Maximum order age.** With ``max_order_age_ms > 0`` an order that has rested (at its current
  price) that long is cancelled and replaced by a new one at the wanted price (a refresh).
* **Partial fills.** ``partial_fill="leave"`` lets the remainder rest at its place in the queue;
  ``"resize"`` modifies the order's total size to ``filled + wanted`` so the full wanted size is
  working again (a larger size loses priority, as on the venue).
* **Rejects.** A post-only reject (the price reached the opposite best by the time the order
  arrived) moves that side ``reject_backoff_ticks`` further from the touch, up to
  ``max_backoff_ticks``; the order is retried at the next call. The back-off decays by one tick
  per call without a new reject on that side. Every reject is counted.
* **Stop.** :meth:`cancel_all` cancels every open order, including those with a request in
  flight (the connection keeps order, so the cancel arrives after it).

Prices are integer ticks and sizes integer lots of one instrument. State is polled from the
:class:`~hftlab.strategy.Order` objects the context updates, so the strategy does not need to
forward ``on_order_update`` (it may call :meth:`QuoteManager.on_order_update` to react sooner).
Per call the work is a few attribute reads per slot; nothing is allocated unless a request is
sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, Literal

from hftlab.errors import ConfigError
from hftlab.strategy import Order, OrderStatus
from hftlab.vocab import RejectReason

if TYPE_CHECKING:
    from hftlab.strategy.context import Context

log = logging.getLogger(__name__)

__all__ = ["QuoteManager", "QuoteStats"]

# What a slot is waiting for.
_IDLE: Final = 0
_NEW: Final = 1
_MODIFY: Final = 2
_CANCEL: Final = 3

_PENDING: Final = int(OrderStatus.PENDING)
_PARTIAL: Final = int(OrderStatus.PARTIALLY_FILLED)
_FILLED: Final = int(OrderStatus.FILLED)
_REJECTED: Final = int(OrderStatus.REJECTED)
_POST_ONLY_REASONS: Final = frozenset({int(RejectReason.POST_ONLY), int(RejectReason.WOULD_CROSS)})


class QuoteStats:
    """Counters of a :class:`QuoteManager` (requests sent and what came of them).

    Attributes
    ----------
    sent
        New orders sent (including replacements and refreshes).
    modified
        Modify requests sent (price moves and resizes).
    cancelled
        Cancel requests sent (moves in ``cancel_new`` mode, refreshes, levels no longer wanted,
        stop).
    rejected
        New orders and modifies the exchange rejected, and orders it cancelled because of a
        modify (a post-only modify that would have taken liquidity).
    post_only_rejects
        Of ``rejected``: because the price would have crossed (post-only / would-cross).
    refreshed
        Orders replaced because they reached ``max_order_age_ms``.
    filled
        Orders completely filled.
    partial_fills
        Partial fills seen (an order whose filled size grew but is still open).
    resized
        Of ``modified``: size top-ups after partial fills (``partial_fill="resize"``).
    """

    __slots__ = (
        "cancelled",
        "filled",
        "modified",
        "partial_fills",
        "post_only_rejects",
        "refreshed",
        "rejected",
        "resized",
        "sent",
    )

    def __init__(self) -> None:
        self.sent = 0
        self.modified = 0
        self.cancelled = 0
        self.rejected = 0
        self.post_only_rejects = 0
        self.refreshed = 0
        self.filled = 0
        self.partial_fills = 0
        self.resized = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for reports and logs)."""
        return {name: getattr(self, name) for name in sorted(self.__slots__)}

    def __repr__(self) -> str:
        return "QuoteStats(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


class _Slot:
    """One quote level of one side: at most one working order."""

    __slots__ = (
        "filled_seen",
        "order",
        "pending",
        "placed_at",
        "seen_status",
        "want_lots",
        "want_ticks",
    )

    def __init__(self) -> None:
        self.order: Order | None = None
        self.pending = _IDLE
        self.want_ticks = 0  # target of an in-flight modify
        self.want_lots = 0
        self.placed_at = 0  # local time the order's current price was requested
        self.filled_seen = 0
        self.seen_status = -1  # the order's status when last synced (-1: never)


class QuoteManager:
    """Keep ``levels`` post-only (or GTC) orders per side of one instrument where wanted.

    Parameters
    ----------
    instrument
        Index of the instrument in the run.
    levels
        Quote levels per side (slots); :meth:`set_side` may ask for fewer.
    tolerance_ticks
        A live order is left in place (keeping its queue position) while the wanted price is
        within this many ticks of its price. 0: move on any change.
    max_order_age_ms
        Refresh (cancel + new) an order that has rested this long at its price; 0 disables.
    partial_fill
        ``"leave"``: a partially filled order keeps resting with its remainder. ``"resize"``:
        its total size is modified to ``filled + wanted``.
    replace
        ``"modify"``: move orders with ``ctx.modify``. ``"cancel_new"``: cancel and send a new
        order together (venues without amend, or to avoid a modify race).
    tif
        ``"post_only"`` (maker only; default) or ``"gtc"``.
    reject_backoff_ticks
        Ticks a side moves away from the touch after each post-only reject.
    max_backoff_ticks
        Cap on the accumulated back-off.

    Raises
    ------
    ConfigError
        A parameter out of range (the message names it).
    """

    def __init__(
        self,
        instrument: int = 0,
        *,
        levels: int = 1,
        tolerance_ticks: int = 0,
        max_order_age_ms: float = 0.0,
        partial_fill: Literal["leave", "resize"] = "leave",
        replace: Literal["modify", "cancel_new"] = "modify",
        tif: Literal["post_only", "gtc"] = "post_only",
        reject_backoff_ticks: int = 1,
        max_backoff_ticks: int = 10,
    ) -> None:
        check_quote_params(
            levels=levels,
            tolerance_ticks=tolerance_ticks,
            max_order_age_ms=max_order_age_ms,
            partial_fill=partial_fill,
            replace=replace,
            tif=tif,
            reject_backoff_ticks=reject_backoff_ticks,
            max_backoff_ticks=max_backoff_ticks,
        )
        self.instrument = instrument
        self.levels = levels
        self.tolerance_ticks = tolerance_ticks
        self.max_age_ns = int(max_order_age_ms * 1_000_000)
        self.resize = partial_fill == "resize"
        self.modify_in_place = replace == "modify"
        self.tif = tif
        self.reject_backoff_ticks = reject_backoff_ticks
        self.max_backoff_ticks = max_backoff_ticks
        self.stats = QuoteStats()
        # index 0: bids (side +1), index 1: asks (side -1)
        self._slots = ([_Slot() for _ in range(levels)], [_Slot() for _ in range(levels)])
        self._backoff = [0, 0]
        self._rejected_now = [False, False]
        self._retiring: list[Order] = []  # cancelled, waiting for the exchange to confirm
        self._by_id: dict[int, _Slot] = {}
        self._lot: tuple[int, int] | None = None  # the instrument's lot size as a ratio

    # ------------------------------------------------------------------ queries
    def backoff(self, side: int) -> int:
        """Current post-only back-off of ``side`` (+1 bids, -1 asks), in ticks."""
        return self._backoff[0 if side > 0 else 1]

    def orders(self, side: int) -> list[Order | None]:
        """The working order of each level of ``side`` (None: empty slot), best level first."""
        return [s.order for s in self._slots[0 if side > 0 else 1]]

    def busy(self, side: int, level: int = 0) -> bool:
        """True if the order of ``level`` on ``side`` has a request awaiting its answer.

        As of the last :meth:`set_side` / :meth:`on_order_update` (responses that arrived since
        are folded in at the next call).
        """
        return self._slots[0 if side > 0 else 1][level].pending != _IDLE

    def in_flight(self) -> int:
        """Orders with a request (new, modify or cancel) not yet answered."""
        n = sum(1 for o in self._retiring if o.is_open)
        for slots in self._slots:
            n += sum(1 for s in slots if s.pending != _IDLE)
        return n

    # ------------------------------------------------------------------ main entry
    def set_side(
        self,
        ctx: Context,
        side: int,
        prices: list[int],
        sizes: list[int],
        n: int,
        now: int | None = None,
    ) -> None:
        """Make ``side``'s working orders match the first ``n`` wanted levels.

        Parameters
        ----------
        ctx
            The strategy context.
        side
            +1 bids, -1 asks.
        prices, sizes
            Wanted price (ticks) and size (lots) of each level, best level first; only the
            first ``n`` entries are read (the lists can be reused between calls).
        n
            Levels wanted now, ``0 <= n <= levels``; levels beyond ``n`` are cancelled.
        now
            ``ctx.now`` if the caller has it at hand (saves a lookup).
        """
        k = 0 if side > 0 else 1
        slots = self._slots[k]
        if self._retiring:
            self._retiring = [o for o in self._retiring if o.is_open]
        rejected_before = self._rejected_now[k]
        self._rejected_now[k] = False
        for s in slots:  # sync first: a reject in any slot backs off the whole side
            o = s.order
            if o is not None and (
                s.pending or o.status != s.seen_status or o.filled_lots != s.filled_seen
            ):
                self._sync(s, k)
        back = self._backoff[k]
        if back:
            if not self._rejected_now[k] and not rejected_before:
                back -= 1
                self._backoff[k] = back
            back *= side  # moves bids down, asks up
        if now is None:
            now = ctx.now
        for j, s in enumerate(slots):
            if j < n:
                if s.pending == _IDLE:
                    self._reconcile(ctx, s, side, prices[j] - back, sizes[j], now)
            elif s.order is not None and s.pending == _IDLE:
                self._cancel_slot(ctx, s)

    def on_order_update(self, ctx: Context, order: Order) -> None:
        """Optional: forward ``Strategy.on_order_update`` to update counters at once."""
        s = self._by_id.get(order.id)
        if s is not None and s.order is order:
            self._sync(s, 0 if order.side > 0 else 1)

    def cancel_all(self, ctx: Context) -> None:
        """Cancel every open order of the manager (use in ``on_stop``)."""
        for k in (0, 1):
            for s in self._slots[k]:
                o = s.order
                if o is None:
                    continue
                self._sync(s, k)
                o = s.order
                if o is not None and s.pending != _CANCEL:
                    self._cancel_slot(ctx, s)

    # ------------------------------------------------------------------ internals
    def _sync(self, s: _Slot, k: int) -> None:
        """Fold the order's latest known state into the slot (the order was updated in place)."""
        o = s.order
        assert o is not None
        st = o.status
        s.seen_status = st
        if st > _PARTIAL:  # closed: filled, cancelled, rejected or expired
            if st == _FILLED:
                self.stats.filled += 1
            if st == _REJECTED:
                self._count_reject(o.reject_reason, k)
            elif s.pending == _MODIFY and o.reject_reason:
                # the venue cancelled the order for the modify (a post-only price that would
                # take), or the modify was rejected and the order closed before this sync
                self._count_reject(o.reject_reason, k)
            del self._by_id[o.id]
            s.order = None
            s.pending = _IDLE
            return
        if o.filled_lots != s.filled_seen:
            s.filled_seen = o.filled_lots
            self.stats.partial_fills += 1
        p = s.pending
        if p == _IDLE:
            return
        if p == _NEW:
            if st != _PENDING:
                s.pending = _IDLE
        elif p == _MODIFY:
            if o.price_ticks == s.want_ticks and o.qty_lots == s.want_lots:
                s.pending = _IDLE  # modified
            elif o.reject_reason:  # modify rejected (reason cleared when it was sent)
                s.pending = _IDLE
                self._count_reject(o.reject_reason, k)
        elif o.reject_reason:  # cancel rejected while the order is still open
            s.pending = _IDLE

    def _count_reject(self, reason: int, k: int) -> None:
        self.stats.rejected += 1
        if reason in _POST_ONLY_REASONS:
            self.stats.post_only_rejects += 1
            self._rejected_now[k] = True
            b = self._backoff[k] + self.reject_backoff_ticks
            self._backoff[k] = b if b < self.max_backoff_ticks else self.max_backoff_ticks

    def _reconcile(
        self, ctx: Context, s: _Slot, side: int, ticks: int, lots: int, now: int
    ) -> None:
        o = s.order
        if o is None:
            self._send_new(ctx, s, side, ticks, lots, now)
            return
        if self.max_age_ns and now - s.placed_at >= self.max_age_ns:
            self.stats.refreshed += 1
            self._cancel_and_replace(ctx, s, side, ticks, lots, now)
            return
        diff = ticks - o.price_ticks
        if diff > self.tolerance_ticks or -diff > self.tolerance_ticks:
            if self.modify_in_place:
                total = o.filled_lots + lots if self.resize else o.qty_lots
                self._modify(ctx, s, ticks, total, now)
            else:
                self._cancel_and_replace(ctx, s, side, ticks, lots, now)
        elif self.resize and o.filled_lots and o.qty_lots - o.filled_lots < lots:
            self.stats.resized += 1
            if self.modify_in_place:
                self._modify(ctx, s, o.price_ticks, o.filled_lots + lots, s.placed_at)
            else:
                self._cancel_and_replace(ctx, s, side, o.price_ticks, lots, s.placed_at)

    def _qty(self, ctx: Context, lots: int) -> float:
        if self._lot is None:
            self._lot = ctx.instruments[self.instrument].lot_ratio
        n, d = self._lot
        return lots * n / d

    def _send_new(
        self, ctx: Context, s: _Slot, side: int, ticks: int, lots: int, placed_at: int
    ) -> None:
        i = self.instrument
        price = ctx.from_ticks(ticks, i)
        qty = self._qty(ctx, lots)
        o = (
            ctx.buy(qty, price, instrument=i, tif=self.tif)
            if side > 0
            else ctx.sell(qty, price, instrument=i, tif=self.tif)
        )
        self.stats.sent += 1
        s.order = o
        s.pending = _NEW
        s.placed_at = placed_at
        s.filled_seen = 0
        s.seen_status = -1
        self._by_id[o.id] = s

    def _modify(self, ctx: Context, s: _Slot, ticks: int, lots: int, placed_at: int) -> None:
        o = s.order
        assert o is not None
        o.reject_reason = 0  # so the response to this request is recognisable
        price = None if ticks == o.price_ticks else ctx.from_ticks(ticks, self.instrument)
        qty = None if lots == o.qty_lots else self._qty(ctx, lots)
        ctx.modify(o, price=price, qty=qty)
        self.stats.modified += 1
        s.pending = _MODIFY
        s.want_ticks = ticks
        s.want_lots = lots
        s.placed_at = placed_at

    def _cancel_slot(self, ctx: Context, s: _Slot) -> None:
        o = s.order
        assert o is not None
        o.reject_reason = 0
        ctx.cancel(o)
        self.stats.cancelled += 1
        s.pending = _CANCEL

    def _cancel_and_replace(
        self, ctx: Context, s: _Slot, side: int, ticks: int, lots: int, placed_at: int
    ) -> None:
        o = s.order
        assert o is not None
        ctx.cancel(o)
        self.stats.cancelled += 1
        del self._by_id[o.id]
        self._retiring.append(o)
        s.order = None
        self._send_new(ctx, s, side, ticks, lots, placed_at)


def check_quote_params(
    *,
    levels: int,
    tolerance_ticks: int,
    max_order_age_ms: float,
    partial_fill: str,
    replace: str,
    tif: str,
    reject_backoff_ticks: int,
    max_backoff_ticks: int,
) -> None:
    """Validate the quote-manager parameters; :class:`ConfigError` naming the bad one."""
    if levels < 1:
        raise ConfigError(f"levels = {levels}: need at least 1 quote level per side")
    if tolerance_ticks < 0:
        raise ConfigError(f"tolerance_ticks = {tolerance_ticks}: must be >= 0 (0 = exact)")
    if not max_order_age_ms >= 0:
        raise ConfigError(f"max_order_age_ms = {max_order_age_ms}: must be >= 0 (0 = off)")
    if partial_fill not in ("leave", "resize"):
        raise ConfigError(f"partial_fill = {partial_fill!r}: use 'leave' or 'resize'")
    if replace not in ("modify", "cancel_new"):
        raise ConfigError(f"replace = {replace!r}: use 'modify' or 'cancel_new'")
    if tif not in ("post_only", "gtc"):
        raise ConfigError(f"tif = {tif!r}: use 'post_only' or 'gtc'")
    if reject_backoff_ticks < 0 or max_backoff_ticks < 0:
        raise ConfigError(
            f"reject_backoff_ticks = {reject_backoff_ticks}, max_backoff_ticks = "
            f"{max_backoff_ticks}: both must be >= 0"
        )
