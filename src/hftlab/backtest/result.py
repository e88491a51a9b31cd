"""The result of a backtest: state series, order events, fills, summary; a Parquet run folder.

The files and their schemas are defined once in :mod:`hftlab.runfolder` (the analytics reader
imports the same). Everything but ``run.json`` is bit-identical for equal data, config and
seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hftlab.risk import RISK_SCHEMA, risk_summary
from hftlab.runfolder import (
    EVENT_LABELS,
    FILLS_DROPPED,
    LIQUIDITY_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
)
from hftlab.sim.core import response_columns, state_columns
from hftlab.vocab import OrderStatus

if TYPE_CHECKING:
    from hftlab.risk import RiskManager
    from hftlab.sim.config import SimConfig
    from hftlab.sim.core import SimCore
    from hftlab.strategy import Strategy


@dataclass
class BacktestResult:
    """Tables (pyarrow) and summary of one run."""

    state: pa.Table
    orders: pa.Table
    fills: pa.Table
    summary: dict[str, Any]
    run_info: dict[str, Any] = field(default_factory=dict)
    #: Risk triggers (``risk.parquet``, schema :data:`hftlab.risk.RISK_SCHEMA`).
    risk: pa.Table = field(default_factory=RISK_SCHEMA.empty_table)

    def save(self, out: str | Path) -> Path:
        """Write the run folder (created if needed; files replaced atomically)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in (
            ("state", self.state),
            ("orders", self.orders),
            ("fills", self.fills),
            ("risk", self.risk),
        ):
            tmp = out / f"{name}.parquet.tmp"
            pq.write_table(table, tmp, compression="zstd")
            tmp.replace(out / f"{name}.parquet")
        for name, obj in (("summary", self.summary), ("run", self.run_info)):
            tmp = out / f"{name}.json.tmp"
            tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
            tmp.replace(out / f"{name}.json")
        return out

    @property
    def pnl(self) -> float:
        """Total equity change (sum over instruments; meaningful when they share a currency)."""
        return float(sum(i["equity"] for i in self.summary["instruments"].values()))


def _symbols(core: SimCore, idx: np.ndarray) -> pa.Array:
    names = pa.array([i.key for i in core.instruments])
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), names)


def _ratios(core: SimCore) -> tuple[np.ndarray, np.ndarray]:
    tick = np.array([n / d for n, d in (i.tick_ratio for i in core.instruments)])
    lot = np.array([n / d for n, d in (i.lot_ratio for i in core.instruments)])
    return tick, lot


def _prices(core: SimCore, ticks: np.ndarray, inst: np.ndarray) -> np.ndarray:
    num = np.array([i.tick_ratio[0] for i in core.instruments], dtype=np.float64)
    den = np.array([i.tick_ratio[1] for i in core.instruments], dtype=np.float64)
    return ticks.astype(np.float64) * num[inst] / den[inst]


def _qtys(core: SimCore, lots: np.ndarray, inst: np.ndarray) -> np.ndarray:
    num = np.array([i.lot_ratio[0] for i in core.instruments], dtype=np.float64)
    den = np.array([i.lot_ratio[1] for i in core.instruments], dtype=np.float64)
    return lots.astype(np.float64) * num[inst] / den[inst]


