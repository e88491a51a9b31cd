"""Metrics of a backtest run folder: load it, derive the metric inputs, one flat row of figures.

A run folder (see :mod:`hftlab.backtest.result`) holds ``state.parquet`` (equity, position, mid
and our quotes sampled every ``record_interval_ms`` on the exchange clock), ``orders.parquet``
(every request sent and every response, both clocks), ``fills.parquet``, ``summary.json``,
``run.json`` and, when the risk manager ran, ``risk.parquet``. The functions here turn those
tables into the array inputs of :mod:`hftlab.analytics.metrics` and
:mod:`hftlab.analytics.markouts`; :func:`compute_metrics` gathers everything into one flat dict,
a row of a results table (the optimiser's objective row).

``docs/reports.md`` defines every figure, its unit and the annualisation rule.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hftlab import runfolder, vocab
from hftlab.analytics.markouts import DEFAULT_HORIZONS_NS, Markouts, markout_curve, markouts
from hftlab.analytics.metrics import (
    DEFAULT_LATENCY_PERCENTILES,
    DEFAULT_POLICY,
    AnnualisationPolicy,
    Distribution,
    Drawdown,
    Estimate,
    InventoryStats,
    OrderEventType,
    OrderStats,
    PnlDecomposition,
    Ratio,
    Series,
    calmar,
    inventory_stats,
    latency_stats,
    max_drawdown,
    mid_at,
    order_stats,
    pnl_decomposition,
    resample,
    returns,
    risk_trigger_counts,
    sharpe,
    sortino,
)
from hftlab.errors import ConfigError, DataError, StoreError
from hftlab.risk.config import RULES
from hftlab.units import NS_PER_MS, NS_PER_S, NS_PER_US, parse_duration

if TYPE_CHECKING:
    from hftlab.backtest.result import BacktestResult

log = logging.getLogger(__name__)

#: Columns ``risk.parquet`` must have (one row per risk-manager action).
RISK_COLUMNS: Final = runfolder.columns(runfolder.RISK_SCHEMA)
#: Risk rules, reported with a count of 0 when they never fired (the risk manager's names).
RISK_RULES: Final = RULES
#: Risk actions. ``resume`` ends a trigger's effect; it is not a trigger itself.
RISK_ACTIONS: Final = vocab.RISK_ACTIONS

#: Actions that count as a rule firing (as in ``summary.json`` ``risk.triggers``).
_TRIGGER_ACTIONS: Final = vocab.RISK_TRIGGER_ACTIONS
_STATE_COLUMNS: Final = ("ts", "instrument", "mid", "position", "cash", "fees", "equity")
_ORDER_COLUMNS: Final = (
    "ts_local",
    "ts_exchange",
    "order_id",
    "instrument",
    "event",
    "side",
    "price",
    "qty",
    "filled",
    "last_qty",
    "last_price",
    "liquidity",
    "fee",
)
_OE = vocab.OrderEvent
_REQUESTS: Final = tuple(e.label for e in (_OE.SENT_NEW, _OE.SENT_MODIFY, _OE.SENT_CANCEL))
_ACKS: Final = tuple(
    e.label
    for e in (
        _OE.ACCEPTED,
        _OE.REJECTED,
        _OE.MODIFIED,
        _OE.MODIFY_REJECTED,
        _OE.CANCELED,
        _OE.CANCEL_REJECTED,
    )
)


#: Anything :func:`as_run` accepts: a run folder, a ``BacktestResult`` or a :class:`RunData`.
RunLike: TypeAlias = "RunData | BacktestResult | str | Path"

# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunData:
    """The tables of one run, as read from a run folder or taken from a ``BacktestResult``.

    Attributes
    ----------
    state, orders, fills
        The run's Arrow tables (see :mod:`hftlab.backtest.result`).
    summary, run_info
        ``summary.json`` (deterministic figures) and ``run.json`` (config, wall-clock figures).
    risk
        ``risk.parquet`` (:data:`RISK_COLUMNS`), or None when the run has no risk log.
    path
        The run folder, or None for an in-memory result.
    instruments
        Instrument keys (``VENUE/SYMBOL``) by the integer index used in the tables.
    """

    state: pa.Table
    orders: pa.Table
    fills: pa.Table
    summary: dict[str, Any]
    run_info: dict[str, Any] = field(default_factory=dict)
    risk: pa.Table | None = None
    path: Path | None = None
    instruments: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The run folder's name, or ``"<memory>"``."""
        return self.path.name if self.path is not None else "<memory>"

    def instrument_spec(self, index: int) -> dict[str, Any]:
        """The ``summary.json`` entry of instrument ``index`` (empty if absent)."""
        return dict(self.summary.get("instruments", {}).get(self.instruments[index], {}))


def _read_parquet(path: Path, columns: Sequence[str]) -> pa.Table:
    if not path.is_file():
        raise StoreError(
            "run file is missing",
            path=path,
            hint="a run folder is written by `hftlab backtest --out RUN`",
        )
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(
            f"cannot read Parquet: {str(exc).splitlines()[0]}",
            path=path,
            hint="the file is corrupt or truncated; re-run the backtest",
        ) from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(
            f"missing column(s) {missing} (has: {', '.join(table.column_names)})",
            path=path,
            hint="written by an incompatible hftlab version; re-run the backtest",
        )
    return table


def _read_json(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise StoreError(
                "run file is missing",
                path=path,
                hint="a run folder is written by `hftlab backtest --out RUN`",
            )
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"invalid JSON: {exc}", path=path, hint="the file is corrupt; re-run the backtest"
        ) from None
    if not isinstance(data, dict):
        raise DataError("expected a JSON object", path=path)
    return data


