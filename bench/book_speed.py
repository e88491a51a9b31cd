"""Book kernels alone on real depth: ns per update and per touch query, this tree vs another.

Replays the depth rows (updates, snapshot levels, clears) of the real Binance captures and of
the synthetic market through the book kernels alone: ``book_apply_at`` on a borrowed stack as
the simulator's loop runs it, and ``book_apply_events`` as a standalone caller does; best of
``--repeat`` runs on a fresh book; then the same replay with a touch query after every row.
Prints figures, asserts nothing. Usage::

    python bench/book_speed.py --real ../shared/data
    python bench/book_speed.py --real ../shared/data --old /path/to/old/src   # vs an old tree

``--old`` loads ``hftlab/book/_core.py`` of that tree (the sorted-array book up to 1be7657:
``book_new(capacity)``, same kernel names) beside this one; its capacity is the simulator's
old default, 4,096 levels a side, and the levels it dropped are shown.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import synth_store

HB = "hftbacktest/examples"
#: Every Binance capture with depth, one recording per row (day pairs together).
CAPTURES = {
    "usdm BTCUSDT 2024-08-08 (depth@0ms)": ["usdm/btcusdt_20240808.gz"],
    "usdm ETHUSDT 2024-08-08 (depth@0ms)": ["usdm/ethusdt_20240808.gz"],
    "usdm BTCUSDT 2023-04-04/05 (depth@0ms)": [
        "usdm/btcusdt_20230404.dat.gz",
        "usdm/btcusdt_20230405.dat.gz",
    ],
    "spot BTCUSDT 2024-08-08/09 (depth@100ms)": [
        "spot/btcusdt_20240808.gz",
        "spot/btcusdt_20240809.gz",
    ],
    "spot ETHUSDT 2024-08-08/09 (depth@100ms)": [
        "spot/ethusdt_20240808.gz",
        "spot/ethusdt_20240809.gz",
    ],
    "spot BTCUSDT 2023-04-05 (depth@100ms, no snapshot)": ["spot/btcusdt_20230405.dat.gz"],
}
OLD_CAPACITY = 4096  # SimConfig.book_capacity before the windowed book


def _depth_rows(store_root: Path) -> dict[str, np.ndarray]:
    """kinds, sides, prices, qtys of the store's depth rows (ts_local order)."""
    from hftlab.data.store import Store

    store = Store(store_root)
    keys = [k for k in store.streams() if str(k.channel) == "depth"]
    rows = np.concatenate(list(store.events(keys)))
    rows = rows[(rows["kind"] >= 1) & (rows["kind"] <= 3)]
    return {
        "kinds": np.ascontiguousarray(rows["kind"]),
        "sides": np.ascontiguousarray(rows["side"]),
        "prices": np.ascontiguousarray(rows["price"]),
        "qtys": np.ascontiguousarray(rows["qty"]),
    }


def _import_capture(real: Path, files: list[str], cache: Path) -> Path:
    from hftlab.data.importers import import_files

    root = cache / ("book-" + "-".join(Path(f).name.split(".")[0] for f in files))
    if not (root / ".complete").exists():
        import_files("binance-capture", [real / HB / f for f in files], root)
        (root / ".complete").write_text("ok\n")
    return root


def _load_book(src: Path, name: str) -> ModuleType:
    """``hftlab/book/_core.py`` of the tree at ``src``, compiled afresh without numba's cache:
    both trees' kernels are then compiled alike (a cached kernel is linked as machine code,
    so a caller cannot inline it; a fresh one can), and a cache keyed on a file outside this
    package cannot serve a stale entry."""
    path = src / "hftlab" / "book" / "_core.py"
    mod = ModuleType(name)
    mod.__file__ = str(path)
    sys.modules[name] = mod
    code = path.read_text().replace("cache=True", "cache=False")
    exec(compile(code, str(path), "exec"), mod.__dict__)
    return mod


def _kernel(mod: ModuleType) -> Any:
    """The replay loop over ``mod``'s kernels as the simulator runs them: ``book_apply_at`` on
    a stack of books through a borrowed view (the core's ``_borrowed``: no reference counting;
    standalone callers pay two atomic reference-count updates a call on top), and after every
    row optionally a touch query (what the matcher, the queue models and strategies ask):
    1 best bid and ask, 2 qty at a price near the bid touch, 3 depth(10) of alternate sides.
    A query's cost is its replay's time less the plain replay's (a loop of queries on a fixed
    book would be hoisted out by the compiler)."""
    from numba import njit

    from hftlab.sim._core import _borrowed

    apply_at, clear = mod.book_apply_at, mod.book_clear
    best_bid, best_ask = mod.book_best_bid, mod.book_best_ask
    qty_at, depth = mod.book_qty_at, mod.book_depth

    @njit
    def replay(
        books: np.ndarray,
        kinds: np.ndarray,
        sides: np.ndarray,
        prices: np.ndarray,
        qtys: np.ndarray,
        which: int,
    ) -> int:
        books = _borrowed(books)
        bk = books[0]
        out_p = _borrowed(np.empty(10, np.int64))
        out_q = _borrowed(np.empty(10, np.int64))
        acc = 0
        for i in range(kinds.shape[0]):
            k = kinds[i]
            if k == 1 or k == 2:
                acc += apply_at(books, 0, sides[i], prices[i], qtys[i])
            elif k == 3:
                clear(bk, sides[i])
            if which == 1:
                acc += best_bid(bk)[1] + best_ask(bk)[1]
            elif which == 2:
                acc += qty_at(bk, 1, best_bid(bk)[0] - (i & 7))
            elif which == 3:
                acc += depth(bk, 1 - 2 * (i & 1), out_p, out_q) + out_q[0]
        return acc

    return replay


