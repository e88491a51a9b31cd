"""Compiled kernels of the store's read path (numba, cached, GIL released).

They run on the reader's prefetch threads, so they must not hold the GIL: ``nogil=True``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftlab.events import EVENT_DTYPE, GRID_TOLERANCE

#: An event row seen as 64-bit words: the dtype is 56 bytes with 8-byte alignment.
EVENT_WORDS = EVENT_DTYPE.itemsize // 8
assert EVENT_DTYPE.itemsize == EVENT_WORDS * 8


@njit(cache=True, nogil=True)
def to_steps_into(values: np.ndarray, scale: float, out: np.ndarray) -> int:
    """Write ``rint(values * scale)`` into ``out`` (may be a strided field view).

    Returns the index of the first value that is not on the grid (or not finite), else -1.
    Same rule as :func:`hftlab.events._to_steps`.
    """
    for i in range(values.shape[0]):
        x = values[i] * scale
        if not np.isfinite(x):
            return i
        r = np.rint(x)
        if abs(x - r) > GRID_TOLERANCE * max(1.0, abs(x) * 1e-9) or abs(r) > 4.6e18:
            return i
        out[i] = np.int64(r)
    return -1


@njit(cache=True, nogil=True)
def gather_rows(words: np.ndarray, order: np.ndarray, out: np.ndarray) -> None:
    """``out[j] = words[order[j]]`` for 2-D word views of event rows."""
    width = words.shape[1]
    for j in range(order.shape[0]):
        i = order[j]
        for c in range(width):
            out[j, c] = words[i, c]


def merge_event_parts(parts: list[np.ndarray]) -> np.ndarray:
    """Merge event arrays, each sorted by ``ts_local``, into one; ties keep part order.

    A stable argsort of the keys alone (timsort finds the sorted runs) and a compiled gather of
    whole rows: about 3x faster than sorting the structured rows themselves.
    """
    keys = np.concatenate([p["ts_local"] for p in parts])
    order = np.argsort(keys, kind="stable")
    words = np.concatenate(
        [np.ascontiguousarray(p).view(np.uint64).reshape(-1, EVENT_WORDS) for p in parts]
    )
    out = np.empty((len(keys), EVENT_WORDS), dtype=np.uint64)
    gather_rows(words, order, out)
    return out.view(EVENT_DTYPE).reshape(-1)
