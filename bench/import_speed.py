"""Raw-capture import speed against a bare msgspec decode of the same lines.

Usage::

    python bench/import_speed.py [CAPTURE_FILE] [--repeat N]

Default file: the largest Binance capture under ``$HFTLAB_REAL_DATA`` (or
``/work/shared/data``). All stages read the same decompressed lines from memory:

* ``decode (generic)``: ``msgspec.json.decode(body)`` to Python objects, after splitting the
  local timestamp off each line;
* ``decode (typed)``: the same, into the importer's typed Structs (chosen by stream name);
* ``import (no write)``: the importer proper: decode, accumulate, book sync, bookTicker time
  inference, instrument inference, depth rows, book replay + bookTicker validation;
* ``import (end to end)``: from the compressed file to a Parquet store in a temp folder.

Prints messages/s and rows/s and the ratio importer/decode. Never asserts timing.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from hftlab.data.importers._common import ImportSummary, open_binary
from hftlab.data.importers.binance_raw import (
    _DEC_SNAPSHOT,  # the bench measures the importer's own decoders
    _DECODERS,
    K_IGNORED,
    K_UNKNOWN,
    CaptureParser,
    ImportOptions,
    classify_stream,
    finish_capture,
    import_binance_capture,
)


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

    cache: dict[bytes, object] = {}

    def decode_typed() -> None:
        for line in lines:
            sp = line.find(b" ")
            int(line[:sp])
            body = line[sp + 1 :]
            if body.startswith(b'{"stream":"'):
                name = body[11 : body.find(b'"', 11)]
                dec = cache.get(name)
                if dec is None:
                    kind = classify_stream(name.decode())[0]
                    dec = cache[name] = (
                        generic if kind in (K_IGNORED, K_UNKNOWN) else _DECODERS[kind]
                    )
                dec.decode(body)
            else:
                _DEC_SNAPSHOT.decode(body)

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
    t_imp = _best(importer, args.repeat)
    t_e2e = _best(end_to_end, args.repeat)
    with gzip.open(path) if str(path).endswith(".gz") else open(path, "rb") as fh:
        size = len(fh.read())
    print(f"file: {path}  ({n:,} lines, {size / 1e6:.1f} MB uncompressed; rows out {rows[0]:,})")
    print(f"{'stage':<24}{'seconds':>9}{'msgs/s':>13}{'rows/s':>13}{'x decode':>10}")
    base = min(t_gen, t_typ)
    for name, t in [
        ("decode (generic)", t_gen),
        ("decode (typed)", t_typ),
        ("import (no write)", t_imp),
        ("import (end to end)", t_e2e),
    ]:
        rps = f"{rows[0] / t:,.0f}" if name.startswith("import") else "-"
        print(f"{name:<24}{t:>9.3f}{n / t:>13,.0f}{rps:>13}{t / base:>10.2f}")
    print(
        f"importer / generic decode: {t_imp / t_gen:.2f}x, / typed decode: {t_imp / t_typ:.2f}x"
        f" (target <= 3x); end to end incl. gunzip + Parquet: {t_e2e / t_gen:.2f}x generic"
    )
    print(
        "note: 'typed' keeps price-level lists as raw JSON (the importer parses them in bulk"
        " later), so it does less work than the generic decode"
    )


if __name__ == "__main__":
    main()
