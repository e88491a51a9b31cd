"""Typed configuration of the simulator: queue model, latency models, fees, recording."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np

from hftlab.errors import ConfigError
from hftlab.sim import _layout as L

QueueModelName = Literal["risk_averse", "prob_power", "prob_log", "l1"]
ModifyRule = Literal["cancel", "reject"]

#: What each venue does with a modify it cannot apply to an open order: a post-only order whose
#: new price would take liquidity, or a partially filled order whose new total size is at or
#: below the filled size. Binance cancels the order in both cases: USD-M (``PUT
#: /fapi/v1/order``) and COIN-M (``PUT /dapi/v1/order``) say so in their Modify Order docs
#: ("the order will be cancelled by the amendment"); spot has no price amend, only
#: ``cancelReplace`` (cancel, then place the new order), whose new LIMIT_MAKER order is
#: rejected if it would take while the cancel stands, so the order is gone as well. Venues not
#: listed (the synthetic market imitates Binance USD-M) follow :data:`DEFAULT_MODIFY_RULE`.
VENUE_MODIFY_RULES: dict[str, ModifyRule] = {
    "binance": "cancel",
    "binance-futures": "cancel",
    "binance-delivery": "cancel",
}
DEFAULT_MODIFY_RULE: ModifyRule = "cancel"

_QMODELS: dict[str, int] = {
    "risk_averse": L.QM_RISK_AVERSE,
    "prob_power": L.QM_PROB_POWER,
    "prob_log": L.QM_PROB_LOG,
    "l1": L.QM_L1,
}


class LatencyModel(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One-way latency of order entry (strategy -> exchange) or response (exchange -> strategy).

    ``constant``: ``value_us`` always. ``empirical``: a uniform draw (seeded) from ``samples_us``
    or from ``file``'s one column. ``series``: ``series_us`` measured at ``series_ts`` (ns),
    linearly interpolated and held outside the span; or ``file``'s two columns
    (ts_ns, latency_us). Files: ``.npy`` or ``.csv`` (header optional).
    """

    kind: Literal["constant", "empirical", "series"] = "constant"
    value_us: float = 0.0
    samples_us: list[float] = msgspec.field(default_factory=list)
    series_ts: list[int] = msgspec.field(default_factory=list)
    series_us: list[float] = msgspec.field(default_factory=list)
    file: str | None = None

    def kind_code(self) -> int:
        return {"constant": L.LAT_CONSTANT, "empirical": L.LAT_EMPIRICAL, "series": L.LAT_SERIES}[
            self.kind
        ]

    def table(self) -> np.ndarray:
        """The ``(n, 2)`` float64 table the core reads (time ns, latency ns)."""
        if self.kind == "constant":
            if self.value_us < 0:
                raise ConfigError(f"latency value_us must be >= 0, got {self.value_us}")
            return np.array([[0.0, self.value_us * 1e3]])
        data = _load(self.file) if self.file else None
        if self.kind == "empirical":
            samples = np.asarray(
                data[:, -1] if data is not None else self.samples_us, dtype=np.float64
            )
            if samples.size == 0:
                raise ConfigError("empirical latency needs samples_us or a file of samples")
            if np.any(samples < 0) or not np.all(np.isfinite(samples)):
                raise ConfigError("empirical latency samples must be finite and >= 0")
            return np.column_stack([np.zeros(samples.size), samples * 1e3])
        if data is not None:
            if data.shape[1] < 2:
                raise ConfigError(f"latency series file {self.file} needs two columns (ts_ns, us)")
            ts, us = data[:, 0], data[:, 1]
        else:
            ts = np.asarray(self.series_ts, dtype=np.float64)
            us = np.asarray(self.series_us, dtype=np.float64)
        if ts.size == 0 or ts.size != us.size:
            raise ConfigError(
                "latency series needs series_ts and series_us of equal, non-zero length"
            )
        if np.any(np.diff(ts) <= 0):
            raise ConfigError("latency series_ts must be strictly increasing")
        if np.any(us < 0):
            raise ConfigError("latency series values must be >= 0")
        return np.column_stack([ts, us * 1e3])


def _load(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"latency file {p} not found")
    try:
        if p.suffix == ".npy":
            arr = np.load(p)
        else:
            with p.open() as fh:
                rows = [r for r in csv.reader(fh) if r]
            if rows and not _is_number(rows[0][0]):
                rows = rows[1:]
            arr = np.array([[float(x) for x in r] for r in rows])
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read latency file {p}: {exc}") from None
    arr = np.asarray(arr, dtype=np.float64)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


