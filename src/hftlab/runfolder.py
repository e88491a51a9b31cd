"""The run folder: its files and their Arrow schemas, defined once.

Written by the backtest's sink (:mod:`hftlab.backtest.result`), read by analytics
(:func:`hftlab.analytics.load_run`), and the shape of the live engine's ``st.<strategy>.*`` bus
payloads and of the dashboard's tables. Codes are written as the labels of :mod:`hftlab.vocab`.

::

    RUN/state.parquet    ts, instrument, symbol, mid, position, cash, fees, equity, our quotes
    RUN/orders.parquet   every request sent and every order event, with both clocks
    RUN/fills.parquet    the fills (a subset of the order events, with cash and fee)
    RUN/risk.parquet     risk-manager actions: ts_local, instrument, rule, action, value, ...
    RUN/summary.json     per-instrument and total figures, and "risk" (deterministic)
    RUN/run.json         config, strategy, wall-clock performance (differs between runs)
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from hftlab.vocab import RISK_ACTIONS, Liquidity, OrderEvent, OrderStatus, RejectReason

__all__ = [
    "FILLS_FILE",
    "FILLS_SCHEMA",
    "ORDERS_FILE",
    "ORDERS_SCHEMA",
    "RISK_FILE",
    "RISK_SCHEMA",
    "RUN_FILE",
    "RUN_FILES",
    "STATE_FILE",
    "STATE_SCHEMA",
    "SUMMARY_FILE",
]

STATE_FILE: Final = "state.parquet"
ORDERS_FILE: Final = "orders.parquet"
FILLS_FILE: Final = "fills.parquet"
RISK_FILE: Final = "risk.parquet"
SUMMARY_FILE: Final = "summary.json"
RUN_FILE: Final = "run.json"
#: The files every run folder has (``risk.parquet`` and ``run.json`` may be absent).
RUN_FILES: Final = (STATE_FILE, ORDERS_FILE, FILLS_FILE, SUMMARY_FILE)

_SYMBOL = pa.dictionary(pa.int32(), pa.string())

#: ``state.parquet``: one row per instrument every ``record_interval_ms`` (exchange clock) and
#: at the end. ``bid``/``ask``: our best resting order's price (NaN if none), with its size.
STATE_SCHEMA: Final = pa.schema(
    [
        ("ts", pa.int64()),
        ("instrument", pa.int32()),
        ("symbol", _SYMBOL),
        ("mid", pa.float64()),
        ("position", pa.float64()),
        ("cash", pa.float64()),
        ("fees", pa.float64()),
        ("equity", pa.float64()),
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        ("bid_qty", pa.float64()),
        ("ask_qty", pa.float64()),
        ("notional", pa.float64()),
    ]
)

#: ``orders.parquet``: requests (``event`` ``sent_*``, ``ts_exchange`` null) and responses, in
#: the order the strategy saw them. ``event``/``status``/``liquidity``/``reason`` are labels of
#: :class:`~hftlab.vocab.OrderEvent`, :class:`~hftlab.vocab.OrderStatus`,
#: :class:`~hftlab.vocab.Liquidity`, :class:`~hftlab.vocab.RejectReason`.
ORDERS_SCHEMA: Final = pa.schema(
    [
        ("ts_local", pa.int64()),
        ("ts_exchange", pa.int64()),
        ("order_id", pa.int64()),
        ("instrument", pa.int32()),
        ("symbol", _SYMBOL),
        ("event", pa.string()),
        ("status", pa.string()),
        ("side", pa.int8()),
        ("price", pa.float64()),
        ("qty", pa.float64()),
        ("filled", pa.float64()),
        ("last_qty", pa.float64()),
        ("last_price", pa.float64()),
        ("liquidity", pa.string()),
        ("fee", pa.float64()),
        ("cash_delta", pa.float64()),
        ("reason", pa.string()),
    ]
)

#: Columns of ``orders.parquet`` that ``fills.parquet`` leaves out.
FILLS_DROPPED: Final = ("status", "filled", "qty", "price", "reason")
#: ``fills.parquet``: the ``fill`` rows of ``orders.parquet``.
FILLS_SCHEMA: Final = pa.schema([f for f in ORDERS_SCHEMA if f.name not in FILLS_DROPPED])

#: ``risk.parquet``: one row per risk-manager action (``action`` in
#: :data:`~hftlab.vocab.RISK_ACTIONS`). Read by ``hftlab report``; keep it stable.
RISK_SCHEMA: Final = pa.schema(
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

#: Label dictionaries of the coded columns of ``orders.parquet``.
EVENT_LABELS: Final = OrderEvent.labels()
STATUS_LABELS: Final = OrderStatus.labels()
REASON_LABELS: Final = RejectReason.labels()
LIQUIDITY_LABELS: Final = Liquidity.labels()
ACTIONS: Final = RISK_ACTIONS


def columns(schema: pa.Schema) -> tuple[str, ...]:
    """The column names of ``schema``, in order."""
    return tuple(schema.names)
