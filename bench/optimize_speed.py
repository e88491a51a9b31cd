"""Optimiser throughput: one 16-point grid, serial vs a 2-worker process pool (and Ray).

Prints figures, asserts nothing. Usage::

    python bench/optimize_speed.py                        # 1M events, serial/process/ray
    python bench/optimize_speed.py --events 200000 --no-ray
    python bench/optimize_speed.py --dir /tmp/hb          # where the synthetic store lives

The store (synthetic BTCUSDT, seed 7) is synthesized once into ``--dir`` and reused. The grid is
``SimpleQuoter`` half_spread_ticks x interval_ms (4 x 4). Each executor runs the same grid into
a fresh results folder; wall time includes starting its workers (``spawn``: a fresh interpreter
importing hftlab and loading the compiled core; ``fork``: a copy of this process) and, for Ray,
``ray.init`` of a local 2-CPU instance (also shown without it). Every worker decodes the store
once and reuses the decoded chunks for its next evaluations. Serial and the process pools are
repeated (``--repeat``, best taken) because the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import synth_store

QUOTER = "hftlab.strategies.simple_quoter:SimpleQuoter"
GRID = """
[data]
instruments = ["synth/BTCUSDT"]
[sim]
queue_model = "prob_power"
[strategy]
size = 0.001
max_position = 0.01
[grid]
strategy.half_spread_ticks = [0, 1, 2, 3]
strategy.interval_ms = [50, 100, 200, 400]
[optimize]
objective = "pnl"
"""


def _store(root: Path, n: int) -> Path:
    return synth_store(root, n)


def _run(store: Path, cfg: Any, executor: Any, out: Path) -> tuple[float, Any]:
    from hftlab.optimize.search import run_grid

    t = time.perf_counter()
    with executor as ex:
        run = run_grid(str(store), QUOTER, cfg, ex, out)
    return time.perf_counter() - t, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path.home() / ".cache" / "hftlab-bench")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray figure")
    ap.add_argument("--repeat", type=int, default=3, help="repeats (best taken)")
    args = ap.parse_args()

    from hftlab.backtest import core_is_compiled
    from hftlab.optimize.evaluate import warm_up
    from hftlab.optimize.executors import ProcessExecutor, RayExecutor, SerialExecutor
    from hftlab.optimize.spec import parse_optimize_config
    from hftlab.strategies.simple_quoter import SimpleQuoter

    args.dir.mkdir(parents=True, exist_ok=True)
    store = _store(args.dir, args.events)
    import tomllib

    cfg = parse_optimize_config(tomllib.loads(GRID), SimpleQuoter)
    if not core_is_compiled():
        print("  compiling the simulation core once (not timed)...")
    warm_up()
    print(
        f"optimize: {cfg.size()}-point grid, SimpleQuoter, {args.events:,} events, "
        f"{os.cpu_count()} CPUs, {args.workers} workers"
    )
    strip = ("wall_s",)

    def rows(run: Any) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in strip} for r in run.rows]

    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            t_serial, ref = _run(store, cfg, SerialExecutor(), Path(tmp) / f"serial{rep}")
            per = sum(r["wall_s"] for r in ref.rows) / len(ref.rows)
            print(f"  [{rep}] serial            {t_serial:7.2f} s   ({per:.2f} s per evaluation)")
            best["serial"] = min(best.get("serial", 1e9), t_serial)
            for method in ("spawn", "fork"):
                ex = ProcessExecutor(args.workers, method)
                t, run = _run(store, cfg, ex, Path(tmp) / f"{method}{rep}")
                best[method] = min(best.get(method, 1e9), t)
                same = rows(run) == rows(ref)
                print(
                    f"  [{rep}] process {method:<5} x{args.workers} {t:7.2f} s   speedup "
                    f"{t_serial / t:.2f}x  (results identical to serial: {same})"
                )
        if not args.no_ray:
            import ray

            t0 = time.perf_counter()
            ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
            t_init = time.perf_counter() - t0
            try:
                t_ray, run = _run(store, cfg, RayExecutor(args.workers), Path(tmp) / "ray")
            finally:
                ray.shutdown()
            print(
                f"  ray x{args.workers} (local)      {t_ray + t_init:7.2f} s   speedup "
                f"{best['serial'] / (t_ray + t_init):.2f}x vs best serial  (ray.init "
                f"{t_init:.1f} s; without it {t_ray:.2f} s, {best['serial'] / t_ray:.2f}x; "
                f"identical: {rows(run) == rows(ref)})"
            )
    print(
        f"best of {args.repeat}: serial {best['serial']:.2f} s; process spawn "
        f"{best['spawn']:.2f} s ({best['serial'] / best['spawn']:.2f}x); process fork "
        f"{best['fork']:.2f} s ({best['serial'] / best['fork']:.2f}x)"
    )


if __name__ == "__main__":
    main()