def _instrument_keys(
    tables: Sequence[pa.Table], summary: Mapping[str, Any], where: Path | str
) -> tuple[str, ...]:
    """Index → ``VENUE/SYMBOL`` from the (instrument, symbol) pairs the tables carry."""
    pairs: dict[int, str] = {}
    for table in tables:
        if table.num_rows == 0 or "symbol" not in table.column_names:
            continue
        sub = (
            table.select(["instrument", "symbol"]).group_by(["instrument", "symbol"]).aggregate([])
        )
        for idx, sym in zip(
            sub["instrument"].to_pylist(), sub["symbol"].cast(pa.string()).to_pylist(), strict=True
        ):
            if pairs.setdefault(int(idx), str(sym)) != sym:
                raise DataError(f"instrument {idx} is both {pairs[int(idx)]} and {sym}", path=where)
    names = list(summary.get("instruments", {}))
    n = max([len(names), *(i + 1 for i in pairs)])
    known = set(pairs.values())
    spare = iter(k for k in sorted(names) if k not in known)
    return tuple(pairs[i] if i in pairs else next(spare, f"#{i}") for i in range(n))


def load_run(path: str | Path) -> RunData:
    """Read a run folder.

    Parameters
    ----------
    path
        The folder written by ``hftlab backtest --out`` / ``BacktestResult.save``.

    Returns
    -------
    RunData
        The run's tables; ``risk`` is None when the folder has no ``risk.parquet``.

    Raises
    ------
    StoreError
        The folder or one of its files is missing.
    DataError
        A file is corrupt or lacks a column.
    """
    root = Path(path)
    if not root.is_dir():
        raise StoreError(
            "run folder does not exist",
            path=root,
            hint="write one with `hftlab backtest --out RUN`",
        )
    state = _read_parquet(root / "state.parquet", _STATE_COLUMNS)
    orders = _read_parquet(root / "orders.parquet", _ORDER_COLUMNS)
    fill_cols = ("ts_local", "ts_exchange", "instrument", "side", "last_qty", "last_price", "fee")
    fills = _read_parquet(root / "fills.parquet", fill_cols)
    summary = _read_json(root / "summary.json", required=True)
    if not isinstance(summary.get("instruments"), dict):
        raise DataError(
            "has no 'instruments' object", path=root / "summary.json", hint="re-run the backtest"
        )
    run_info = _read_json(root / "run.json", required=False)
    risk_path = root / "risk.parquet"
    risk = _read_parquet(risk_path, RISK_COLUMNS) if risk_path.exists() else None
    keys = _instrument_keys((state, orders), summary, root)
    return RunData(state, orders, fills, summary, run_info, risk, root, keys)


def as_run(run: RunLike) -> RunData:
    """A :class:`RunData` from a run folder path, a ``BacktestResult`` or a ``RunData``."""
    if isinstance(run, RunData):
        return run
    if isinstance(run, str | Path):
        return load_run(run)
    state, orders = run.state, run.orders
    risk = getattr(run, "risk", None)
    keys = _instrument_keys((state, orders), run.summary, "<result>")
    return RunData(state, orders, run.fills, run.summary, dict(run.run_info), risk, None, keys)


def parse_interval(interval: str | int) -> int:
    """A sampling interval such as ``"100ms"``, ``"1s"``, ``"5min"``, ``"1h"`` in ns.

    :func:`hftlab.units.parse_duration` (an int is ns); errors name the ``interval``.
    """
    return parse_duration(interval, "interval")


# --------------------------------------------------------------------------------------------
# Column helpers (private)
# --------------------------------------------------------------------------------------------


def _np(table: pa.Table, name: str, dtype: Any = None) -> np.ndarray:
    col = table[name]
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    arr = col.to_numpy() if col.null_count == 0 else col.fill_null(-1).to_numpy()
    return arr if dtype is None else arr.astype(dtype, copy=False)


def _codes(table: pa.Table, name: str, names: Sequence[str]) -> np.ndarray:
    """Index of each row's string value in ``names`` (−1 for anything else)."""
    col = table[name]
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return (
        pc.index_in(col, value_set=pa.array(list(names), pa.string()))
        .fill_null(-1)
        .to_numpy()
        .astype(np.int64)
    )


def _select(table: pa.Table, instrument: int | None) -> pa.Table:
    if instrument is None or table.num_rows == 0:
        return table
    return table.filter(pc.equal(table["instrument"], instrument))


def _check_instrument(run: RunData, instrument: int | None) -> None:
    if instrument is not None and not 0 <= instrument < len(run.instruments):
        raise ConfigError(
            f"instrument {instrument} is not in run {run.name} "
            f"(instruments: {', '.join(f'{i}={k}' for i, k in enumerate(run.instruments))})"
        )


def _ffill(values: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward over NaN/inf (a leading gap takes the first value)."""
    ok = np.isfinite(values)
    if ok.all() or not ok.any():
        return values
    idx = np.where(ok, np.arange(values.size), -1)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.flatnonzero(ok)[0])
    idx[idx < 0] = first
    return values[idx]


def _rank_within(ids: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements share its id (table order)."""
    n = ids.size
    order = np.argsort(ids, kind="stable")
    sid = ids[order]
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]]) if n else np.zeros(0, np.int64)
    lengths = np.diff(np.r_[starts, n])
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, lengths)
    return rank


