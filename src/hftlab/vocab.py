"""The public vocabulary of orders, responses and wake-ups: one set of codes for every part.

The compiled core works with plain ints (:mod:`hftlab.sim._layout` takes its codes from here,
so numba still sees constants); strategies, the run folder, analytics, risk, and later the bus
and the dashboard read the same enums. Each member's :attr:`label` is the name written in run
folders (``orders.parquet``'s ``event``/``status``/``reason``/``liquidity`` columns).

Nothing outside :mod:`hftlab.sim` needs the core's buffer layout: import codes from here.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Self

__all__ = [
    "RISK_ACTIONS",
    "RISK_TRIGGER_ACTIONS",
    "Liquidity",
    "OrderEvent",
    "OrderStatus",
    "RejectReason",
    "RequestKind",
    "TimeInForce",
    "WakeReason",
]


class _Coded(IntEnum):
    """An int code with the name a run folder writes for it (``label``)."""

    @property
    def label(self) -> str:
        return _LABELS.get((type(self).__name__, int(self)), self.name.lower())

    @classmethod
    def labels(cls) -> dict[int, str]:
        """``{code: label}`` of every member (the run folder's dictionary)."""
        return {int(m): m.label for m in cls}

    @classmethod
    def from_label(cls, label: str) -> Self:
        for m in cls:
            if m.label == label:
                return m
        raise ValueError(f"no {cls.__name__} labelled {label!r}")


class TimeInForce(_Coded):
    """How an order lives: rests (gtc), rests only if it would not take (post-only), takes what
    it can now and cancels the rest (ioc), or takes at any price (market)."""

    GTC = 0
    POST_ONLY = 1
    IOC = 2
    MARKET = 3


class OrderStatus(_Coded):
    """Status of an order. ``PENDING`` is local only: sent, no response yet."""

    PENDING = 0
    NEW = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 4
    REJECTED = 5
    EXPIRED = 6

    @property
    def is_open(self) -> bool:
        return self <= OrderStatus.PARTIALLY_FILLED


class OrderEvent(_Coded):
    """What a response says happened to an order (``orders.parquet``'s ``event``).

    ``SENT_*`` rows are the strategy's requests, logged when sent (``100 + RequestKind``).
    """

    ACCEPTED = 1
    FILL = 2
    CANCELED = 3
    REJECTED = 4
    EXPIRED = 5
    MODIFIED = 6
    CANCEL_REJECTED = 7
    MODIFY_REJECTED = 8
    SENT_NEW = 101
    SENT_CANCEL = 102
    SENT_MODIFY = 103


class RejectReason(_Coded):
    """Why the exchange refused a request. Risk rules refuse with codes above 100 (see
    :data:`hftlab.risk.RISK_REJECT_CODES`)."""

    NONE = 0
    POST_ONLY = 1  # a post-only order (or a modify) would have crossed the book
    SELF_TRADE = 2  # the order would rest through our own opposite order
    UNKNOWN_ORDER = 3  # cancel/modify of an order no longer open: a lost race
    BAD_QTY = 4
    BAD_PRICE = 5
    TOO_MANY_ORDERS = 6
    WOULD_CROSS = 7  # a modify to a price that would cross
    BOOK_UNSYNCED = 8  # the instrument's book is out of sync (a gap in the depth data)


class Liquidity(_Coded):
    """Whether a fill added liquidity (maker) or took it (taker)."""

    NONE = 0
    MAKER = 1
    TAKER = 2


class RequestKind(_Coded):
    """What the strategy asked of the exchange."""

    NEW = 1
    CANCEL = 2
    MODIFY = 3


class WakeReason(_Coded):
    """Why the core handed control back to its driver (a :class:`~hftlab.engine.Session`)."""

    NEED_DATA = 1  # every row fed so far is processed up to the horizon
    END = 2  # the data ended and everything due is processed
    TIMER = 3
    QUOTE = 4  # the local best bid/ask of an instrument changed
    TRADE = 5
    BOOK = 6
    ORDER = 7  # responses were delivered
    LOG_FULL = 8  # the state log must be drained
    ERROR = 9
    BOOK_STATUS = 10  # an instrument's local book went out of sync (a data gap) or back in


_LABELS: dict[tuple[str, int], str] = {
    ("RejectReason", 0): "",
    ("RejectReason", 1): "post_only_would_cross",
    ("Liquidity", 0): "",
}

#: The action names of ``risk.parquet``, in code order.
RISK_ACTIONS: tuple[str, ...] = ("block_order", "pull_quotes", "resume", "kill", "flatten")
#: The actions that count as a rule triggering (``resume`` and ``flatten`` follow one).
RISK_TRIGGER_ACTIONS: tuple[str, ...] = ("block_order", "pull_quotes", "kill")
