"""Compiled latency models and the core's own random numbers (see ``docs/sim-core.md``).

:func:`latency_at` gives the entry or response latency at a time (constant, a draw from
measured samples, or a series interpolated over time); :func:`rng_uniform` is the xorshift64*
generator behind every random draw of the core (latency samples, L1 fills), on its own state so
that a run is reproducible whatever else in the process uses numba's global generator.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftlab.sim._layout import LAT_CONSTANT, LAT_EMPIRICAL

_U64_MUL = np.uint64(0x2545F4914F6CDD1D)
_S12 = np.uint64(12)
_S25 = np.uint64(25)
_S27 = np.uint64(27)
_S11 = np.uint64(11)


# ===================================================================== random numbers
@njit(cache=True)
def rng_uniform(rng: np.ndarray) -> float:
    """Uniform [0, 1) from an xorshift64* state held in ``rng[0]`` (own state: reproducible
    whatever else in the process uses numba's global generator)."""
    x = rng[0]
    x ^= x >> _S12
    x ^= x << _S25
    x ^= x >> _S27
    rng[0] = x
    return float((x * _U64_MUL) >> _S11) * (1.0 / 9007199254740992.0)


# ===================================================================== latency
@njit(cache=True)
def latency_at(kind: int, table: np.ndarray, t: int, rng: np.ndarray) -> int:
    """Latency in ns at time ``t``: constant ``table[0,1]``; a uniform draw from the samples
    ``table[:,1]``; or ``table[:,1]`` linearly interpolated over times ``table[:,0]``
    (held constant outside the recorded span)."""
    if kind == LAT_CONSTANT:
        return int(table[0, 1])
    n = table.shape[0]
    if kind == LAT_EMPIRICAL:
        k = int(rng_uniform(rng) * n)
        if k >= n:
            k = n - 1
        return int(table[k, 1])
    tf = float(t)
    if tf <= table[0, 0]:
        return int(table[0, 1])
    if tf >= table[n - 1, 0]:
        return int(table[n - 1, 1])
    lo, hi = 0, n - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if table[mid, 0] <= tf:
            lo = mid
        else:
            hi = mid
    w = (tf - table[lo, 0]) / (table[hi, 0] - table[lo, 0])
    return int(table[lo, 1] + w * (table[hi, 1] - table[lo, 1]))
