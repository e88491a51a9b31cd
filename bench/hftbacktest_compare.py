"""hftlab against hftbacktest 2.4.4: the same quoter on the same synthetic data, same settings.

Prints figures, asserts nothing. Usage::

    python bench/hftbacktest_compare.py                   # 1M synthetic BTCUSDT events
    python bench/hftbacktest_compare.py --repeat 3 --events 1000000 --dir /tmp/hbt-compare

hftbacktest is **not** a project dependency: the script makes (or reuses) its own virtualenv
(``--venv``, default ``~/.cache/hftlab-bench/hbt-venv``) and runs ``pip install
hftbacktest==2.4.4`` there. The hftbacktest side runs in a child process of that venv from a
script written at run time (our code, below in ``_CHILD``), fed with an ``.npz`` of
hftbacktest's event records converted from our store.

Same data
    The synthetic store's depth and trade streams (its BBO stream is derived from depth and
    would only wake a strategy; hftbacktest does not get it, and hftlab is timed on the same
    depth + trade rows; the full store with BBO is timed too, for reference). Each row becomes a
    hftbacktest event: ``DEPTH_EVENT`` / ``DEPTH_SNAPSHOT_EVENT`` with ``BUY_EVENT`` (bid) or
    ``SELL_EVENT`` (ask), ``DEPTH_CLEAR_EVENT`` (no side: both sides), ``TRADE_EVENT`` with the
    aggressor's side; prices and sizes as floats (ticks x tick size, lots x lot size). The
    exchange stamp is the one our core uses, ``max(min(ts_exchange, ts_local), ts_local - W)``;
    a row whose exchange-time order differs from its local-time order is written twice (an
    ``EXCH_EVENT`` copy in exchange order and a ``LOCAL_EVENT`` copy in local order), other rows
    once with both flags -- hftbacktest's processors each read the rows carrying their flag.

Same strategy and settings
    ``SimpleQuoter`` (every 100 ms of simulated time: post-only bid and ask around the
    micro-price +- half spread, skewed by inventory, modified only when the price must change,
    not while a request is in flight, a side dropped at max position) against the same logic
    written for hftbacktest (``elapse(100 ms)``, GTX limit orders, ``modify``). Risk-averse
    queue model, constant entry/response latency, the same maker/taker fee rates on traded
    value, linear contract of size 1 (spot). hftlab fills partially; hftbacktest runs its
    ``NoPartialFillExchange``, because its ``PartialFillExchange`` (2.4.4) aborts the run
    (``elapse`` returns ``InvalidOrderStatus`` from then on) when a modify meets an order
    that filled on the way -- with 10-lot orders partial fills are rare either way.

Timing
    hftbacktest: in one process, the first run (includes numba compiling the strategy and
    hftbacktest's bindings, unless cached) and a second run on a fresh backtester (warm), each
    including data loading into the backtester; plus a fresh process end to end (interpreter,
    import, load, run). hftlab: best of ``--repeat`` runs of ``run_backtest`` on in-memory
    chunks and streamed from the store, plus a fresh ``hftlab backtest`` process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import synth_store

HBT_VERSION = "2.4.4"
QUOTER = "hftlab.strategies.simple_quoter:SimpleQuoter"

# Equivalent settings of both backtesters.
ENTRY_US = 500.0
RESPONSE_US = 500.0
MAKER_FEE = -0.00005
TAKER_FEE = 0.0004

# hftbacktest event flags (hftbacktest.types; public constants of its data format).
_DEPTH, _TRADE, _CLEAR, _SNAPSHOT = 1, 2, 3, 4
_EXCH, _LOCAL, _BUY, _SELL = 1 << 31, 1 << 30, 1 << 29, 1 << 28
HBT_EVENT_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)


# --------------------------------------------------------------------------- data
def _store(root: Path, n: int) -> Path:
    return synth_store(root, n)


def _depth_trade_stream(store_path: Path) -> Any:
    from hftlab.data.store import Store

    store = Store(store_path)
    return store.events(store.resolve(channels=["depth", "trade"]))


def _merge_order(a: np.ndarray, tl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (index, flags) of the hftbacktest file: exchange copies in ``a`` order, local copies
    in ``tl`` order; a row at the head of both orders is written once with both flags."""
    import numba

    @numba.njit(cache=False)
    def merge(a: np.ndarray, tl: np.ndarray, ex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = a.size
        idx = np.empty(2 * n, np.int64)
        flg = np.empty(2 * n, np.uint64)
        p = q = k = 0
        while p < n or q < n:
            if p < n and q < n and ex[p] == q:
                idx[k], flg[k] = q, _EXCH | _LOCAL
                p += 1
                q += 1
            elif q >= n or (p < n and a[ex[p]] <= tl[q]):
                idx[k], flg[k] = ex[p], _EXCH
                p += 1
            else:
                idx[k], flg[k] = q, _LOCAL
                q += 1
            k += 1
        return idx[:k], flg[:k]

    ex = np.argsort(a, kind="stable")
    return merge(a, tl, ex)


def to_hbt_events(ev: np.ndarray, tick: float, lot: float, window_ns: int) -> np.ndarray:
    """Our :data:`EVENT_DTYPE` rows (one instrument, ts_local order) as hftbacktest events."""
    from hftlab.events import EventKind

    tl = ev["ts_local"]
    a = np.maximum(np.minimum(ev["ts_exchange"], tl), tl - window_ns)
    kind = ev["kind"]
    side = ev["side"]
    code = np.zeros(len(ev), np.uint64)
    code[kind == EventKind.DEPTH] = _DEPTH
    code[kind == EventKind.SNAPSHOT] = _SNAPSHOT
    code[kind == EventKind.CLEAR] = _CLEAR
    code[kind == EventKind.TRADE] = _TRADE
    if np.any(code == 0):
        raise ValueError("only depth, snapshot, clear and trade rows convert")
    code |= np.where(side > 0, _BUY, np.where(side < 0, _SELL, 0)).astype(np.uint64)
    idx, flags = _merge_order(a, tl)
    out = np.zeros(len(idx), HBT_EVENT_DTYPE)
    out["ev"] = code[idx] | flags
    out["exch_ts"] = a[idx]
    out["local_ts"] = tl[idx]
    out["px"] = ev["price"][idx] * tick
    out["qty"] = ev["qty"][idx] * lot
    return out


# --------------------------------------------------------------------------- venv
def ensure_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"  creating {venv} ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run(
        [str(py), "-c", "import hftbacktest; print(hftbacktest.__version__)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or probe.stdout.strip() != HBT_VERSION:
        print(f"  pip install hftbacktest=={HBT_VERSION} into {venv} ...")
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", f"hftbacktest=={HBT_VERSION}"], check=True
        )
    return py


# The hftbacktest side. Written to a temporary file and run by the venv's python.
_CHILD = r"""
import json, math, sys, time
t_proc = time.perf_counter()
import numpy as np
from numba import njit
from hftbacktest import (BacktestAsset, HashMapMarketDepthBacktest, GTX, LIMIT)

args = json.loads(sys.argv[1])
INVALID_MIN = -(2**63)
INVALID_MAX = 2**63 - 1


@njit
def quoter(hbt, interval, half_spread, size, max_pos, skew_ticks, tick, requote_modify):
    # counts: wake-ups, new orders, modifies, cancels
    n_wake = 0
    n_new = 0
    n_mod = 0
    n_cancel = 0
    next_id = 1
    bid_id = 0
    ask_id = 0
    n_err = 0
    rc = 0
    while True:
        rc = hbt.elapse(interval)
        if rc == 1:  # end of data
            break
        if rc != 0:
            # An error the exchange side raised while processing our requests (in 2.4.4 a
            # modify that arrives after its order filled returns InvalidOrderStatus from
            # elapse). Count it and go on: the run must cover the whole data.
            n_err += 1
            if n_err > 100000:
                break
        n_wake += 1
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        bb = depth.best_bid_tick
        ba = depth.best_ask_tick
        if bb == INVALID_MIN or ba == INVALID_MAX:
            continue
        bq = depth.best_bid_qty
        aq = depth.best_ask_qty
        if bq + aq > 0.0:
            fair = (bb * aq + ba * bq) / (bq + aq)
        else:
            fair = 0.5 * (bb + ba)
        pos = hbt.position(0)
        skew = skew_ticks * pos / max_pos
        want_bid = min(math.floor(fair - half_spread - skew), ba - 1)
        want_ask = max(math.ceil(fair + half_spread - skew), bb + 1)
        orders = hbt.orders(0)
        for side in (1, -1):
            oid = bid_id if side > 0 else ask_id
            want = want_bid if side > 0 else want_ask
            allowed = pos < max_pos if side > 0 else pos > -max_pos
            if oid != 0 and oid not in orders:
                oid = 0
            if not allowed:
                if oid != 0:
                    o = orders.get(oid)
                    if o.req == 0:
                        hbt.cancel(0, oid, False)
                        n_cancel += 1
                oid = 0
            elif oid == 0:
                oid = next_id
                next_id += 1
                if side > 0:
                    hbt.submit_buy_order(0, oid, want * tick, size, GTX, LIMIT, False)
                else:
                    hbt.submit_sell_order(0, oid, want * tick, size, GTX, LIMIT, False)
                n_new += 1
            else:
                o = orders.get(oid)
                if o.price_tick != want and o.req == 0 and o.status != 0:
                    if requote_modify and o.status == 1:
                        hbt.modify(0, oid, want * tick, o.qty, False)
                        n_mod += 1
                    elif not requote_modify:
                        # cancel now; the next wake-up places the new price
                        hbt.cancel(0, oid, False)
                        n_cancel += 1
            if side > 0:
                bid_id = oid
            else:
                ask_id = oid
    return n_wake, n_new, n_mod, n_cancel, rc, hbt.current_timestamp, n_err


def one_run(data):
    t0 = time.perf_counter()
    asset = (
        BacktestAsset()
        .data([data])
        .linear_asset(1.0)
        .constant_order_latency(args["entry_ns"], args["response_ns"])
        .risk_adverse_queue_model()
        .trading_value_fee_model(args["maker"], args["taker"])
        .tick_size(args["tick"])
        .lot_size(args["lot"])
        .last_trades_capacity(0)
    )
    if args["partial"]:
        asset.partial_fill_exchange()
    else:
        asset.no_partial_fill_exchange()
    hbt = HashMapMarketDepthBacktest([asset])
    t1 = time.perf_counter()
    counts = quoter(hbt, args["interval_ns"], args["half_spread"], args["size"],
                    args["max_pos"], args["skew"], args["tick"], args["modify"])
    t2 = time.perf_counter()
    sv = hbt.state_values(0)
    out = {
        "build_s": t1 - t0, "run_s": t2 - t1, "total_s": t2 - t0,
        "wakeups": counts[0], "orders_new": counts[1], "modifies": counts[2],
        "cancels": counts[3], "end_code": counts[4], "end_ts": counts[5],
        "errors": counts[6], "fills": int(sv.num_trades), "position": float(sv.position),
        "balance": float(sv.balance), "fees": float(sv.fee),
        "volume": float(sv.trading_volume), "value": float(sv.trading_value),
    }
    hbt.close()
    return out

t_load = time.perf_counter()
data = np.load(args["npz"])["data"]
load_s = time.perf_counter() - t_load
runs = [one_run(data) for _ in range(args["runs"])]
print(json.dumps({"import_s": t_load - t_proc, "npz_load_s": load_s, "runs": runs,
                  "rows": int(len(data))}))
"""


def run_child(py: Path, script: Path, args: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    t = time.perf_counter()
    out = subprocess.run(
        [str(py), str(script), json.dumps(args)], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"hftbacktest child failed:\n{out.stderr[-3000:]}")
    return wall, json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- ours
def _sim_config() -> Any:
    from hftlab.sim.config import Fees, LatencyModel, SimConfig

    return SimConfig(
        queue_model="risk_averse",
        entry_latency=LatencyModel(value_us=ENTRY_US),
        response_latency=LatencyModel(value_us=RESPONSE_US),
        fees=Fees(maker=MAKER_FEE, taker=TAKER_FEE),
    )


def _line(label: str, seconds: float, rows: int = 0) -> str:
    rate = f"  {rows / seconds / 1e6:6.2f} M events/s" if rows else ""
    return f"  {label:<44} {seconds:7.3f} s{rate}"


def _summary_line(res: Any) -> str:
    (s,) = res.summary["instruments"].values()
    return (
        f"orders {s['orders_sent']:,}, fills {s['fills']:,} (maker {s['maker_fills']:,}), "
        f"position {s['position']:+.4f}, fees {s['fees']:+.4f}, cash {s['cash']:+.2f}"
    )


def bench(n: int, root: Path, venv: Path, repeat: int) -> None:
    from hftlab.backtest import core_is_compiled, run_backtest
    from hftlab.data.store import Store
    from hftlab.strategies.simple_quoter import SimpleQuoter, SimpleQuoterConfig

    root.mkdir(parents=True, exist_ok=True)
    store_path = _store(root, n)
    qc = SimpleQuoterConfig()
    cfg = _sim_config()
    print(
        f"settings: risk_averse queue, entry {ENTRY_US:g} us / response "
        f"{RESPONSE_US:g} us constant, fees maker {MAKER_FEE:g} taker {TAKER_FEE:g}; quoter "
        f"every {qc.interval_ms:g} ms, half spread {qc.half_spread_ticks:g} tick, size "
        f"{qc.size:g}, max position {qc.max_position:g}, skew {qc.skew_ticks:g} tick"
    )

    # ---- convert
    stream = _depth_trade_stream(store_path)
    (inst,) = stream.instruments
    t = time.perf_counter()
    ev = np.concatenate(list(stream))
    hbt_ev = to_hbt_events(ev, inst.tick_size, inst.lot_size, round(cfg.reorder_window_ms * 1e6))
    npz = root / f"hbt-{n}.npz"
    np.savez(npz, data=hbt_ev)
    print(
        f"converted {len(ev):,} depth+trade rows -> {len(hbt_ev):,} hftbacktest events "
        f"({len(hbt_ev) - len(ev):,} rows split into exchange/local copies) in "
        f"{time.perf_counter() - t:.2f} s -> {npz}"
    )
    span_s = (int(ev["ts_local"][-1]) - int(ev["ts_local"][0])) / 1e9

    # ---- hftbacktest
    py = ensure_venv(venv)
    child_args = {
        "npz": str(npz),
        "runs": 2,
        "entry_ns": round(ENTRY_US * 1e3),
        "response_ns": round(RESPONSE_US * 1e3),
        "maker": MAKER_FEE,
        "taker": TAKER_FEE,
        "tick": inst.tick_size,
        "lot": inst.lot_size,
        "interval_ns": round(qc.interval_ms * 1e6),
        "half_spread": qc.half_spread_ticks,
        "size": qc.size,
        "max_pos": qc.max_position,
        "skew": qc.skew_ticks,
        # hftbacktest 2.4.4's PartialFillExchange stops the run (elapse returns
        # InvalidOrderStatus for ever) when a modify arrives after its order was (partly)
        # filled, which a quoter that modifies every 100 ms hits within minutes; its
        # NoPartialFillExchange handles that race. Orders here are 10 lots and rarely partly
        # filled (hftlab fills partially).
        "partial": False,
        "modify": True,
    }
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "hbt_quoter.py"
        script.write_text(_CHILD)
        fresh: list[float] = []
        results = []
        for _ in range(max(repeat, 1)):
            wall, res = run_child(py, script, child_args)
            fresh.append(wall)
            results.append(res)
        one = {**child_args, "runs": 1}
        wall1, _ = run_child(py, script, one)
    first = min(r["runs"][0]["total_s"] for r in results)
    second = min(r["runs"][1]["total_s"] for r in results)
    h = results[0]["runs"][1]
    rows = len(ev)
    print(f"\nhftbacktest {HBT_VERSION} ({py}), {rows:,} events, {span_s:,.0f} s simulated")
    print(_line("first run in process (JIT warm-up incl.)", first, rows))
    print(_line("second run, warm", second, rows))
    print(_line("fresh process end to end (1 run)", wall1))
    covered = h["end_code"] == 1 and h["errors"] == 0
    print(
        f"  ran to the end of the data: {'yes' if covered else 'NO'} (last elapse code "
        f"{h['end_code']}, {h['errors']} errors, stopped at {h['end_ts']})"
    )
    print(
        f"  wake-ups {h['wakeups']:,}, orders {h['orders_new']:,} new + {h['modifies']:,} modify "
        f"+ {h['cancels']:,} cancel, fills {h['fills']:,}, position {h['position']:+.4f}, "
        f"fees {h['fees']:+.4f}, balance {h['balance']:+.2f}"
    )

    # ---- hftlab
    print(f"\nhftlab (numba cache warm: {core_is_compiled()})")
    chunks = list(_depth_trade_stream(store_path))
    instruments = [inst]

    def quoter() -> Any:
        return SimpleQuoter(SimpleQuoterConfig())

    run_backtest(chunks, quoter(), cfg, instruments=instruments)  # warm-up
    mem = []
    for _ in range(repeat):
        t = time.perf_counter()
        res = run_backtest(chunks, quoter(), cfg, instruments=instruments)
        mem.append(time.perf_counter() - t)
    best_mem = min(mem)
    print(_line("in-memory chunks, depth+trade", best_mem, rows))
    print(f"    {_summary_line(res)}")
    mods = sum(1 for e in res.orders.column("event").to_pylist() if e == "sent_modify")
    print(f"    modifies sent {mods:,}")
    st = []
    for _ in range(repeat):
        t = time.perf_counter()
        res_s = run_backtest(_depth_trade_stream(store_path), quoter(), cfg)
        st.append(time.perf_counter() - t)
    best_store = min(st)
    print(_line("from the store, depth+trade", best_store, rows))
    full = Store(store_path).events()
    full_rows = full.rows
    t = time.perf_counter()
    res_f = run_backtest(full, quoter(), cfg)
    full_s = time.perf_counter() - t
    print(
        f"  from the store, all {full_rows:,} rows (with BBO)  {full_s:7.3f} s  "
        f"{full_rows / full_s / 1e6:6.2f} M/s   ({_summary_line(res_f)})"
    )
    cold = _cold_hftlab(store_path, root)
    print(_line("fresh `hftlab backtest` process, all rows", cold))
    _ = res_s

    print("\nratio hftlab / hftbacktest (events/s, same depth+trade rows):")
    print(f"  in memory vs hftbacktest warm      {second / best_mem:5.2f}x")
    print(f"  from store vs hftbacktest warm     {second / best_store:5.2f}x")
    print(f"  from store vs hftbacktest 1st run  {first / best_store:5.2f}x")


def _cold_hftlab(store_path: Path, root: Path) -> float:
    cfg = root / "compare.toml"
    cfg.write_text(
        "[sim]\n"
        'queue_model = "risk_averse"\n'
        f"fees = {{ maker = {MAKER_FEE!r}, taker = {TAKER_FEE!r} }}\n"
        f"[sim.entry_latency]\nvalue_us = {ENTRY_US!r}\n"
        f"[sim.response_latency]\nvalue_us = {RESPONSE_US!r}\n"
    )
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hftlab.cli",
            "backtest",
            "--data",
            str(store_path),
            "--strategy",
            QUOTER,
            "--config",
            str(cfg),
            "--out",
            str(root / "run-compare"),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/hftlab-hbt-compare"))
    ap.add_argument(
        "--venv",
        type=Path,
        default=Path(os.path.expanduser("~/.cache/hftlab-bench/hbt-venv")),
    )
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bench(args.events, args.dir, args.venv, args.repeat)


if __name__ == "__main__":
    main()
