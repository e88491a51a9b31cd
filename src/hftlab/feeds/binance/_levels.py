"""Bulk parsing of Binance depth level lists (``[["price","qty"], ...]`` kept as raw JSON)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from operator import methodcaller
from typing import Final

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from hftlab.errors import DataError

Level = tuple[float, float]
#: (path, row) of a batch's i-th message, for error messages.
Locate = Callable[[int], tuple[str | None, int | None]]

_LEVELS_DECODER: Final = msgspec.json.Decoder(list[Level], strict=False)
_LEVEL_TRANS: Final = bytes.maketrans(b",", b"\n")
_LEVEL_DELETE: Final = b'[]" \t\r'
_CSV_READ: Final = pacsv.ReadOptions(column_names=["v"])
_CSV_CONVERT: Final = pacsv.ConvertOptions(
    column_types={"v": pa.float64()}, strings_can_be_null=False
)


def parse_levels(
    raws: Sequence[msgspec.Raw], locate: Locate
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bid and ask level counts per message and all levels as an (n, 2) float array.

    ``raws`` alternates each message's bid and ask lists. They are stripped to one number per
    line and parsed by Arrow's CSV reader in one go, which avoids creating a Python tuple and
    two floats per level (the bulk of the cost for deep diffs and snapshots). Anything that
    does not parse cleanly is located by decoding message by message, for a
    :class:`~hftlab.errors.DataError` naming the message (``locate(i)``).
    """
    n = len(raws) // 2
    parts = list(map(bytes, raws))
    # Every level opens one '[' inside the list's own bracket.
    counts = np.fromiter(map(methodcaller("count", b"["), parts), np.int64, 2 * n) - 1
    nb = counts[0::2].copy()
    na = counts[1::2].copy()
    total = int(nb.sum() + na.sum())
    if total == 0:
        return nb, na, np.zeros((0, 2), dtype=np.float64)
    blob = b",".join(parts).translate(_LEVEL_TRANS, _LEVEL_DELETE)
    try:
        col = pacsv.read_csv(
            pa.py_buffer(blob), read_options=_CSV_READ, convert_options=_CSV_CONVERT
        ).column(0)
        ok = col.null_count == 0 and len(col) == 2 * total
        values = col.to_numpy() if ok else None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        values = None
    if values is not None and np.all(np.isfinite(values)) and not np.any(values < 0):
        return nb, na, values.reshape(-1, 2)
    # Slow path: find the culprit message.
    out: list[Level] = []
    for i in range(n):
        for raw in parts[2 * i : 2 * i + 2]:
            try:
                lv = _LEVELS_DECODER.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                path, row = locate(i)
                raise DataError(f"malformed price levels: {exc}", path=path, row=row) from None
            for p, q in lv:
                if not (math.isfinite(p) and math.isfinite(q)) or p < 0 or q < 0:
                    path, row = locate(i)
                    raise DataError(f"invalid price level [{p!r}, {q!r}]", path=path, row=row)
            out += lv
    arr = np.asarray(out, dtype=np.float64).reshape(-1, 2)
    if arr.shape[0] != total:
        # The bracket count was fooled (e.g. '[' inside a string): trust the decoder.
        nb = np.fromiter((len(_LEVELS_DECODER.decode(p)) for p in parts[0::2]), np.int64, n)
        na = np.fromiter((len(_LEVELS_DECODER.decode(p)) for p in parts[1::2]), np.int64, n)
    return nb, na, arr
