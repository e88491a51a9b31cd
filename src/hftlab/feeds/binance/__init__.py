"""Binance venue adapter: payload schemas, instrument specs, the incremental normaliser.

=================== ===================================================================
module              what
=================== ===================================================================
``schemas``         the payload Structs (``DepthUpdate``, ``DepthSnapshot``, ``Trade``,
                    ``AggTrade``, ``BookTicker``), the stream-name classifier, decoders
``instruments``     the venue table (spot, USD-M, COIN-M), contract types and sizes
``normalise``       payloads in arrival order -> store rows (``SpotNormaliser``,
                    ``FuturesNormaliser``, ``DeliveryNormaliser``), around ``BookSync``
=================== ===================================================================

The capture importer (:mod:`hftlab.data.importers.binance_raw`) reads file layouts and feeds
the normaliser; the live recorder feeds it the socket. Both get the same rows.
"""

from hftlab.feeds.binance.instruments import VENUE_COINM, VENUE_SPOT, VENUE_USDM, VENUES
from hftlab.feeds.binance.normalise import (
    DeliveryNormaliser,
    FuturesNormaliser,
    Rows,
    SpotNormaliser,
    normaliser_for,
)

__all__ = [
    "VENUES",
    "VENUE_COINM",
    "VENUE_SPOT",
    "VENUE_USDM",
    "DeliveryNormaliser",
    "FuturesNormaliser",
    "Rows",
    "SpotNormaliser",
    "normaliser_for",
]
