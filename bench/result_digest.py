"""Digests of backtest results, to prove a refactor leaves them bit-identical.

Runs a fixed set of backtests (SimpleQuoter, Avellaneda–Stoikov and GLFT; the three depth queue
models plus L1; a risk config that triggers; synthetic data and, with ``--real``, the USD-M
capture) and prints one line per run and table: a SHA-256 of the table's Arrow IPC bytes and of
the summary without its wall-clock fields. Run it from two trees and diff the output::

    python bench/result_digest.py --real ../shared/data > new.txt
    PYTHONPATH=/path/to/old/src python bench/result_digest.py --real ../shared/data > old.txt
    diff old.txt new.txt && echo identical

Only public API that every version since session 4 has (``Store``, ``run_backtest``,
``SimConfig``, ``RiskConfig``, the strategy classes), so the same script runs against the old
tree.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))

from _common import synth_store


def _table_digest(table: pa.Table) -> str:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue()).hexdigest()[:20]


def _summary_digest(summary: dict[str, Any]) -> str:
    text = json.dumps(summary, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


#: Per-instrument summary keys added since older trees (the book-sync counts, issue 13).
#: ``summary-compat`` digests the summary without them, so a tree that adds them can still be
#: compared with one that does not.
_ADDED_KEYS = ("unsynced_rows", "sync_gaps", "unsynced_s")


def _summary_compat_digest(summary: dict[str, Any]) -> str:
    inst = {
        k: {f: v for f, v in d.items() if f not in _ADDED_KEYS}
        for k, d in summary["instruments"].items()
    }
    return _summary_digest({**summary, "instruments": inst})


def _strategies() -> dict[str, Any]:
    from hftlab.strategies.avellaneda_stoikov import AvellanedaStoikov
    from hftlab.strategies.glft import Glft
    from hftlab.strategies.simple_quoter import SimpleQuoter

    return {"quoter": SimpleQuoter, "as": AvellanedaStoikov, "glft": Glft}


def _runs(store_root: Path, label: str, strategies: list[str], as_cfg: dict) -> list[str]:
    from hftlab.backtest.engine import run_backtest
    from hftlab.data.store import Store
    from hftlab.risk import RiskConfig
    from hftlab.sim.config import Fees, LatencyModel, SimConfig

    store = Store(store_root)
    classes = _strategies()
    out = []
    for qm in ("risk_averse", "prob_power", "prob_log", "l1"):
        cfg = SimConfig(
            queue_model=qm,  # type: ignore[arg-type]
            entry_latency=LatencyModel(value_us=1000),
            response_latency=LatencyModel(value_us=1000),
            fees=Fees(maker=-0.00005, taker=0.0004),
            seed=3,
        )
        for name in strategies:
            cls = classes[name]
            params = as_cfg if name in ("as", "glft") else {}
            strat = cls(cls.make_config(params))
            for risk_name, risk in (
                ("norisk", None),
                ("risk", RiskConfig(max_position=0.003, max_order_rate=30, max_loss=50.0)),
            ):
                if risk_name == "risk" and qm != "prob_power":
                    continue
                strat = cls(cls.make_config(params))
                res = run_backtest(store.events(), strat, cfg, risk=risk)
                tag = f"{label} {name} {qm} {risk_name}"
                for tname in ("orders", "fills", "state", "risk"):
                    out.append(
                        f"{tag} {tname} rows={getattr(res, tname).num_rows} "
                        f"{_table_digest(getattr(res, tname))}"
                    )
                out.append(f"{tag} summary {_summary_digest(res.summary)}")
                out.append(f"{tag} summary-compat {_summary_compat_digest(res.summary)}")
                sync = {
                    k: (d.get("unsynced_rows"), d.get("sync_gaps"), d.get("unsynced_s"))
                    for k, d in res.summary["instruments"].items()
                }
                out.append(f"{tag} book-sync {sync}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300_000, help="synthetic events")
    ap.add_argument("--real", type=Path, default=None, help="shared/data folder")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "hftlab-bench")
    args = ap.parse_args()
    import hftlab

    print(f"# hftlab from {Path(hftlab.__file__).parent}", file=sys.stderr)
    synth = synth_store(args.cache, args.events)
    lines = _runs(synth, "synth", ["quoter", "as", "glft"], {"interval_ms": 100.0, "size": 0.001})
    # Online intensity: the strategy is woken at every quote change and trade.
    lines += _runs(
        synth,
        "synth-online",
        ["as"],
        {"interval_ms": 100.0, "size": 0.001, "intensity": "online", "intensity_refit_s": 5.0},
    )
    if args.real is not None:
        from hftlab.data.importers import import_files

        real = args.cache / "digest-usdm-btc"
        if not (real / ".complete").exists():
            src = args.real / "hftbacktest/examples/usdm/btcusdt_20240808.gz"
            import_files("binance-capture", [src], real)
            (real / ".complete").write_text("ok\n")
        lines += _runs(
            real,
            "usdm",
            ["quoter", "as"],
            {"interval_ms": 100.0, "size": 0.002, "intensity": "fixed", "max_position": 0.02},
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