def _orders_table(
    core: SimCore,
    ri: np.ndarray,
    rf: np.ndarray,
    sent: list[tuple[int, int, int, int, int, int, int, int]],
) -> pa.Table:
    s = np.array(sent, dtype=np.int64).reshape(-1, 8)
    r = response_columns(ri, rf)
    n_r, n_s = ri.shape[0], s.shape[0]
    # Chronological merge: a request sent after k responses were handled goes after them.
    ts_local = np.concatenate([s[:, 0], r["ts_local"]])
    pos = np.concatenate([2 * s[:, 7] - 1, 2 * np.arange(n_r)])
    order = np.lexsort((np.arange(n_s + n_r), pos))
    inst = np.concatenate([s[:, 2], r["instrument"]]).astype(np.int64)
    ev = np.concatenate([100 + s[:, 3], r["event"]])  # OrderEvent.SENT_* = 100 + RequestKind
    ts_exch = np.concatenate([np.full(n_s, -1, np.int64), r["ts_exchange"]])
    pending = int(OrderStatus.PENDING)
    status = np.concatenate([np.full(n_s, pending, np.int64), r["status"]])
    zeros = np.zeros(n_s, np.int64)
    cols = {
        "ts_local": ts_local,
        "ts_exchange": ts_exch,
        "order_id": np.concatenate([s[:, 1], r["order_id"]]),
        "instrument": inst.astype(np.int32),
        "event": ev,
        "status": status,
        "side": np.concatenate([s[:, 4], r["side"]]).astype(np.int8),
        "price": _prices(core, np.concatenate([s[:, 5], r["price_ticks"]]), inst),
        "qty": _qtys(core, np.concatenate([s[:, 6], r["qty_lots"]]), inst),
        "filled": _qtys(core, np.concatenate([zeros, r["filled_lots"]]), inst),
        "last_qty": _qtys(core, np.concatenate([zeros, r["last_qty_lots"]]), inst),
        "last_price": _prices(core, np.concatenate([zeros, r["last_price_ticks"]]), inst),
        "liquidity": np.concatenate([zeros, r["liquidity"]]),
        "fee": np.concatenate([np.zeros(n_s), r["fee"]]),
        "cash_delta": np.concatenate([np.zeros(n_s), r["cash_delta"]]),
        "reason": np.concatenate([zeros, r["reason"]]),
    }
    for k in cols:  # one column at a time: each unsorted copy is freed as the next is made
        cols[k] = cols[k][order]
    return pa.table(
        {
            "ts_local": pa.array(cols["ts_local"], pa.int64()),
            "ts_exchange": pa.array(cols["ts_exchange"], pa.int64(), mask=cols["ts_exchange"] < 0),
            "order_id": pa.array(cols["order_id"], pa.int64()),
            "instrument": pa.array(cols["instrument"], pa.int32()),
            "symbol": _symbols(core, cols["instrument"]),
            "event": _names(cols["event"], EVENT_LABELS),
            "status": _names(cols["status"], STATUS_LABELS),
            "side": pa.array(cols["side"], pa.int8()),
            "price": cols["price"],
            "qty": cols["qty"],
            "filled": cols["filled"],
            "last_qty": cols["last_qty"],
            "last_price": cols["last_price"],
            "liquidity": _names(cols["liquidity"], LIQUIDITY_LABELS),
            "fee": cols["fee"],
            "cash_delta": cols["cash_delta"],
            "reason": _names(cols["reason"], REASON_LABELS),
        }
    )


def _names(codes: np.ndarray, names: dict[int, str]) -> pa.Array:
    """Codes to a string column without a Python object per row."""
    keys = np.array(sorted(names), dtype=np.int64)
    idx = np.searchsorted(keys, codes)
    strings = pa.array([names[int(k)] for k in keys], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), strings).cast(pa.string())


def _state_table(core: SimCore, states: list[tuple[np.ndarray, np.ndarray]]) -> pa.Table:
    c = state_columns(states)
    inst = c["instrument"]
    return pa.table(
        {
            "ts": pa.array(c["ts"], pa.int64()),
            "instrument": pa.array(inst.astype(np.int32), pa.int32()),
            "symbol": _symbols(core, inst),
            "mid": c["mid"],
            "position": c["position"],
            "cash": c["cash"],
            "fees": c["fees"],
            "equity": c["equity"],
            "bid": c["bid"],
            "ask": c["ask"],
            "bid_qty": c["bid_qty"],
            "ask_qty": c["ask_qty"],
            "notional": c["notional"],
        }
    )


def _max_drawdown(equity: np.ndarray) -> float:
    if equity.size == 0:
        return 0.0
    eq = np.nan_to_num(equity, nan=0.0)
    return float(np.max(np.maximum.accumulate(eq) - eq))


