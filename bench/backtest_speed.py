"""Backtester speed: raw replay and a Python quoter on synthetic stores; cold start; peak RSS.

Prints figures, asserts nothing. Usage::

    python bench/backtest_speed.py                      # 1M and 10M events
    python bench/backtest_speed.py --events 1000000     # just one size
    python bench/backtest_speed.py --dir /tmp/hb        # where the synthetic stores live

Figures:

* raw (in memory): book + matcher only, no strategy, events already decoded in memory;
* raw (store): the same streamed from Parquet (decode included);
* quoter (store): ``SimpleQuoter`` re-quoting every 100 ms of simulated time, from Parquet;
* cold start: a fresh ``hftlab backtest`` process (warm numba cache) on the 1M store;
* peak RSS: a fresh process running the quoter over the largest store, read from the child's
  own ``VmHWM``. (Not ``ru_maxrss``: a child spawned with vfork, as ``subprocess`` does,
  inherits the parent's high-water mark at exec, so it would report the bench's own peak.)
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import time
from pathlib import Path

from _common import synth_store

QUOTER = "hftlab.strategies.simple_quoter:SimpleQuoter"


def _store(root: Path, n: int) -> Path:
    return synth_store(root, n)


def _rate(n: int, seconds: float) -> str:
    return f"{seconds:7.3f} s  {n / seconds / 1e6:6.2f} M events/s"


# The child's peak resident set, as the kernel keeps it for the child's own address space.
PEAK_RSS_KIB = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"


def _child(code: str) -> tuple[float, str]:
    """Run python code in a fresh process; (wall s, stdout)."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return time.perf_counter() - t, out.stdout


def bench(sizes: list[int], root: Path) -> None:
    import numpy as np

    from hftlab.backtest import core_is_compiled, run_backtest
    from hftlab.data.store import Store
    from hftlab.sim.config import SimConfig
    from hftlab.strategies.simple_quoter import SimpleQuoter, SimpleQuoterConfig

    root.mkdir(parents=True, exist_ok=True)
    print(f"numba cache warm: {core_is_compiled()}")
    stores = {n: _store(root, n) for n in sizes}
    # Warm-up (compiles on the very first run).
    t = time.perf_counter()
    run_backtest(Store(stores[sizes[0]]).events(), SimpleQuoter(), SimConfig())
    print(f"warm-up run: {time.perf_counter() - t:.2f} s")
    for n in sizes:
        store = Store(stores[n])
        stream = store.events()
        rows = stream.rows
        span = 0.0
        print(f"\n{rows:,} events (BTCUSDT depth + trade + bbo)")
        if rows <= 2_000_000:
            chunks = list(stream)
            span = (chunks[-1]["ts_local"][-1] - chunks[0]["ts_local"][0]) / 1e9
            raw = functools.partial(
                run_backtest, chunks, None, SimConfig(), instruments=stream.instruments
            )
            best = min(_timed(raw) for _ in range(3))
            print(f"  (a) raw, in memory      {_rate(rows, best)}")
            quoted = functools.partial(
                run_backtest, chunks, SimpleQuoter(), SimConfig(), instruments=stream.instruments
            )
            best = min(_timed(quoted) for _ in range(2))
            print(f"  (b) quoter, in memory   {_rate(rows, best)}")
            del chunks, raw, quoted
        sec = _timed(functools.partial(run_backtest, store.events(), None, SimConfig()))
        print(f"  (a) raw, from store     {_rate(rows, sec)}")
        t0 = time.perf_counter()
        res = run_backtest(store.events(), SimpleQuoter(SimpleQuoterConfig()), SimConfig())
        sec = time.perf_counter() - t0
        s = res.summary["instruments"]["synth/BTCUSDT"]
        if res.summary["first_ts"] is not None:
            span = (res.summary["last_ts"] - res.summary["first_ts"]) / 1e9
        print(
            f"  (b) quoter, from store  {_rate(rows, sec)}  "
            f"({span:,.0f} s simulated, {span * 10:,.0f} timer wake-ups, "
            f"{s['orders_sent']:,} orders, {s['fills']:,} fills)"
        )
        del res
        _ = np

    small, large = min(sizes), max(sizes)
    cfg = root / "empty.toml"
    cfg.write_text("")
    out = root / "run-cold"
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hftlab.cli",
            "backtest",
            "--data",
            str(stores[small]),
            "--strategy",
            QUOTER,
            "--config",
            str(cfg),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    print(
        f"\ncold start: fresh `hftlab backtest` process on {small:,} events: "
        f"{time.perf_counter() - t:.2f} s (warm numba cache)"
    )
    code = (
        "from hftlab.backtest import run_backtest\n"
        "from hftlab.data.store import Store\n"
        "from hftlab.strategies.simple_quoter import SimpleQuoter\n"
        f"r = run_backtest(Store({str(stores[large])!r}).events(), SimpleQuoter())\n"
        f"print(r.summary['events'], {PEAK_RSS_KIB})\n"
    )
    wall, stdout = _child(code)
    n_events, peak_kib = (int(x) for x in stdout.split())
    print(
        f"peak RSS, fresh process, quoter over {n_events:,} events: {peak_kib / 1024:,.0f} MiB "
        f"({wall:.1f} s)"
    )


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/hftlab-bench"))
    args = ap.parse_args()
    bench(sorted(args.events), args.dir)


if __name__ == "__main__":
    main()
