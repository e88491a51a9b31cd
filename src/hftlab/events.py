"""Canonical market events: kinds, on-disk schemas, the sim core's dtype, instrument specs.

Time is int64 nanoseconds since the Unix epoch (UTC). Every market event carries ``ts_exchange``
(venue time) and ``ts_local`` (receive time); feed latency is ``ts_local - ts_exchange`` and may be
negative in real captures.

On disk (Parquet) prices and quantities are float64, one schema per channel:

``depth``  level updates (absolute new quantity, 0 removes), snapshot levels and the clear-book
           marker that precedes every snapshot; venue sequence ids kept for validation.
``trade``  trades with the aggressor side.
``bbo``    best bid/offer (L1) quotes.

In memory the sim core consumes :data:`EVENT_DTYPE`: integer ticks and lots, one row per event,
merged across instruments with an instrument index.
"""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Final

import msgspec
import numpy as np
import pyarrow as pa

from hftlab.errors import InstrumentError
from hftlab.units import NS_PER_MS as NS_PER_MS  # re-exported: importers read them from here
from hftlab.units import NS_PER_S as NS_PER_S
from hftlab.units import NS_PER_US as NS_PER_US


class EventKind(IntEnum):
    """Kinds of market event. Values are stored on disk; never renumber."""

    DEPTH = 1  # level update: absolute new quantity at a price, 0 removes the level
    SNAPSHOT = 2  # one level of a full-book snapshot
    CLEAR = 3  # clear the side(s) of the book; precedes the levels of a snapshot
    TRADE = 4  # a trade; side is the aggressor's
    BBO = 5  # best bid/offer


class Side(IntEnum):
    """Book side of a level, or aggressor side of a trade (BUY = the taker bought)."""

    BID = 1
    ASK = -1
    NONE = 0  # a CLEAR of both sides; a trade whose aggressor is unknown

    BUY = 1
    SELL = -1


class Channel(StrEnum):
    """Stored channels; each has its own Parquet schema."""

    DEPTH = "depth"
    TRADE = "trade"
    BBO = "bbo"


class ContractType(StrEnum):
    """How PnL is computed: spot and linear pay ``qty*Δprice``, inverse ``qty*size*Δ(1/price)``."""

    SPOT = "spot"
    LINEAR = "linear"
    INVERSE = "inverse"


# Event flags (bit field, uint8 on disk and in EVENT_DTYPE).
FLAG_UNSYNCED: Final = 1  # received while the book was out of sync: kept, but not to be applied
FLAG_TS_INFERRED: Final = 2  # ts_exchange was not in the message and was inferred
FLAG_RESYNC: Final = 4  # first event (or snapshot) of a book rebuilt after a gap
# Set with FLAG_UNSYNCED on a row older than the synced book (a diff it already contains, a
# snapshot not needed while in sync): not applied either, but the book stays in sync.
FLAG_STALE: Final = 8

NO_ID: Final = -1  # a missing venue sequence id

_TS = pa.int64()