def _pair(
    a_ids: np.ndarray, a_rank: np.ndarray, b_ids: np.ndarray, b_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)`` with ``a[i]`` and ``b[j]`` sharing (id, rank)."""
    if a_ids.size == 0 or b_ids.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rmax = int(max(a_rank.max(), b_rank.max())) + 1
    lo = int(min(a_ids.min(), b_ids.min()))
    hi = int(max(a_ids.max(), b_ids.max()))
    if (hi - lo + 1) * rmax >= 2**62:
        raise DataError(f"order ids span {lo}..{hi}: too wide to pair requests and responses")
    ka = (a_ids - lo) * rmax + a_rank
    kb = (b_ids - lo) * rmax + b_rank
    order = np.argsort(kb, kind="stable")
    pos = np.searchsorted(kb[order], ka)
    hit = pos < kb.size
    hit[hit] = kb[order[pos[hit]]] == ka[hit]
    return np.flatnonzero(hit), order[pos[hit]]


# --------------------------------------------------------------------------------------------
# Equity, returns, drawdown
# --------------------------------------------------------------------------------------------


def equity_series(run: RunLike, instrument: int | None = None) -> Series:
    """Equity marked to mid, fees included, on the state sampling grid (exchange clock).

    ``equity = cash + position·mid·size`` (spot, linear) or ``cash − position·size/mid``
    (inverse), where cash includes every fee paid and rebate received; runs start with zero
    cash, so equity is the run's PnL. With ``instrument=None`` the instruments' equities are
    summed at each sample time (meaningful when they settle in one currency). A sample with
    no mid (one-sided book while holding a position) carries the previous equity forward.
    """
    r = as_run(run)
    _check_instrument(r, instrument)
    st = _select(r.state, instrument)
    if st.num_rows == 0:
        raise DataError(
            "state table is empty: no equity samples",
            path=r.path / "state.parquet" if r.path else None,
            hint="run the backtest with record_interval_ms > 0",
        )
    ts = _np(st, "ts", np.int64)
    inst = _np(st, "instrument", np.int64)
    eq = _np(st, "equity", np.float64).copy()
    for i in np.unique(inst):
        m = inst == i
        eq[m] = _ffill(eq[m])
    eq = np.nan_to_num(eq, nan=0.0, posinf=0.0, neginf=0.0)
    order = np.argsort(ts, kind="stable")
    ts, eq = ts[order], eq[order]
    starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    return Series(ts[starts], np.add.reduceat(eq, starts))


def pnl_returns(
    run: RunLike,
    interval: str | int = "1s",
    instrument: int | None = None,
) -> Series:
    """PnL per sampling period: equity resampled to ``interval`` (last value carried), differenced.

    The figures are in the settlement currency (``returns(kind="pnl", capital=1)``), stamped at
    the end of each period. Sharpe, Sortino and Calmar do not depend on the capital base.
    """
    step = parse_interval(interval)
    ts, eq = equity_series(run, instrument)
    grid = resample(ts, eq, step)
    return Series(grid.ts[1:], returns(grid.values, kind="pnl", capital=1.0))


def run_ratios(
    run: RunLike,
    interval: str | int = "1s",
    *,
    instrument: int | None = None,
    policy: AnnualisationPolicy = DEFAULT_POLICY,
) -> tuple[Ratio, Ratio, Ratio]:
    """Sharpe, Sortino and Calmar of the run's PnL sampled at ``interval`` (24/7 annualisation)."""
    step = parse_interval(interval)
    r = pnl_returns(run, step, instrument).values
    return (
        sharpe(r, step, policy=policy),
        sortino(r, step, policy=policy),
        calmar(r, step, kind="pnl", policy=policy),
    )


def run_drawdown(run: RunLike, instrument: int | None = None) -> Drawdown:
    """Maximum drawdown (settlement currency) and its duration, on the state samples."""
    ts, eq = equity_series(run, instrument)
    return max_drawdown(ts, eq)


# --------------------------------------------------------------------------------------------
# Orders: the order event table, quote statistics, latencies
# --------------------------------------------------------------------------------------------


class RequestLatency(msgspec.Struct, frozen=True):
    """Latencies of our orders, ns, from ``orders.parquet``'s two clocks.

    Attributes
    ----------
    entry
        Request sent (local) → processed by the exchange (the response's exchange stamp).
    ack
        Request sent → its response received (local clock; round trip).
    response
        Exchange stamp → local receipt of every response (acks and fills).
    to_fill
        New order sent → its first fill received (local clock), for orders that filled.
    n_unanswered
        Requests without a response (still in flight when the data ended).
    """

    entry: Distribution
    ack: Distribution
    response: Distribution
    to_fill: Distribution
    n_unanswered: int


@dataclass(frozen=True)
class _Orders:
    ts_local: np.ndarray
    ts_exch: np.ndarray
    oid: np.ndarray
    code: np.ndarray  # index into _EVENTS, −1 other
    qty: np.ndarray
    filled: np.ndarray
    last_qty: np.ndarray
    price: np.ndarray
    side: np.ndarray
    req_idx: np.ndarray  # rows of requests
    ack_idx: np.ndarray  # rows of acks
    req_of_ack: np.ndarray  # for paired acks (positions in ack_idx): request row
    paired_ack: np.ndarray  # ack rows that have a request


_EVENTS: Final = (*_REQUESTS, *_ACKS, "fill", "expired")
_EV = {name: i for i, name in enumerate(_EVENTS)}


def _orders(run: RunData, instrument: int | None) -> _Orders:
    o = _select(run.orders, instrument)
    code = _codes(o, "event", _EVENTS)
    oid = _np(o, "order_id", np.int64)
    is_req = code < len(_REQUESTS)
    is_ack = (code >= len(_REQUESTS)) & (code < len(_REQUESTS) + len(_ACKS))
    req_idx, ack_idx = np.flatnonzero(is_req), np.flatnonzero(is_ack)
    i, j = _pair(oid[req_idx], _rank_within(oid[req_idx]), oid[ack_idx], _rank_within(oid[ack_idx]))
    return _Orders(
        ts_local=_np(o, "ts_local", np.int64),
        ts_exch=_np(o, "ts_exchange", np.int64),
        oid=oid,
        code=code,
        qty=_np(o, "qty", np.float64),
        filled=_np(o, "filled", np.float64),
        last_qty=_np(o, "last_qty", np.float64),
        price=_np(o, "price", np.float64),
        side=_np(o, "side", np.int8),
        req_idx=req_idx,
        ack_idx=ack_idx,
        req_of_ack=req_idx[i],
        paired_ack=ack_idx[j],
    )


