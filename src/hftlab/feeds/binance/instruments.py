"""Binance venues and instrument specs: the venue table, contract types and sizes, symbols.

Venue ids follow Tardis: ``binance`` (spot), ``binance-futures`` (USD-M, linear),
``binance-delivery`` (COIN-M, inverse). Futures differ from spot in the book-sync sequence rule
(``pu`` continuity) and in their endpoints, both in :data:`VENUES`.

Tick and lot sizes are not in any market-data payload: the capture importer infers them from
the prices and sizes it sees (or takes them from the user), and this module turns them into an
:class:`~hftlab.events.Instrument` with the venue's contract type and contract size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hftlab.events import ContractType, Instrument

__all__ = [
    "VENUES",
    "VENUE_COINM",
    "VENUE_SPOT",
    "VENUE_USDM",
    "BinanceVenue",
    "default_contract_size",
    "instrument",
    "split_symbol",
    "venue_of_url",
]

VENUE_SPOT: Final = "binance"
VENUE_USDM: Final = "binance-futures"
VENUE_COINM: Final = "binance-delivery"


@dataclass(frozen=True, slots=True)
class BinanceVenue:
    """One Binance market: its id, sequence rule, contract type and endpoints."""

    venue: str
    futures: bool  # book sync by ``pu`` continuity (futures) or ``U``/``u`` (spot)
    contract_type: ContractType
    ws_host: str  # combined streams: wss://<ws_host>/stream?streams=...
    rest_host: str
    depth_path: str  # REST depth snapshot: https://<rest_host><depth_path>?symbol=...&limit=...


VENUES: Final[dict[str, BinanceVenue]] = {
    VENUE_SPOT: BinanceVenue(
        VENUE_SPOT, False, ContractType.SPOT, "stream.binance.com:9443", "api.binance.com",
        "/api/v3/depth",
    ),
    VENUE_USDM: BinanceVenue(
        VENUE_USDM, True, ContractType.LINEAR, "fstream.binance.com", "fapi.binance.com",
        "/fapi/v1/depth",
    ),
    VENUE_COINM: BinanceVenue(
        VENUE_COINM, True, ContractType.INVERSE, "dstream.binance.com", "dapi.binance.com",
        "/dapi/v1/depth",
    ),
}  # fmt: skip

_QUOTES: Final = (
    "USDT", "FDUSD", "BUSD", "USDC", "TUSD", "USD", "EUR", "GBP", "AUD", "BRL", "TRY", "BTC",
    "ETH", "BNB", "CHF", "JPY", "XBT",
)  # fmt: skip


def venue_of_url(url: str) -> str | None:
    """Venue from a Binance WebSocket or REST URL (host or path); None if not Binance.

    ``wss://fstream.binance.com/...`` and ``.../fapi/...`` are USD-M, ``dstream``/``/dapi/``
    COIN-M, any other ``binance`` host spot (``stream.binance.com``, ``api.binance.com``,
    ``www.binance.com/api/v1/depth`` in old captures).
    """
    if "fstream" in url or "/fapi/" in url:
        return VENUE_USDM
    if "dstream" in url or "/dapi/" in url:
        return VENUE_COINM
    if "binance" in url:
        return VENUE_SPOT
    return None


def default_contract_size(venue: str, symbol: str) -> float:
    """Contract size when none is given: COIN-M BTC contracts are 100 USD, every other COIN-M
    contract 10 USD; 1 elsewhere (spot and USD-M quantities are in the base asset)."""
    if venue == VENUE_COINM:
        return 100.0 if symbol.upper().startswith("BTCUSD") else 10.0
    return 1.0


def split_symbol(symbol: str) -> tuple[str, str]:
    """Best-effort base/quote split (``BTCUSDT`` -> BTC, USDT; ``BTCUSD_PERP`` -> BTC, USD;
    ``BTC-USD`` -> BTC, USD); ``("", "")`` when no known quote asset ends the symbol."""
    core = symbol.split("_", 1)[0].split("-")
    if len(core) == 2:
        return core[0], core[1]
    s = core[0].upper()
    for q in _QUOTES:
        if s.endswith(q) and len(s) > len(q):
            return s[: -len(q)], q
    return "", ""


def instrument(
    venue: str,
    symbol: str,
    *,
    tick_size: float,
    lot_size: float,
    contract_size: float | None = None,
    contract_type: ContractType | None = None,
) -> Instrument:
    """The instrument spec of ``symbol`` on ``venue``.

    Parameters
    ----------
    venue, symbol
        Venue id (see :data:`VENUES`) and venue symbol (``BTCUSDT``, ``BTCUSD_PERP``).
    tick_size, lot_size
        Price and quantity steps (exchangeInfo's ``tickSize``/``stepSize``, or inferred).
    contract_size
        Default :func:`default_contract_size`.
    contract_type
        Default the venue's (:data:`VENUES`), spot for a venue not in the table.
    """
    if contract_type is None:
        spec = VENUES.get(venue)
        contract_type = spec.contract_type if spec is not None else ContractType.SPOT
    base, quote = split_symbol(symbol)
    return Instrument(
        venue=venue,
        symbol=symbol,
        tick_size=tick_size,
        lot_size=lot_size,
        contract_type=contract_type,
        contract_size=default_contract_size(venue, symbol)
        if contract_size is None
        else contract_size,
        base=base,
        quote=quote,
    )