DEPTH_SCHEMA: Final = pa.schema(
    [
        pa.field("ts_exchange", _TS, nullable=False),
        pa.field("ts_local", _TS, nullable=False),
        pa.field("kind", pa.uint8(), nullable=False),
        pa.field("side", pa.int8(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("qty", pa.float64(), nullable=False),
        pa.field("first_update_id", pa.int64(), nullable=False),  # U
        pa.field("last_update_id", pa.int64(), nullable=False),  # u (lastUpdateId for snapshots)
        pa.field("prev_update_id", pa.int64(), nullable=False),  # pu (futures), else -1
        pa.field("flags", pa.uint8(), nullable=False),
    ]
)

TRADE_SCHEMA: Final = pa.schema(
    [
        pa.field("ts_exchange", _TS, nullable=False),
        pa.field("ts_local", _TS, nullable=False),
        pa.field("side", pa.int8(), nullable=False),  # aggressor: +1 buy, -1 sell, 0 unknown
        pa.field("price", pa.float64(), nullable=False),
        pa.field("qty", pa.float64(), nullable=False),
        pa.field("trade_id", pa.int64(), nullable=False),
        pa.field("flags", pa.uint8(), nullable=False),
    ]
)

BBO_SCHEMA: Final = pa.schema(
    [
        pa.field("ts_exchange", _TS, nullable=False),
        pa.field("ts_local", _TS, nullable=False),
        pa.field("bid_price", pa.float64(), nullable=False),
        pa.field("bid_qty", pa.float64(), nullable=False),
        pa.field("ask_price", pa.float64(), nullable=False),
        pa.field("ask_qty", pa.float64(), nullable=False),
        pa.field("update_id", pa.int64(), nullable=False),
        pa.field("flags", pa.uint8(), nullable=False),
    ]
)

CHANNEL_SCHEMAS: Final[dict[Channel, pa.Schema]] = {
    Channel.DEPTH: DEPTH_SCHEMA,
    Channel.TRADE: TRADE_SCHEMA,
    Channel.BBO: BBO_SCHEMA,
}

#: The sim core's event record. Prices in ticks, quantities in lots (see :class:`Instrument`).
#: For BBO rows ``price``/``qty`` hold the bid and ``price2``/``qty2`` the ask; other kinds leave
#: ``price2``/``qty2`` at 0. ``instrument`` indexes the list of instruments of the stream.
EVENT_DTYPE: Final = np.dtype(
    [
        ("ts_exchange", np.int64),
        ("ts_local", np.int64),
        ("price", np.int64),
        ("qty", np.int64),
        ("price2", np.int64),
        ("qty2", np.int64),
        ("instrument", np.int32),
        ("kind", np.uint8),
        ("side", np.int8),
        ("flags", np.uint8),
        ("_pad", np.uint8),
    ]
)


def _as_ratio(step: float, what: str) -> tuple[int, int]:
    """Exact integer ratio of the decimal a step size was written as (0.01 -> (1, 100))."""
    if not np.isfinite(step) or step <= 0:
        raise InstrumentError(f"{what} must be a positive number, got {step!r}")
    num, den = Decimal(repr(float(step))).as_integer_ratio()
    if num > 2**31 or den > 10**15:
        raise InstrumentError(f"{what} {step!r} is not a usable decimal step")
    return num, den


#: A scalar or an array of them (the contract arithmetic of :class:`Instrument` takes both).
_Num = float | np.ndarray
# A module global: reading a member off an Enum class costs ~150 ns on Python 3.11, and the
# risk rules value positions per request.
_INVERSE: Final = ContractType.INVERSE


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """What the sim core needs to know about a tradable instrument.

    ``tick_size`` and ``lot_size`` are decimal steps (0.01, 0.001, 0.5, 5). Conversions between
    floats and integer ticks/lots go through the exact rational value of the step, so
    ``from_ticks(to_ticks(p)) == p`` bit for bit for every on-grid price.
    """

    venue: str
    symbol: str
    tick_size: float
    lot_size: float
    contract_type: ContractType = ContractType.SPOT
    contract_size: float = 1.0  # quote units per contract (inverse) or base units (linear)
    base: str = ""
    quote: str = ""

    def __post_init__(self) -> None:
        _as_ratio(self.tick_size, f"{self.venue}/{self.symbol} tick_size")
        _as_ratio(self.lot_size, f"{self.venue}/{self.symbol} lot_size")
        if not (self.contract_size > 0):
            raise InstrumentError(f"{self.key}: contract_size must be positive")

    @property
    def key(self) -> str:
        return f"{self.venue}/{self.symbol}"

    @property
    def tick_ratio(self) -> tuple[int, int]:
        return _as_ratio(self.tick_size, "tick_size")

    @property
    def lot_ratio(self) -> tuple[int, int]:
        return _as_ratio(self.lot_size, "lot_size")

    def price_to_ticks(self, price: np.ndarray | float) -> np.ndarray:
        """Prices to integer ticks; raises :class:`InstrumentError` for off-grid prices."""
        return _to_steps(price, *self.tick_ratio, what=f"{self.key} price", step=self.tick_size)

    def ticks_to_price(self, ticks: np.ndarray | int) -> np.ndarray:
        return _from_steps(ticks, *self.tick_ratio)

    def qty_to_lots(self, qty: np.ndarray | float) -> np.ndarray:
        """Quantities to integer lots; raises :class:`InstrumentError` for off-grid sizes."""
        return _to_steps(qty, *self.lot_ratio, what=f"{self.key} quantity", step=self.lot_size)

    def lots_to_qty(self, lots: np.ndarray | int) -> np.ndarray:
        return _from_steps(lots, *self.lot_ratio)

    # Contract arithmetic, in the settlement currency: the quote currency for spot and linear
    # contracts, the coin for inverse ones. Each formula takes ``qty * contract_size`` first,
    # then applies the price, in this one order (results are compared bit for bit). Quantities
    # and prices may be floats or NumPy arrays (elementwise).

    def position_value(self, qty: _Num, price: _Num) -> _Num:
        """What a position of ``qty`` (signed, instrument units) adds to equity at ``price``.

        Spot and linear: ``qty * contract_size * price``. Inverse: ``-qty * contract_size /
        price`` (a long position of contracts is a short of the coin).

        Parameters
        ----------
        qty
            Position, + long, − short, in instrument units (base currency or contracts).
        price
            The mark price (e.g. the mid); a NaN price gives NaN.

        Returns
        -------
        float or numpy.ndarray
            The marked value in the settlement currency.
        """
        q = qty * self.contract_size
        return -q / price if self.contract_type == _INVERSE else q * price

    def notional(self, qty: _Num, price: _Num) -> _Num:
        """Gross value of ``|qty|`` at ``price``: ``|qty| * contract_size * price`` (spot,
        linear) or ``|qty| * contract_size / price`` (inverse), never negative.

        Parameters
        ----------
        qty
            A size or position in instrument units (its sign is ignored).
        price
            The price that values it.

        Returns
        -------
        float or numpy.ndarray
            The notional in the settlement currency.
        """
        q = abs(qty) * self.contract_size
        return q / price if self.contract_type == _INVERSE else q * price

    def cash_delta(self, side: _Num, qty: _Num, price: _Num, fee: _Num = 0.0) -> _Num:
        """The change of cash a fill makes, the fee included.

        Spot and linear: a buy pays ``qty * contract_size * price`` (``-(side * q * price +
        fee)``). Inverse: a buy *receives* ``qty * contract_size / price`` of the coin (``side *
        q / price - fee``), so a round trip earns ``q * (1/entry - 1/exit)``.

        Parameters
        ----------
        side
            +1 buy, −1 sell.
        qty
            The filled size (> 0), instrument units.
        price
            The fill price.
        fee
            The fee paid (negative: a rebate received); 0 gives the cash flow before fees.

        Returns
        -------
        float or numpy.ndarray
            The cash change in the settlement currency.
        """
        q = qty * self.contract_size
        if self.contract_type == _INVERSE:
            return side * q / price - fee
        return -(side * q * price + fee)

    def equity(self, cash: _Num, qty: _Num, price: _Num) -> _Num:
        """Equity of an account holding ``cash`` and a position of ``qty`` marked to ``price``:
        ``cash + position_value(qty, price)``.

        Parameters
        ----------
        cash
            Cash in the settlement currency (fees included).
        qty
            Position, + long, − short, in instrument units.
        price
            The mark price.

        Returns
        -------
        float or numpy.ndarray
            Equity in the settlement currency.
        """
        return cash + self.position_value(qty, price)

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Instrument:
        try:
            return msgspec.json.decode(raw, type=cls)
        except msgspec.ValidationError as exc:
            raise InstrumentError(f"invalid instrument metadata: {exc}") from exc


#: Relative tolerance, in steps, for a float to count as on the grid. Decimal strings parsed to
#: float are within ~1e-16 relative of the grid; anything beyond 1e-6 of a step is a real error.
GRID_TOLERANCE: Final = 1e-6


def _to_steps(
    values: np.ndarray | float, num: int, den: int, *, what: str, step: float
) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64) * (den / num)
    steps = np.rint(x)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(x - steps) <= GRID_TOLERANCE * np.maximum(1.0, np.abs(x) * 1e-9))
        bad |= ~(np.abs(steps) <= 2**62)  # also catches NaN and infinities
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0]) if np.ndim(x) else 0
        value = np.asarray(values, dtype=np.float64).reshape(-1)[first]
        raise InstrumentError(f"{what} {value!r} (index {first}) is not a multiple of {step!r}")
    return steps.astype(np.int64)


def _from_steps(steps: np.ndarray | int, num: int, den: int) -> np.ndarray:
    # (n*num)/den with exact integer numerator and denominator: IEEE division rounds correctly,
    # giving the same double as parsing the decimal string of the price.
    return (np.asarray(steps, dtype=np.int64) * num).astype(np.float64) / den


def empty_events(n: int) -> np.ndarray:
    """A zeroed event array of length ``n``."""
    return np.zeros(n, dtype=EVENT_DTYPE)