def order_events(run: RunLike, instrument: int | None = None) -> dict[str, np.ndarray]:
    """The run's orders as an :data:`~hftlab.analytics.metrics.ORDER_EVENT_COLUMNS` table.

    Each request is paired with its response (per order, the k-th request with the k-th
    response: one connection, first in first out). NEW rows are accepted new orders, MODIFY
    rows accepted modifies, CANCEL rows accepted cancels and IOC/market expiries; request rows
    carry the send time in ``ts_local`` and the exchange's processing time in ``ts_exchange``.
    Rejected requests are left out (they never changed a resting quote). FILL rows are the
    fills with both stamps. Rows are sorted by exchange time.
    """
    r = as_run(run)
    _check_instrument(r, instrument)
    o = _orders(r, instrument)
    ack_code = o.code[o.paired_ack]
    kinds = {
        "accepted": OrderEventType.NEW,
        "modified": OrderEventType.MODIFY,
        "canceled": OrderEventType.CANCEL,
    }
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
    for name, kind in kinds.items():
        m = ack_code == _EV[name]
        parts.append((o.paired_ack[m], o.req_of_ack[m], o.ts_exch[o.paired_ack[m]], kind))
    exp = np.flatnonzero(o.code == _EV["expired"])
    parts.append((exp, exp, o.ts_exch[exp], OrderEventType.CANCEL))
    fill = np.flatnonzero(o.code == _EV["fill"])
    parts.append((fill, fill, o.ts_exch[fill], OrderEventType.FILL))
    rows = np.concatenate([p[0] for p in parts])
    send = np.concatenate([p[1] for p in parts])
    kind_col = np.concatenate([np.full(p[0].size, int(p[3]), np.int8) for p in parts])
    is_fill = kind_col == OrderEventType.FILL
    is_cancel = kind_col == OrderEventType.CANCEL
    qty = np.where(
        is_fill,
        o.last_qty[rows],
        np.where(is_cancel, o.qty[rows] - o.filled[rows], o.qty[rows]),
    )
    leaves = np.where(is_cancel, 0.0, o.qty[rows] - o.filled[rows])
    ts_ex = np.concatenate([p[2] for p in parts])
    ts_lo = o.ts_local[send]
    order = np.lexsort((rows, ts_ex))
    return {
        "order_id": o.oid[rows][order],
        "ts_exchange": ts_ex[order],
        "ts_local": ts_lo[order],
        "type": kind_col[order],
        "qty": qty[order],
        "leaves_qty": leaves[order],
    }


def run_order_stats(run: RunLike, instrument: int | None = None) -> OrderStats:
    """Quote hit rate, fill rate, order-to-trade ratio and quote lifetimes (exchange clock).

    Built on :func:`order_events`; the order-to-trade ratio counts accepted new, modify and
    cancel requests per fill. A quote's lifetime runs from acceptance to its cancel or final
    fill at the exchange.
    """
    return order_stats(order_events(run, instrument), clock="exchange")


def request_latency(
    run: RunLike,
    instrument: int | None = None,
    percentiles: Sequence[float] = DEFAULT_LATENCY_PERCENTILES,
) -> RequestLatency:
    """Order entry, round-trip (sent → ack), response and sent → first-fill latencies, ns."""
    r = as_run(run)
    _check_instrument(r, instrument)
    o = _orders(r, instrument)
    entry = o.ts_exch[o.paired_ack] - o.ts_local[o.req_of_ack]
    ack = o.ts_local[o.paired_ack] - o.ts_local[o.req_of_ack]
    resp_rows = np.flatnonzero((o.code >= len(_REQUESTS)) & (o.ts_exch >= 0))
    response = o.ts_local[resp_rows] - o.ts_exch[resp_rows]
    new = o.req_idx[o.code[o.req_idx] == _EV["sent_new"]]
    fills = np.flatnonzero(o.code == _EV["fill"])
    # first fill per order id (table order is chronological on the local clock)
    f_ids, first = np.unique(o.oid[fills], return_index=True)
    n_ids, n_first = np.unique(o.oid[new], return_index=True)
    _, fi, ni = np.intersect1d(f_ids, n_ids, assume_unique=True, return_indices=True)
    to_fill = o.ts_local[fills[first[fi]]] - o.ts_local[new[n_first[ni]]]
    return RequestLatency(
        entry=latency_stats(entry, percentiles),
        ack=latency_stats(ack, percentiles),
        response=latency_stats(response, percentiles),
        to_fill=latency_stats(to_fill, percentiles),
        n_unanswered=int(o.req_idx.size - o.req_of_ack.size),
    )


def store_feed_latency(
    run: RunLike,
    store: str | Path | None = None,
    percentiles: Sequence[float] = DEFAULT_LATENCY_PERCENTILES,
) -> Distribution | None:
    """Feed latency ``ts_local − ts_exchange`` of the market data the run replayed, ns.

    The run folder holds no market data; its stamps are read from ``store`` (default: the
    store named in ``run.json`` ``data``; a relative path is tried from the working directory,
    then from the run folder's parent) for the run's instruments within its span. Returns None
    when no store is known or it no longer exists.
    """
    from hftlab.data.store import Store

    r = as_run(run)
    root = store if store is not None else r.run_info.get("data")
    if root is None:
        return None
    # a relative path is relative to where `hftlab backtest` ran: try the working directory,
    # then the run folder's parent (``--data store --out run`` from one directory)
    candidates = [Path(root)]
    if not Path(root).is_absolute() and r.path is not None:
        candidates.append(r.path.resolve().parent / root)
    found = next((c for c in candidates if c.is_dir()), None)
    if found is None:
        log.info("run %s: store %s not found; no feed latency", r.name, root)
        return None
    st = Store(found)
    first, last = r.summary.get("first_ts"), r.summary.get("last_ts")
    keys = st.resolve([k for k in r.instruments if not k.startswith("#")] or None)
    lat: list[np.ndarray] = []
    for key in keys:
        for t in st.read(
            key,
            start=first,
            end=None if last is None else int(last) + 1,
            columns=["ts_exchange", "ts_local"],
        ):
            lat.append(
                t["ts_local"].to_numpy().astype(np.int64)
                - t["ts_exchange"].to_numpy().astype(np.int64)
            )
    return latency_stats(np.concatenate(lat) if lat else np.zeros(0), percentiles)