def build_result(
    core: SimCore,
    resp_i: np.ndarray,
    resp_f: np.ndarray,
    states: list[tuple[np.ndarray, np.ndarray]],
    sent: list[tuple[int, int, int, int, int, int, int, int]],
    *,
    first_ts: int | None,
    wall_seconds: float,
    config: SimConfig,
    strategy: Strategy | None,
    run_info: dict[str, Any],
    risk: RiskManager | None = None,
) -> BacktestResult:
    orders = _orders_table(core, resp_i, resp_f, sent)
    fills = orders.filter(pc.equal(orders["event"], "fill")).drop_columns(list(FILLS_DROPPED))
    state = _state_table(core, states)
    events = core.events_processed
    per: dict[str, Any] = {}
    last_state = {}
    st_inst = state["instrument"].to_numpy()
    eq_all = state["equity"].to_numpy()
    for i, inst in enumerate(core.instruments):
        mask = st_inst == i
        eq = eq_all[mask]
        acc = core.account(i)
        last_state[i] = eq[-1] if eq.size else acc.cash
        ev = orders["event"].to_numpy(zero_copy_only=False)
        oi = orders["instrument"].to_numpy()
        liq = orders["liquidity"].to_numpy(zero_copy_only=False)
        lot = inst.lot_ratio[0] / inst.lot_ratio[1]
        sync = core.sync_stats(i)
        per[inst.key] = {
            "position": float(acc.position_lots * lot),
            "cash": acc.cash,
            "fees": acc.fees,
            "equity": float(last_state[i]),
            "max_drawdown": _max_drawdown(eq),
            "fills": acc.fills,
            "maker_fills": int(np.sum((oi == i) & (liq == "maker"))),
            "taker_fills": int(np.sum((oi == i) & (liq == "taker"))),
            "volume": float(acc.volume_lots * lot),
            "notional": acc.notional,
            "orders_sent": int(np.sum((oi == i) & (ev == "sent_new"))),
            "rejected": int(np.sum((oi == i) & (ev == "rejected"))),
            "canceled": int(np.sum((oi == i) & (ev == "canceled"))),
            "cancel_rejected": int(np.sum((oi == i) & (ev == "cancel_rejected"))),
            # Book sync (docs/sim-core.md, "Gaps in the depth data"): depth rows not applied
            # (flagged unsynced), gaps, and exchange time out of sync, seconds.
            "unsynced_rows": sync.unsynced_rows,
            "sync_gaps": sync.gaps,
            "unsynced_s": sync.unsynced_ns / 1e9,
            "contract_type": str(inst.contract_type),
            "contract_size": float(inst.contract_size),
            "tick_size": float(inst.tick_size),
            "lot_size": float(inst.lot_size),
        }
    summary = {
        "events": events,
        "first_ts": first_ts,
        "last_ts": core.end_time,
        "strategy": None if strategy is None else type(strategy).__qualname__,
        "instruments": per,
        "risk": risk.summary() if risk is not None else risk_summary([], False, None),
    }
    dropped = core.dropped_levels()
    if dropped:  # absent when the books held every level (always, unless capacity ran out)
        summary["book_dropped"] = dropped
    info = dict(run_info)
    info.update(
        {
            "wall_seconds": wall_seconds,
            "events_per_second": events / wall_seconds if wall_seconds > 0 else None,
            "sim_config": msgspec.to_builtins(config),
            "strategy_config": None
            if strategy is None
            else _builtins(getattr(strategy, "config", None)),
            "risk_config": None if risk is None else msgspec.to_builtins(risk.config),
        }
    )
    return BacktestResult(
        state=state,
        orders=orders,
        fills=fills,
        summary=summary,
        run_info=info,
        risk=risk.table() if risk is not None else RISK_SCHEMA.empty_table(),
    )


def _builtins(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    try:
        return msgspec.to_builtins(obj)
    except TypeError:
        return repr(obj)
