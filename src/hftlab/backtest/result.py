"""The result of a backtest: state series, order events, fills, summary; a Parquet run folder.

Run folder layout::

    RUN/state.parquet    ts, instrument, symbol, mid, position, cash, fees, equity, our quotes
    RUN/orders.parquet   every request sent and every order event, with both clocks
    RUN/fills.parquet    the fills (a subset of the order events, with cash and fee)
    RUN/risk.parquet     risk triggers: ts_local, instrument, rule, action, value, limit, detail
    RUN/summary.json     per-instrument and total figures, and "risk" (deterministic)
    RUN/run.json         config, strategy, wall-clock performance (differs between runs)

Everything but ``run.json`` is bit-identical for equal data, config and seed.
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
from hftlab.sim import _layout as L

if TYPE_CHECKING:
    from hftlab.risk import RiskManager
    from hftlab.sim.config import SimConfig
    from hftlab.sim.core import SimCore
    from hftlab.strategy import Strategy

EVENT_NAMES = {
    L.EV_ACCEPTED: "accepted",
    L.EV_FILL: "fill",
    L.EV_CANCELED: "canceled",
    L.EV_REJECTED: "rejected",
    L.EV_EXPIRED: "expired",
    L.EV_MODIFIED: "modified",
    L.EV_CANCEL_REJECTED: "cancel_rejected",
    L.EV_MODIFY_REJECTED: "modify_rejected",
    100 + L.RQ_NEW: "sent_new",
    100 + L.RQ_CANCEL: "sent_cancel",
    100 + L.RQ_MODIFY: "sent_modify",
}
STATUS_NAMES = {
    L.ST_PENDING: "pending",
    L.ST_NEW: "new",
    L.ST_PARTIAL: "partially_filled",
    L.ST_FILLED: "filled",
    L.ST_CANCELED: "canceled",
    L.ST_REJECTED: "rejected",
    L.ST_EXPIRED: "expired",
}
REASON_NAMES = {
    L.RJ_NONE: "",
    L.RJ_POST_ONLY: "post_only_would_cross",
    L.RJ_SELF_TRADE: "self_trade",
    L.RJ_UNKNOWN_ORDER: "unknown_order",
    L.RJ_BAD_QTY: "bad_qty",
    L.RJ_BAD_PRICE: "bad_price",
    L.RJ_TOO_MANY_ORDERS: "too_many_orders",
    L.RJ_WOULD_CROSS: "would_cross",
}
LIQ_NAMES = {L.LIQ_NONE: "", L.LIQ_MAKER: "maker", L.LIQ_TAKER: "taker"}


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
    n_r, n_s = ri.shape[0], s.shape[0]
    # Chronological merge: a request sent after k responses were handled goes after them.
    ts_local = np.concatenate([s[:, 0], ri[:, L.E_TS_LOCAL]])
    pos = np.concatenate([2 * s[:, 7] - 1, 2 * np.arange(n_r)])
    order = np.lexsort((np.arange(n_s + n_r), pos))
    inst = np.concatenate([s[:, 2], ri[:, L.E_INST]]).astype(np.int64)
    ev = np.concatenate([100 + s[:, 3], ri[:, L.E_EVENT]])
    ts_exch = np.concatenate([np.full(n_s, -1, np.int64), ri[:, L.E_TS_EXCH]])
    status = np.concatenate([np.full(n_s, L.ST_PENDING, np.int64), ri[:, L.E_STATUS]])
    cols = {
        "ts_local": ts_local,
        "ts_exchange": ts_exch,
        "order_id": np.concatenate([s[:, 1], ri[:, L.E_ID]]),
        "instrument": inst.astype(np.int32),
        "event": ev,
        "status": status,
        "side": np.concatenate([s[:, 4], ri[:, L.E_SIDE]]).astype(np.int8),
        "price": _prices(core, np.concatenate([s[:, 5], ri[:, L.E_PRICE]]), inst),
        "qty": _qtys(core, np.concatenate([s[:, 6], ri[:, L.E_QTY]]), inst),
        "filled": _qtys(core, np.concatenate([np.zeros(n_s, np.int64), ri[:, L.E_FILLED]]), inst),
        "last_qty": _qtys(
            core, np.concatenate([np.zeros(n_s, np.int64), ri[:, L.E_LAST_QTY]]), inst
        ),
        "last_price": _prices(
            core, np.concatenate([np.zeros(n_s, np.int64), ri[:, L.E_LAST_PRICE]]), inst
        ),
        "liquidity": np.concatenate([np.zeros(n_s, np.int64), ri[:, L.E_LIQ]]),
        "fee": np.concatenate([np.zeros(n_s), rf[:, L.EF_FEE]]),
        "cash_delta": np.concatenate([np.zeros(n_s), rf[:, L.EF_CASH_DELTA]]),
        "reason": np.concatenate([np.zeros(n_s, np.int64), ri[:, L.E_REASON]]),
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
            "event": _names(cols["event"], EVENT_NAMES),
            "status": _names(cols["status"], STATUS_NAMES),
            "side": pa.array(cols["side"], pa.int8()),
            "price": cols["price"],
            "qty": cols["qty"],
            "filled": cols["filled"],
            "last_qty": cols["last_qty"],
            "last_price": cols["last_price"],
            "liquidity": _names(cols["liquidity"], LIQ_NAMES),
            "fee": cols["fee"],
            "cash_delta": cols["cash_delta"],
            "reason": _names(cols["reason"], REASON_NAMES),
        }
    )


def _names(codes: np.ndarray, names: dict[int, str]) -> pa.Array:
    """Codes to a string column without a Python object per row."""
    keys = np.array(sorted(names), dtype=np.int64)
    idx = np.searchsorted(keys, codes)
    strings = pa.array([names[int(k)] for k in keys], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), strings).cast(pa.string())


def _state_table(core: SimCore, states: list[tuple[np.ndarray, np.ndarray]]) -> pa.Table:
    ts = np.concatenate([t for t, _ in states]) if states else np.zeros(0, np.int64)
    st = np.concatenate([s for _, s in states]) if states else np.zeros((0, L.S_NF))
    inst = st[:, L.S_INST].astype(np.int64)
    return pa.table(
        {
            "ts": pa.array(ts, pa.int64()),
            "instrument": pa.array(inst.astype(np.int32), pa.int32()),
            "symbol": _symbols(core, inst),
            "mid": st[:, L.S_MID],
            "position": st[:, L.S_POS],
            "cash": st[:, L.S_CASH],
            "fees": st[:, L.S_FEES],
            "equity": st[:, L.S_EQUITY],
            "bid": st[:, L.S_BID],
            "ask": st[:, L.S_ASK],
            "bid_qty": st[:, L.S_BID_QTY],
            "ask_qty": st[:, L.S_ASK_QTY],
            "notional": st[:, L.S_NOTIONAL],
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
    fills = orders.filter(pc.equal(orders["event"], "fill")).drop_columns(
        ["status", "filled", "qty", "price", "reason"]
    )
    state = _state_table(core, states)
    events = core.events_processed
    per: dict[str, Any] = {}
    last_state = {}
    st_inst = state["instrument"].to_numpy()
    eq_all = state["equity"].to_numpy()
    for i, inst in enumerate(core.instruments):
        mask = st_inst == i
        eq = eq_all[mask]
        last_state[i] = eq[-1] if eq.size else float(core.accf[i, L.AF_CASH])
        ev = orders["event"].to_numpy(zero_copy_only=False)
        oi = orders["instrument"].to_numpy()
        liq = orders["liquidity"].to_numpy(zero_copy_only=False)
        lot = inst.lot_ratio[0] / inst.lot_ratio[1]
        per[inst.key] = {
            "position": float(core.acci[i, L.AI_POS] * lot),
            "cash": float(core.accf[i, L.AF_CASH]),
            "fees": float(core.accf[i, L.AF_FEES]),
            "equity": float(last_state[i]),
            "max_drawdown": _max_drawdown(eq),
            "fills": int(core.acci[i, L.AI_NFILLS]),
            "maker_fills": int(np.sum((oi == i) & (liq == "maker"))),
            "taker_fills": int(np.sum((oi == i) & (liq == "taker"))),
            "volume": float(core.acci[i, L.AI_VOL] * lot),
            "notional": float(core.accf[i, L.AF_NOTIONAL]),
            "orders_sent": int(np.sum((oi == i) & (ev == "sent_new"))),
            "rejected": int(np.sum((oi == i) & (ev == "rejected"))),
            "canceled": int(np.sum((oi == i) & (ev == "canceled"))),
            "cancel_rejected": int(np.sum((oi == i) & (ev == "cancel_rejected"))),
            "contract_type": str(inst.contract_type),
            "contract_size": float(inst.contract_size),
            "tick_size": float(inst.tick_size),
            "lot_size": float(inst.lot_size),
        }
    summary = {
        "events": events,
        "first_ts": first_ts,
        "last_ts": int(core.ctl[L.C_END_T]) if core.ctl[L.C_END_T] > -L.INF else None,
        "strategy": None if strategy is None else type(strategy).__qualname__,
        "instruments": per,
        "risk": risk.summary() if risk is not None else risk_summary([], False, None),
    }
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