# --------------------------------------------------------------------------------------------
# Mids, PnL decomposition, markouts
# --------------------------------------------------------------------------------------------


def mid_series(run: RunLike, instrument: int) -> Series:
    """The instrument's mid at each state sample (exchange clock), NaN gaps carried forward."""
    r = as_run(run)
    _check_instrument(r, instrument)
    st = _select(r.state, instrument)
    ts = _np(st, "ts", np.int64)
    mid = _np(st, "mid", np.float64)
    ok = np.isfinite(mid) & (mid > 0)
    if not ok.any():
        raise DataError(
            f"instrument {r.instruments[instrument]} has no mid in the state table",
            path=r.path / "state.parquet" if r.path else None,
        )
    return Series(ts, _ffill(np.where(ok, mid, np.nan)))


def _fills(run: RunData, instrument: int) -> dict[str, np.ndarray]:
    f = _select(run.fills, instrument)
    return {
        "ts_exchange": _np(f, "ts_exchange", np.int64),
        "ts_local": _np(f, "ts_local", np.int64),
        "side": _np(f, "side", np.int8),
        "price": _np(f, "last_price", np.float64),
        "qty": _np(f, "last_qty", np.float64),
        "fee": _np(f, "fee", np.float64),
    }


def contract(run: RunLike, instrument: int) -> tuple[str, float]:
    """Contract type (``spot``, ``linear``, ``inverse``) and contract size of an instrument.

    From ``summary.json``; a run written before the size was recorded has it inferred from a
    state sample holding a position (``equity − cash`` is the position's value), else 1.
    """
    r = as_run(run)
    spec = r.instrument_spec(instrument)
    ctype = str(spec.get("contract_type", "spot"))
    if "contract_size" in spec:
        return ctype, float(spec["contract_size"])
    st = _select(r.state, instrument)
    pos, mid = _np(st, "position", np.float64), _np(st, "mid", np.float64)
    value = _np(st, "equity", np.float64) - _np(st, "cash", np.float64)
    ok = np.flatnonzero((pos != 0) & np.isfinite(mid) & (mid > 0) & np.isfinite(value))
    if ok.size == 0:
        log.info("run %s: contract size of %s unknown; using 1", r.name, r.instruments[instrument])
        return ctype, 1.0
    i = int(ok[-1])
    size = -value[i] * mid[i] / pos[i] if ctype == "inverse" else value[i] / (pos[i] * mid[i])
    return ctype, float(size)


def run_pnl_decomposition(run: RunLike, instrument: int) -> PnlDecomposition:
    """``total = spread + inventory + fees`` of one instrument, in its settlement currency.

    Mids are the state samples (exchange clock) and fills are placed by their exchange stamp,
    so "mid at fill" is the last sample at or before the fill (sampling period
    ``record_interval_ms``; a fill before the first sample uses the first sample). Runs start
    flat.

    Inverse contracts settle in the coin: a position ``P`` of contracts of size ``k`` is worth
    ``−P·k/mid``, so the linear formulas apply with every price ``x`` replaced by ``−1/x``::

        spread    = k·Σ s·q·(1/p − 1/m_f)
        inventory = k·(P_0/m_0 − P_T/m_T + Σ s·q/m_f)
        total     = k·(Σ s·q/p − P_T/m_T + P_0/m_0) − Σ fee        (coin)
    """
    r = as_run(run)
    _check_instrument(r, instrument)
    mt, mid = mid_series(r, instrument)
    f = _fills(r, instrument)
    ctype, size = contract(r, instrument)
    t0 = min(int(mt[0]), int(f["ts_exchange"].min())) if f["ts_exchange"].size else int(mt[0])
    t1 = max(int(mt[-1]), int(f["ts_exchange"].max())) if f["ts_exchange"].size else int(mt[-1])
    mt = mt.copy()
    mt[0] = t0
    if ctype != "inverse":
        return pnl_decomposition(f, mt, mid, clock="exchange", end_ts=t1, multiplier=size)
    g = dict(f)
    g["price"] = -1.0 / f["price"]
    d = pnl_decomposition(g, mt, -1.0 / mid, clock="exchange", end_ts=t1, multiplier=size)
    return msgspec.structs.replace(
        d,
        notional=size * float(np.sum(f["qty"] / f["price"])),
        start_mid=float(mid_at(np.array([t0]), mt, mid)[0]),
        end_mid=float(mid_at(np.array([t1]), mt, mid)[0]),
    )


def run_markouts(
    run: RunLike,
    instrument: int | None = None,
    horizons_ns: Sequence[int] = DEFAULT_HORIZONS_NS,
) -> Markouts:
    """Markouts of the fills (exchange clock) against the state mids.

    With ``instrument=None`` the instruments' markouts are stacked (compare them in bps: the
    price markouts are in each instrument's own units). The mid is known at the state sampling
    period, so horizons shorter than ``record_interval_ms`` are approximate. Horizons past the
    last sample are NaN.
    """
    r = as_run(run)
    _check_instrument(r, instrument)
    which = range(len(r.instruments)) if instrument is None else [instrument]
    parts: list[Markouts] = []
    h = np.asarray(horizons_ns, dtype=np.int64)
    for i in which:
        f = _fills(r, i)
        if f["ts_exchange"].size == 0:
            continue
        mt, mid = mid_series(r, i)
        parts.append(markouts(f["ts_exchange"], f["price"], f["side"], mt, mid, horizons_ns=h))
    if not parts:
        empty = np.zeros((0, h.size))
        return Markouts(h, np.zeros(0, np.int8), np.zeros(0), empty, empty.copy())
    return Markouts(
        horizons_ns=h,
        side=np.concatenate([p.side for p in parts]),
        price=np.concatenate([p.price for p in parts]),
        price_markout=np.concatenate([p.price_markout for p in parts]),
        bps_markout=np.concatenate([p.bps_markout for p in parts]),
    )