class Fees(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fee rates as fractions of notional (0.0002 = 2 bp); negative = rebate."""

    maker: float = 0.0
    taker: float = 0.0


class SimConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything the simulator needs besides data and strategy.

    Attributes
    ----------
    queue_model
        ``risk_averse``, ``prob_power``, ``prob_log`` (L2 data) or ``l1`` (quote-only data).
    queue_power
        ``n`` of ``f(x) = x**n`` for ``prob_power``.
    l1_a, l1_k
        ``λ(δ) = l1_a * exp(-l1_k * δ)`` fills per second, δ in ticks behind the touch.
    entry_latency, response_latency
        Order entry and response latency models.
    fees
        Default fee rates; ``instrument_fees`` overrides them per ``VENUE/SYMBOL`` or ``SYMBOL``.
    record_interval_ms
        Period of the state time series (simulated time); 0 disables it.
    reorder_window_ms
        The largest feed latency (ts_local - ts_exchange) honoured when putting events in
        exchange order; rows later than that are applied as if this late. Larger costs only
        memory (the rows of one window are held back).
    seed
        Seed of every random draw (latency samples, L1 fills).
    book_window
        Ticks each side of a book indexes directly around its best level (a power of two
        >= 64): updates there are a few array writes. See :mod:`hftlab.book`.
    book_capacity
        Levels each side of a book can hold below its window (a hash table). An insertion
        beyond it is refused, counted and reported (summary ``book_dropped``, a log warning).
    max_open_orders
        Size of the order table.
    modify_rule
        What a modify does when the venue cannot apply it to an open order (a post-only order
        whose new price would take liquidity, or a partially filled order whose new size is at
        or below the filled size): ``cancel`` cancels the order (``canceled`` with the reason),
        ``reject`` rejects the modify and leaves the order as it was (``modify_rejected``).
        ``venue`` (default): the rule of the instrument's venue, :data:`VENUE_MODIFY_RULES`
        (``cancel`` on Binance spot, USD-M and COIN-M).
    book_gaps
        Depth rows flagged ``FLAG_UNSYNCED`` (a gap in the recorded depth data, or before a
        capture's first snapshot): ``hold`` (default) never applies them and holds the
        instrument's book out of sync until the next snapshot (no fill from the stale book,
        new orders and price modifies rejected ``book_unsynced``, the strategy told; see
        ``docs/sim-core.md``); ``apply`` applies them as if in sync (hftlab before issue 13:
        only for captures with no usable snapshot, whose book can come from diffs alone).
    """

    queue_model: QueueModelName = "prob_power"
    queue_power: float = 2.0
    l1_a: float = 1.0
    l1_k: float = 0.5
    entry_latency: LatencyModel = msgspec.field(default_factory=LatencyModel)
    response_latency: LatencyModel = msgspec.field(default_factory=LatencyModel)
    fees: Fees = msgspec.field(default_factory=Fees)
    instrument_fees: dict[str, Fees] = msgspec.field(default_factory=dict)
    record_interval_ms: float = 100.0
    reorder_window_ms: float = 5000.0
    seed: int = 0
    book_window: int = 1 << 16
    book_capacity: int = 8192
    max_open_orders: int = 256
    modify_rule: Literal["venue", "cancel", "reject"] = "venue"
    book_gaps: Literal["hold", "apply"] = "hold"

    def __post_init__(self) -> None:
        if self.queue_power <= 0:
            raise ConfigError(f"queue_power must be > 0, got {self.queue_power}")
        if self.l1_a < 0 or self.l1_k < 0:
            raise ConfigError("l1_a and l1_k must be >= 0")
        if self.reorder_window_ms < 0:
            raise ConfigError("reorder_window_ms must be >= 0")
        if self.record_interval_ms < 0:
            raise ConfigError("record_interval_ms must be >= 0")
        if self.book_capacity < 16 or self.max_open_orders < 1:
            raise ConfigError("book_capacity must be >= 16 and max_open_orders >= 1")
        if self.book_window < 64 or self.book_window & (self.book_window - 1):
            raise ConfigError(
                f"book_window must be a power of two >= 64 ticks, got {self.book_window}"
            )

    @property
    def queue_model_code(self) -> int:
        return _QMODELS[self.queue_model]

    def modify_rule_for(self, venue: str) -> ModifyRule:
        """The modify rule (``cancel`` or ``reject``) of an instrument of ``venue``.

        Parameters
        ----------
        venue
            The instrument's venue (``binance``, ``binance-futures``, ...).

        Returns
        -------
        str
            ``modify_rule`` if set explicitly, else the venue's rule
            (:data:`VENUE_MODIFY_RULES`, :data:`DEFAULT_MODIFY_RULE` for other venues).
        """
        if self.modify_rule != "venue":
            return self.modify_rule
        return VENUE_MODIFY_RULES.get(venue, DEFAULT_MODIFY_RULE)

    def fees_for(self, venue: str, symbol: str) -> Fees:
        return self.instrument_fees.get(
            f"{venue}/{symbol}", self.instrument_fees.get(symbol, self.fees)
        )

    @classmethod
    def from_dict(cls, data: dict) -> SimConfig:
        """Build from a TOML table; :class:`ConfigError` naming the bad field otherwise."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid simulator config: {exc}") from None
