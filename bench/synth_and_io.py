"""Synthetic-market generation, store write and store read speed.

Prints events/s for: generating the synthetic market in memory, writing it to the Parquet store,
and reading it back three ways — the merged sim-core event stream (``Store.events``: row groups,
ticks/lots conversion, k-way merge), per-stream Arrow reads (``Store.read``), and a bare
``pyarrow.parquet.read_table`` of the same files in the same run, which is the yardstick.

    python bench/synth_and_io.py --events 1000000 [--repeat 3]

Never asserts anything about timing; record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from hftlab.data.store import Store
from hftlab.data.synthetic import synthesize, synthesize_tables


def best_of(repeat: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = args.events

    synthesize_tables(events=10_000, seed=1)  # compile (or load the numba cache) first
    gen = best_of(args.repeat, lambda: synthesize_tables(events=n, seed=args.seed))

    with tempfile.TemporaryDirectory() as tmp:
        writes = []
        for i in range(args.repeat):
            summary = synthesize(Path(tmp) / f"s{i}", events=n, seed=args.seed)
            writes.append(summary.write_s)
        root = Path(tmp) / "s0"
        store = Store(root)
        files = [f.path for key in store.streams() for f in store.files(key)]
        size = sum(p.stat().st_size for p in files)

        def read_events() -> None:
            rows = sum(len(chunk) for chunk in Store(root).events())
            assert rows == n

        def read_arrow() -> None:
            s = Store(root)
            rows = sum(t.num_rows for key in s.streams() for t in s.read(key))
            assert rows == n

        def read_bare() -> None:
            rows = sum(pq.read_table(p).num_rows for p in files)
            assert rows == n

        bare = best_of(args.repeat, read_bare)
        arrow = best_of(args.repeat, read_arrow)
        events = best_of(args.repeat, read_events)

        # The largest single stream file: our event reader vs a bare read of that file.
        big_key, big = max(
            ((key, f) for key in store.streams() for f in store.files(key)),
            key=lambda kf: kf[1].rows,
        )
        one_bare = best_of(args.repeat, lambda: pq.read_table(big.path))
        one_events = best_of(
            args.repeat, lambda: sum(len(c) for c in Store(root).events([big_key]))
        )

    write = min(writes)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"events: {n:,}   files: {len(files)}   store size: {size / 2**20:.1f} MiB")
    print(f"{'stage':<42}{'seconds':>10}{'events/s':>16}")
    rows = [
        ("synth (in memory, compiled kernel)", gen),
        ("write (Parquet zstd, atomic files)", write),
        ("read: bare pyarrow.parquet.read_table", bare),
        ("read: Store.read (Arrow, per stream)", arrow),
        ("read: Store.events (merged, ticks)", events),
    ]
    for name, secs in rows:
        print(f"{name:<42}{secs:>10.3f}{n / secs:>16,.0f}")
    print(f"all {len(files)} streams merged: Store.events / bare read_table = {events / bare:.2f}x")
    print(f"all {len(files)} streams:        Store.read   / bare read_table = {arrow / bare:.2f}x")
    print(
        f"largest file ({big_key}, {big.rows:,} rows): Store.events {one_events * 1e3:.1f} ms, "
        f"bare read_table {one_bare * 1e3:.1f} ms = {one_events / one_bare:.2f}x (goal <= 2x)"
    )


if __name__ == "__main__":
    main()