class FillRateByDistance(msgspec.Struct, frozen=True):
    """Fill rate of our quotes by their distance from the mid when they were placed.

    Attributes
    ----------
    unit
        ``"ticks"`` (tick size known) or ``"price"``.
    distance
        Bucket start: the quote's distance behind the mid, ``side·(mid − price)``, floored to
        ``bucket`` (0 means at the mid; negative means it crossed the mid).
    n_quotes, offered, filled
        Quotes placed in the bucket, their open quantity and what of it was filled before the
        quote moved or ended.
    fill_rate
        ``filled / offered`` per bucket.
    """

    unit: str
    bucket: float
    distance: np.ndarray
    n_quotes: np.ndarray
    offered: np.ndarray
    filled: np.ndarray
    fill_rate: np.ndarray


def fill_rate_by_distance(
    run: RunLike, instrument: int, *, bucket: float = 1.0
) -> FillRateByDistance:
    """Fill rate of quotes bucketed by distance from the mid at placement.

    A quote is an accepted new order or an accepted modify (exchange clock); it lasts until
    the order's next accepted modify or its end. Its fills are the order's fills in that time;
    its offered quantity is the order's open quantity when it was placed. The mid is the last
    state sample at or before the placement.

    Parameters
    ----------
    run
        The run.
    instrument
        Instrument index.
    bucket
        Bucket width in ticks (or price units when the run does not record the tick size).
    """
    if not bucket > 0:
        raise ConfigError(f"bucket width must be > 0, got {bucket}")
    r = as_run(run)
    _check_instrument(r, instrument)
    o = _orders(r, instrument)
    ack_code = o.code[o.paired_ack]
    placed = o.paired_ack[(ack_code == _EV["accepted"]) | (ack_code == _EV["modified"])]
    fills = np.flatnonzero(o.code == _EV["fill"])
    # Stack quotes and fills; sorted by order, then exchange time, quotes before fills on ties.
    rows = np.r_[placed, fills]
    is_fill = np.r_[np.zeros(placed.size, bool), np.ones(fills.size, bool)]
    order = np.lexsort((is_fill, o.ts_exch[rows], o.oid[rows]))
    rows, is_fill = rows[order], is_fill[order]
    pos = np.where(~is_fill, np.arange(rows.size), -1)
    np.maximum.accumulate(pos, out=pos)
    ok = is_fill & (pos >= 0)
    ok[ok] = o.oid[rows[pos[ok]]] == o.oid[rows[ok]]
    quote_of_fill = pos[ok]  # positions (in the stacked order) of the quote each fill belongs to
    filled_by_pos = np.bincount(quote_of_fill, weights=o.last_qty[rows[ok]], minlength=rows.size)
    q_pos = np.flatnonzero(~is_fill)
    q_rows = rows[q_pos]
    spec = r.instrument_spec(instrument)
    tick = spec.get("tick_size")
    unit, scale = ("ticks", float(tick)) if tick else ("price", 1.0)
    if q_rows.size:
        mt, mid = mid_series(r, instrument)
        idx = np.clip(np.searchsorted(mt, o.ts_exch[q_rows], side="right") - 1, 0, None)
        dist = o.side[q_rows] * (mid[idx] - o.price[q_rows]) / scale
    else:
        dist = np.zeros(0)
    key = np.floor(dist / bucket + 1e-9).astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    offered = np.bincount(inv, weights=o.qty[q_rows] - o.filled[q_rows], minlength=uniq.size)
    filled = np.bincount(inv, weights=filled_by_pos[q_pos], minlength=uniq.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(offered > 0, filled / offered, np.nan)
    return FillRateByDistance(
        unit=unit,
        bucket=float(bucket),
        distance=uniq.astype(np.float64) * bucket,
        n_quotes=np.bincount(inv, minlength=uniq.size),
        offered=offered,
        filled=filled,
        fill_rate=rate,
    )


# --------------------------------------------------------------------------------------------
# Inventory, risk
# --------------------------------------------------------------------------------------------


def position_limit(run: RunLike, instrument: int | None = None) -> float | None:
    """The position limit the run was held to, or None when none is known.

    The smaller of the strategy config's ``max_position`` and the risk config's
    ``max_position`` (``run.json`` ``risk_config``: one number, or a table by ``SYMBOL`` or
    ``VENUE/SYMBOL``, looked up for ``instrument``).
    """
    r = as_run(run)
    found: list[float] = []
    cfg = r.run_info.get("strategy_config")
    if isinstance(cfg, Mapping):
        value = cfg.get("max_position")
        if isinstance(value, int | float) and value > 0:
            found.append(float(value))
    risk = r.run_info.get("risk_config")
    value = risk.get("max_position") if isinstance(risk, Mapping) else None
    if isinstance(value, Mapping) and instrument is not None and instrument < len(r.instruments):
        key = r.instruments[instrument]
        value = value.get(key, value.get(key.split("/", 1)[-1]))
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        found.append(float(value))
    return min(found) if found else None


def strategy_instrument(run: RunLike) -> int | None:
    """The instrument the strategy trades: the only one, or its config's ``instrument`` index."""
    r = as_run(run)
    if len(r.instruments) == 1:
        return 0
    cfg = r.run_info.get("strategy_config")
    if isinstance(cfg, Mapping) and isinstance(cfg.get("instrument"), int):
        idx = int(cfg["instrument"])
        return idx if 0 <= idx < len(r.instruments) else None
    return None


def position_series(run: RunLike, instrument: int) -> Series:
    """The exact position step series: 0 at the run's start, changed by each fill (exchange
    clock)."""
    r = as_run(run)
    _check_instrument(r, instrument)
    f = _fills(r, instrument)
    st_ts = _np(_select(r.state, instrument), "ts", np.int64)
    starts = [t for t in (r.summary.get("first_ts"),) if isinstance(t, int)]
    if st_ts.size:
        starts.append(int(st_ts[0]))
    if f["ts_exchange"].size:
        starts.append(int(f["ts_exchange"].min()))
    if not starts:
        raise DataError(f"run {r.name} has no time span (no state, no fills)")
    order = np.argsort(f["ts_exchange"], kind="stable")
    ts = np.r_[min(starts), f["ts_exchange"][order]].astype(np.int64)
    pos = np.r_[0.0, np.cumsum(f["side"][order].astype(np.float64) * f["qty"][order])]
    return Series(ts, pos)


def run_end_ts(run: RunData) -> int:
    """The end of the run's span: its last state sample, last fill or ``last_ts``."""
    cands = [int(t) for t in (run.summary.get("last_ts"),) if isinstance(t, int)]
    if run.state.num_rows:
        cands.append(int(pc.max(run.state["ts"]).as_py()))
    if run.fills.num_rows:
        cands.append(int(pc.max(run.fills["ts_exchange"]).as_py()))
    if not cands:
        raise DataError(f"run {run.name} has no time span")
    return max(cands)


def run_inventory(
    run: RunLike,
    instrument: int,
    limit: float | None = None,
) -> InventoryStats:
    """Time-weighted |position|, turnover and time at the position limit of one instrument.

    ``limit`` defaults to the strategy's ``max_position`` (:func:`position_limit`); without one
    the time at the limit is computed against an unreachable limit (0 s).
    """
    r = as_run(run)
    ts, pos = position_series(r, instrument)
    lim = limit if limit is not None else position_limit(r, instrument)
    f = _fills(r, instrument)
    return inventory_stats(
        ts,
        pos,
        limit=lim if lim is not None else math.inf,
        fill_qty=f["qty"],
        end_ts=max(run_end_ts(r), int(ts[-1])),
    )


class RiskSummary(msgspec.Struct, frozen=True):
    """Risk-manager activity of a run.

    Attributes
    ----------
    triggers
        Count per rule of the rows whose action is a trigger (``block_order``,
        ``pull_quotes``, ``kill``; not ``resume`` or ``flatten``), for all of
        :data:`RISK_RULES` (0 when a rule never fired), most frequent first.
    actions
        Count per action (all of :data:`RISK_ACTIONS`).
    killed, kill_ts
        Whether the kill switch fired, and when (first ``kill``; local clock).
    """

    triggers: dict[str, int]
    actions: dict[str, int]
    killed: bool
    kill_ts: int | None

    @property
    def total(self) -> int:
        """All triggers."""
        return sum(self.triggers.values())


def risk_summary(run: RunLike) -> RiskSummary:
    """Trigger counts from ``risk.parquet``, else from ``summary.json`` ``risk``, else zero."""
    r = as_run(run)
    if r.risk is not None:
        rule = np.asarray(r.risk["rule"].cast(pa.string()).to_pylist(), dtype=object)
        action = np.asarray(r.risk["action"].cast(pa.string()).to_pylist(), dtype=object)
        ts = _np(r.risk, "ts_local", np.int64)
        trig = np.isin(action, _TRIGGER_ACTIONS)
        kills = np.flatnonzero(action == "kill")
        return RiskSummary(
            triggers=risk_trigger_counts(rule[trig], known=RISK_RULES),
            actions=risk_trigger_counts(action, known=RISK_ACTIONS),
            killed=bool(kills.size),
            kill_ts=int(ts[kills].min()) if kills.size else None,
        )
    risk = r.summary.get("risk")
    if isinstance(risk, Mapping):
        counts = {str(k): int(v) for k, v in dict(risk.get("triggers") or {}).items()}
        kinds = [k for k, n in counts.items() for _ in range(n)]
        killed = bool(risk.get("killed", False))
        kill_ts = risk.get("kill_ts")
        return RiskSummary(
            triggers=risk_trigger_counts(kinds, known=RISK_RULES),
            actions=risk_trigger_counts([], known=RISK_ACTIONS),
            killed=killed,
            kill_ts=int(kill_ts) if isinstance(kill_ts, int) else None,
        )
    return RiskSummary(
        triggers=risk_trigger_counts([], known=RISK_RULES),
        actions=risk_trigger_counts([], known=RISK_ACTIONS),
        killed=False,
        kill_ts=None,
    )


# --------------------------------------------------------------------------------------------
# The flat row
# --------------------------------------------------------------------------------------------

Metrics = dict[str, float | int | str | None]


def _est(e: Estimate) -> float | None:
    return e.value


def _pct(d: Distribution, q: float, scale: float) -> float | None:
    v = d.percentiles.get(q)
    return None if v is None else v / scale


def _horizon_label(ns: int) -> str:
    for unit, size in (("s", NS_PER_S), ("ms", NS_PER_MS), ("us", NS_PER_US)):
        if ns >= size and ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def compute_metrics(
    run: RunLike,
    *,
    interval: str = "1s",
    policy: AnnualisationPolicy = DEFAULT_POLICY,
    feed_latency: bool = True,
) -> Metrics:
    """Every scalar figure of a run as one flat dict (a row of a results table).

    Parameters
    ----------
    run
        A run folder, a ``BacktestResult`` or a :class:`RunData`.
    interval
        Sampling interval of the PnL returns behind Sharpe, Sortino and Calmar (``"1s"``,
        ``"1min"``, …). Annualisation: a 24/7 year of ``365·24·3600 s``.
    policy
        When a ratio is refused or not annualised (default: ≥ 30 returns, ≥ 1 day for the
        annualised figure). A refused figure is None and ``<name>_reason`` says why.
    feed_latency
        Read the market data's stamps from the store named in ``run.json`` (skipped when False
        or when the store is gone; the figures are then None).

    Returns
    -------
    dict
        Keys and units are listed in ``docs/reports.md``. Money is in the settlement currency
        (summed over instruments), durations in seconds unless the key says ``_ms``/``_us``,
        markouts in basis points. Equal inputs give an equal dict.
    """
    r = as_run(run)
    step = parse_interval(interval)
    s = r.summary
    per = s.get("instruments", {})
    out: Metrics = {
        "run": r.name,
        "strategy": s.get("strategy"),
        "instruments": ",".join(r.instruments),
        "events": s.get("events"),
        "interval": interval,
    }
    ts_eq, eq = equity_series(r)
    first, last = int(ts_eq[0]), run_end_ts(r)
    out["span_s"] = (last - int(s.get("first_ts") or first)) / NS_PER_S

    # PnL
    out["pnl"] = float(eq[-1])  # runs start flat with zero cash: final equity is the PnL
    out["equity_end"] = float(eq[-1])
    spread = inventory = fee_pnl = 0.0
    decomposed = True
    for i in range(len(r.instruments)):
        if _select(r.fills, i).num_rows == 0:
            continue
        try:
            d = run_pnl_decomposition(r, i)
        except DataError as exc:
            log.warning("run %s: no PnL decomposition for %s: %s", r.name, r.instruments[i], exc)
            decomposed = False
            continue
        spread, inventory, fee_pnl = spread + d.spread, inventory + d.inventory, fee_pnl + d.fees
    out["pnl_spread"] = spread if decomposed else None
    out["pnl_inventory"] = inventory if decomposed else None
    out["pnl_fees"] = fee_pnl if decomposed else None
    fee = _np(r.fills, "fee", np.float64)
    out["fees"] = float(np.sum(fee))
    out["fees_paid"] = float(np.sum(fee[fee > 0]))
    out["rebates"] = float(-np.sum(fee[fee < 0]))

    # Ratios and drawdown
    ratios = run_ratios(r, step, policy=policy)
    out["n_returns"] = ratios[0].n_returns
    for ratio in ratios:
        out[ratio.name] = _est(ratio.annualised)
        out[f"{ratio.name}_per_period"] = _est(ratio.per_period)
        out[f"{ratio.name}_reason"] = ratio.annualised.reason
    dd = max_drawdown(ts_eq, eq)
    out["max_drawdown"] = dd.max_abs
    out["max_drawdown_duration_s"] = dd.duration_ns / NS_PER_S
    out["max_drawdown_recovered"] = int(dd.recovered)
    out["longest_underwater_s"] = dd.longest_underwater_ns / NS_PER_S

    # Fills and orders
    liq = _codes(r.fills, "liquidity", ("maker", "taker"))
    qty = _np(r.fills, "last_qty", np.float64)
    out["fills"] = int(r.fills.num_rows)
    out["maker_fills"] = int(np.count_nonzero(liq == 0))
    out["taker_fills"] = int(np.count_nonzero(liq == 1))
    out["volume"] = float(np.sum(qty))
    out["notional"] = float(sum(float(v.get("notional", 0.0)) for v in per.values()))
    ev = _codes(r.orders, "event", _EVENTS)
    out["orders_sent"] = int(np.count_nonzero(ev == _EV["sent_new"]))
    out["rejected"] = int(np.count_nonzero(ev == _EV["rejected"]))
    out["cancel_rejected"] = int(np.count_nonzero(ev == _EV["cancel_rejected"]))
    os_ = run_order_stats(r)
    out["fill_rate"] = _est(os_.fill_rate)
    out["quote_hit_rate"] = _est(os_.hit_rate)
    out["order_to_trade"] = _est(os_.order_to_trade)
    lt = os_.lifetime_ns
    out["quote_lifetime_mean_ms"] = None if lt.mean is None else lt.mean / 1e6
    for q in (50.0, 90.0, 99.0):
        out[f"quote_lifetime_p{q:g}_ms"] = _pct(lt, q, 1e6)

    # Markouts
    mk = markout_curve(run_markouts(r))
    for h, mean_bps in zip(mk.all.horizons_ns, mk.all.mean_bps, strict=True):
        out[f"markout_{_horizon_label(h)}_bps"] = mean_bps

    # Inventory
    idx = strategy_instrument(r)
    limit = position_limit(r, idx)
    out["position_limit"] = limit
    if idx is None:
        for key in (
            "position_end",
            "mean_abs_position",
            "max_abs_position",
            "inventory_turnover",
            "inventory_turnover_per_day",
            "time_at_limit_s",
            "time_at_limit_fraction",
        ):
            out[key] = None
    else:
        inv = run_inventory(r, idx, limit)
        out["position_end"] = float(position_series(r, idx).values[-1])
        out["mean_abs_position"] = inv.mean_abs_position
        out["max_abs_position"] = inv.max_abs_position
        out["inventory_turnover"] = _est(inv.turnover)
        out["inventory_turnover_per_day"] = _est(inv.turnover_per_day)
        out["time_at_limit_s"] = None if limit is None else inv.time_at_limit_ns / NS_PER_S
        out["time_at_limit_fraction"] = None if limit is None else _est(inv.time_at_limit_fraction)

    # Latencies
    feed = store_feed_latency(r) if feed_latency else None
    for key, q in (("mean", None), ("p50", 50.0), ("p99", 99.0)):
        if feed is None or feed.count == 0:
            out[f"feed_latency_{key}_us"] = None
        else:
            out[f"feed_latency_{key}_us"] = (
                feed.mean / 1e3 if q is None else _pct(feed, q, 1e3)  # type: ignore[operator]
            )
    out["feed_latency_negative"] = None if feed is None else feed.n_negative
    lat = request_latency(r)
    for name, dist in (("entry", lat.entry), ("ack", lat.ack)):
        out[f"order_{name}_latency_p50_us"] = _pct(dist, 50.0, 1e3)
        out[f"order_{name}_latency_p99_us"] = _pct(dist, 99.0, 1e3)
    out["order_fill_latency_p50_ms"] = _pct(lat.to_fill, 50.0, 1e6)
    out["order_fill_latency_p99_ms"] = _pct(lat.to_fill, 99.0, 1e6)

    # Risk
    risk = risk_summary(r)
    out["risk_triggers"] = risk.total
    for rule in RISK_RULES:
        out[f"risk_{rule}"] = risk.triggers.get(rule, 0)
    out["risk_kills"] = risk.actions.get("kill", 0)
    out["risk_killed"] = int(risk.killed)
    out["risk_kill_ts"] = risk.kill_ts
    return out
