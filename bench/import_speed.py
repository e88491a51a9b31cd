"""Raw-capture import speed against a bare msgspec decode of the same lines.

Usage::

    python bench/import_speed.py [CAPTURE_FILE] [--repeat N]

Default file: the largest Binance capture under ``$HFTLAB_REAL_DATA`` (or
``/work/shared/data``). All stages read the same decompressed lines from memory:

* ``decode (generic)``: ``msgspec.json.decode(body)`` to Python objects, after splitting the
  local timestamp off each line;
* ``decode (typed, raw levels)``: the same, into the importer's own typed Structs (chosen by
  stream name). These keep depth price-level lists as raw JSON (``msgspec.Raw``; the importer
  parses them in bulk later), so this baseline decodes *less* than the importer needs;
* ``decode (typed, levels)``: typed Structs whose level lists are decoded too
  (``list[tuple[float, float]]``): every field the importer uses, decoded and nothing more.
  This is the decode-only baseline for "the same information";
* ``import (no write)``: the importer proper: decode, accumulate, book sync, bookTicker time
  inference, instrument inference, depth rows, book replay + bookTicker validation;
* ``import (end to end)``: from the compressed file to a Parquet store in a temp folder.

Prints messages/s and rows/s and the ratio of the importer to each decode baseline (the
acceptance goal is within 3x of the decode-only time). Never asserts timing.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from hftlab.data.importers._common import ImportSummary, open_binary
from hftlab.data.importers.binance_raw import (
    _DEC_SNAPSHOT,  # the bench measures the importer's own decoders
    _DECODERS,
    K_DEPTH,
    K_IGNORED,
    K_UNKNOWN,
    CaptureParser,
    ImportOptions,
    classify_stream,
    finish_capture,
    import_binance_capture,
)

Level = tuple[float, float]


class _DepthFull(msgspec.Struct, gc=False):
    """``DepthUpdate`` with the level lists decoded (see the module docstring)."""

    E: int
    U: int
    u: int
    b: list[Level]
    a: list[Level]
    T: int = 0
    pu: int = -1


class _DepthFullMsg(msgspec.Struct, gc=False):
    data: _DepthFull


class _SnapshotFull(msgspec.Struct, gc=False):
    lastUpdateId: int
    bids: list[Level]
    asks: list[Level]
    E: int = 0
    T: int = 0


_FULL_DEPTH = msgspec.json.Decoder(_DepthFullMsg, strict=False)
_FULL_SNAPSHOT = msgspec.json.Decoder(_SnapshotFull, strict=False)


def _default_file() -> Path:
    root = Path(os.environ.get("HFTLAB_REAL_DATA", "/work/shared/data"))
    files = [p for p in root.glob("hftbacktest/examples/*/*.gz") if "hyperliquid" not in str(p)]
    if not files:
        sys.exit(f"no captures under {root}; pass a file")
    return max(files, key=lambda p: p.stat().st_size)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    logging.disable(logging.WARNING)  # the per-import latency warnings would repeat per round
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = args.file or _default_file()
    with open_binary(path) as fh:
        lines = fh.read().splitlines()
    n = len(lines)

    generic = msgspec.json.Decoder()

    def decode_generic() -> None:
        dec = generic.decode
        for line in lines:
            sp = line.find(b" ")
            int(line[:sp])
            dec(line[sp + 1 :])

    def typed_decoder(full_levels: bool) -> Callable[[], None]:
        cache: dict[bytes, object] = {}
        snapshot = _FULL_SNAPSHOT if full_levels else _DEC_SNAPSHOT

        def run() -> None:
            for line in lines:
                sp = line.find(b" ")
                int(line[:sp])
                body = line[sp + 1 :]
                if body.startswith(b'{"stream":"'):
                    name = body[11 : body.find(b'"', 11)]
                    dec = cache.get(name)
                    if dec is None:
                        kind = classify_stream(name.decode())[0]
                        if kind in (K_IGNORED, K_UNKNOWN):
                            dec = generic
                        elif kind == K_DEPTH and full_levels:
                            dec = _FULL_DEPTH
                        else:
                            dec = _DECODERS[kind]
                        cache[name] = dec
                    dec.decode(body)
                else:
                    snapshot.decode(body)

        return run

    decode_typed = typed_decoder(False)
    decode_full = typed_decoder(True)

    rows = [0]

    def importer() -> None:
        summary = ImportSummary(format="bench")
        parser = CaptureParser(summary)
        parser.parse_lines(path, [lines])
        finish_capture(parser, None, ImportOptions(), source=str(path))
        rows[0] = sum(
            v
            for i in summary.instruments
            for k, v in i.rows.items()
            if k in ("depth.update", "depth.snapshot", "depth.clear", "trade", "bbo")
        )

    def end_to_end() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            import_binance_capture([path], Path(tmp) / "store")

    importer()  # warm up numba caches and the page cache
    t_gen = _best(decode_generic, args.repeat)
    t_typ = _best(decode_typed, args.repeat)
    t_full = _best(decode_full, args.repeat)
    t_imp = _best(importer, args.repeat)
    t_e2e = _best(end_to_end, args.repeat)
    with gzip.open(path) if str(path).endswith(".gz") else open(path, "rb") as fh:
        size = len(fh.read())
    print(f"file: {path}  ({n:,} lines, {size / 1e6:.1f} MB uncompressed; rows out {rows[0]:,})")
    print(f"{'stage':<30}{'seconds':>9}{'msgs/s':>13}{'rows/s':>13}{'x typed':>9}")
    for name, t in [
        ("decode (generic)", t_gen),
        ("decode (typed, raw levels)", t_typ),
        ("decode (typed, levels)", t_full),
        ("import (no write)", t_imp),
        ("import (end to end)", t_e2e),
    ]:
        rps = f"{rows[0] / t:,.0f}" if name.startswith("import") else "-"
        print(f"{name:<30}{t:>9.3f}{n / t:>13,.0f}{rps:>13}{t / t_typ:>9.2f}")
    print(
        f"importer / decode: {t_imp / t_full:.2f}x typed with levels (same information), "
        f"{t_imp / t_typ:.2f}x typed with raw levels (less information), "
        f"{t_imp / t_gen:.2f}x generic (target <= 3x)"
    )
    print(
        f"end to end incl. gunzip + Parquet: {t_e2e / t_full:.2f}x typed with levels, "
        f"{t_e2e / t_typ:.2f}x typed with raw levels"
    )


if __name__ == "__main__":
    main()
