"""The strategy API: a plain Python class with callbacks, a typed config, and a context.

A strategy never knows whether a backtest or the live paper engine drives it: both hand it a
:class:`~hftlab.strategy.context.Context` over the same simulation core. See
``docs/strategy-api.md``.

Example
-------
>>> import msgspec
>>> class Params(msgspec.Struct, kw_only=True):
...     size: float = 0.001
>>> class Hello(Strategy):
...     Config = Params
...     def on_start(self, ctx):
...         ctx.every(1_000_000_000)            # wake every simulated second
...     def on_timer(self, ctx):
...         book = ctx.book(0)
...         if book.has_both_sides:
...             ctx.buy(self.config.size, book.best_bid, tif="post_only")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from hftlab.errors import ConfigError
from hftlab.vocab import OrderStatus, TimeInForce

if TYPE_CHECKING:
    from hftlab.strategy.context import Context

__all__ = [
    "Fill",
    "NoConfig",
    "Order",
    "OrderStatus",
    "Strategy",
    "Trade",
]


_LAST_OPEN = int(OrderStatus.PARTIALLY_FILLED)  # a plain int: cheaper to compare with

TIF_CODES: dict[str, int] = {tif.label: int(tif) for tif in TimeInForce}
TIF_NAMES = {v: k for k, v in TIF_CODES.items()}


class Order:
    """A strategy's order as known locally (updated when responses arrive).

    Prices and quantities are floats in instrument units; ``*_ticks``/``*_lots`` are exact.
    ``qty == filled + leaves`` always.
    """

    __slots__ = (
        "_lot",
        "_tick",
        "filled_lots",
        "id",
        "instrument",
        "price_ticks",
        "qty_lots",
        "reject_reason",
        "side",
        "status",
        "tif",
        "ts_sent",
        "ts_update",
    )

    def __init__(
        self,
        id: int,
        instrument: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tif: str,
        ts_sent: int,
        tick: tuple[int, int],
        lot: tuple[int, int],
    ) -> None:
        self.id = id
        self.instrument = instrument
        self.side = side
        self.price_ticks = price_ticks
        self.qty_lots = qty_lots
        self.filled_lots = 0
        self.tif = tif
        self.status = OrderStatus.PENDING
        self.ts_sent = ts_sent
        self.ts_update = ts_sent
        self.reject_reason = 0
        self._tick = tick
        self._lot = lot

    @property
    def price(self) -> float:
        return self.price_ticks * self._tick[0] / self._tick[1]

    @property
    def qty(self) -> float:
        return self.qty_lots * self._lot[0] / self._lot[1]

    @property
    def filled(self) -> float:
        return self.filled_lots * self._lot[0] / self._lot[1]

    @property
    def leaves(self) -> float:
        return (self.qty_lots - self.filled_lots) * self._lot[0] / self._lot[1]

    @property
    def is_open(self) -> bool:
        """Pending, new or partially filled."""
        return self.status <= _LAST_OPEN

    @property
    def is_buy(self) -> bool:
        return self.side > 0

    def __repr__(self) -> str:
        side = "buy" if self.side > 0 else "sell"
        return (
            f"Order(id={self.id}, {side} {self.qty:g} @ {self.price:g} {self.tif}, "
            f"filled={self.filled:g}, {self.status.name})"
        )


class Fill(msgspec.Struct, frozen=True):
    """One execution of one of our orders."""

    order_id: int
    instrument: int
    side: int
    price: float
    qty: float
    fee: float  # in the quote currency (the coin for inverse contracts); negative = rebate
    maker: bool
    ts_exchange: int
    ts_local: int


class Trade(msgspec.Struct, frozen=True):
    """A market trade as the strategy sees it (side is the aggressor's: +1 buyer)."""

    instrument: int
    side: int
    price: float
    qty: float
    ts_exchange: int
    ts_local: int


class NoConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The config of a strategy that takes no parameters."""


class Strategy:
    """Base class: override the callbacks you need; the others cost nothing.

    The engine subscribes a strategy to what it overrides: ``on_quote`` (best bid/ask price or
    size changed), ``on_book`` (any book change), ``on_trade`` (market trades),
    ``on_order_update`` (every order event: accepted, modified, cancelled, rejected, expired,
    filled), ``on_fill`` (executions), ``on_book_status`` (a book out of sync, or back).
    Timers come from ``ctx.every`` / ``ctx.set_timer``.

    ``Config`` is a ``msgspec.Struct`` (or pydantic model) of the strategy's parameters; the
    optimiser sweeps its fields.
    """

    Config: ClassVar[type[Any]] = NoConfig

    def __init__(self, config: Any = None) -> None:
        self.config = self.Config() if config is None else config

    @classmethod
    def make_config(cls, data: dict[str, Any] | None) -> Any:
        """Build ``Config`` from a dict (a TOML table); :class:`ConfigError` if invalid."""
        data = data or {}
        try:
            if hasattr(cls.Config, "model_validate"):  # pydantic
                return cls.Config.model_validate(data)
            return msgspec.convert(data, cls.Config)
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise ConfigError(f"invalid config for strategy {cls.__name__}: {exc}") from None

    # ------------------------------------------------------------------ callbacks
    def on_start(self, ctx: Context) -> None:
        """Called once at the time of the first event, before it is seen."""

    def on_timer(self, ctx: Context) -> None:
        """A timer set with ``ctx.every`` or ``ctx.set_timer`` fired."""

    def on_quote(self, ctx: Context, instrument: int) -> None:
        """The local best bid/ask (price or size) of ``instrument`` changed."""

    def on_book(self, ctx: Context, instrument: int) -> None:
        """The local book of ``instrument`` changed (any level)."""

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        """A market trade arrived."""

    def on_book_status(self, ctx: Context, instrument: int, synced: bool) -> None:
        """The local book of ``instrument`` went out of sync (``synced`` False: a gap in the
        depth data; its levels are stale and new orders and modifies on it are rejected until
        it is back) or is back in sync (True: rebuilt from a snapshot). Same as
        ``ctx.book(instrument).synced``. A strategy that quotes should pull its quotes on
        False: its orders still rest at the venue and trades can still fill them."""

    def on_order_update(self, ctx: Context, order: Order) -> None:
        """A response for one of our orders arrived (``order`` is already updated)."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """One of our orders was (partly) filled; called before ``on_order_update``."""

    def on_stop(self, ctx: Context) -> None:
        """Called once after the last event."""