def _time(kern: Any, make: Any, rows: dict[str, np.ndarray], which: int, repeat: int) -> float:
    """Best wall time of ``repeat`` replays on a fresh book, seconds."""
    args = (rows["kinds"], rows["sides"], rows["prices"], rows["qtys"])
    kern(make(), *(a[:100] for a in args), which)  # compile
    best = float("inf")
    for _ in range(repeat):
        books = make()
        t = time.perf_counter()
        kern(books, *args, which)
        best = min(best, time.perf_counter() - t)
    return best


def _time_events(mod: ModuleType, make: Any, rows: dict[str, np.ndarray], repeat: int) -> float:
    """The same replay through ``book_apply_events`` (standalone: reference counts paid)."""
    best = float("inf")
    for _ in range(repeat):
        bk = make()[0]
        t = time.perf_counter()
        mod.book_apply_events(bk, rows["kinds"], rows["sides"], rows["prices"], rows["qtys"])
        best = min(best, time.perf_counter() - t)
    return best


def _measure(
    hftlab: ModuleType,
    name: str,
    rows: dict[str, np.ndarray],
    old: ModuleType | None,
    repeat: int,
    kernels: dict,
) -> None:
    new = _load_book(Path(hftlab.__file__).parent.parent, "hftlab_new_book_core")

    n = int(rows["kinds"].shape[0])
    updates = int(np.count_nonzero(rows["kinds"] != 3))
    impls: list[tuple[str, ModuleType, Any]] = [("window", new, lambda: new.book_new()[None])]
    if old is not None:
        impls.append(("sorted (old)", old, lambda: old.book_new(OLD_CAPACITY)[None]))
    print(f"\n{name}: {n:,} depth rows")
    for label, mod, make in impls:
        kern = kernels.setdefault(label, _kernel(mod))
        sec = _time(kern, make, rows, 0, repeat)
        touch, at, dep = ((_time(kern, make, rows, w, repeat) - sec) / n * 1e9 for w in (1, 2, 3))
        _time_events(mod, make, {k: v[:100] for k, v in rows.items()}, 1)  # compile
        ev = _time_events(mod, make, rows, repeat)
        bk = make()[0]
        mod.book_apply_events(bk, rows["kinds"], rows["sides"], rows["prices"], rows["qtys"])
        held = [int(mod.book_levels(bk, s)) for s in (1, -1)]
        if mod is new:
            st = [new.book_stats(bk, s) for s in (1, -1)]
            far = sum(int(x[2]) for x in st)
            extra = (
                f"overflow updates {far / max(updates, 1):6.2%}, window moves "
                f"{sum(int(x[3]) for x in st)}, refused {sum(int(x[4]) for x in st)}"
            )
        else:
            extra = f"DROPPED {sum(int(mod.book_dropped(bk, s)) for s in (1, -1)):,} levels"
        print(
            f"  {label:12s} {sec / n * 1e9:6.1f} ns/row in the core ({sec * 1e3:6.2f} ms), "
            f"{ev / n * 1e9:6.1f} standalone; levels {held[0]:,}/{held[1]:,}; {extra}\n"
            f"  {'':12s} + a query per row: best bid+ask {touch:5.1f} ns, qty_at {at:5.1f} ns, "
            f"depth(10) {dep:5.1f} ns"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=None, help="shared/data folder")
    ap.add_argument("--old", type=Path, default=None, help="src/ of a tree to compare with")
    ap.add_argument("--events", type=int, default=1_000_000, help="synthetic events")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "hftlab-bench")
    args = ap.parse_args()
    import hftlab

    print(f"# hftlab from {Path(hftlab.__file__).parent}; old: {args.old}")
    old = _load_book(args.old, "hftlab_old_book_core") if args.old is not None else None
    kernels: dict[str, Any] = {}
    if args.real is not None:
        for name, files in CAPTURES.items():
            root = _import_capture(args.real, files, args.cache)
            _measure(hftlab, name, _depth_rows(root), old, args.repeat, kernels)
    synth = synth_store(args.cache, args.events)
    _measure(
        hftlab,
        f"synthetic BTCUSDT ({args.events:,} events)",
        _depth_rows(synth),
        old,
        args.repeat,
        kernels,
    )


if __name__ == "__main__":
    main()
