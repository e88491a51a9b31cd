"""Input checks shared by the signal estimators (private)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hftlab.errors import ConfigError, DataError


def as_float_array(name: str, values: Any) -> np.ndarray:
    """``values`` as a contiguous 1-D float64 array; :class:`DataError` naming ``name`` if not."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D array, got shape {arr.shape}")
    return arr


def as_int_array(name: str, values: Any) -> np.ndarray:
    """``values`` as a contiguous 1-D int64 array (timestamps in ns)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"{name} must hold integers (ns since the epoch), got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def same_length(**arrays: np.ndarray) -> int:
    """The common length of ``arrays``; :class:`DataError` listing the lengths if they differ."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise DataError(f"input arrays differ in length ({listed})")
    return next(iter(lengths.values()), 0)


def check_sorted(name: str, ts: np.ndarray) -> None:
    """:class:`DataError` naming the first row where ``ts`` goes back in time."""
    if ts.size > 1:
        back = np.flatnonzero(np.diff(ts) < 0)
        if back.size:
            row = int(back[0]) + 1
            raise DataError(
                f"{name} goes back in time at row {row} ({int(ts[row])} after {int(ts[row - 1])})",
                hint="sort the events by time first",
            )


def check_finite(name: str, arr: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise DataError(f"{name} is not finite at row {int(bad[0])} ({arr[bad[0]]!r})")


def positive(name: str, value: float) -> float:
    """``value`` as a float if it is finite and > 0, else :class:`ConfigError`."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return v


def positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
