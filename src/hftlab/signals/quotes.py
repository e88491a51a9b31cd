"""Fair-value signals from the top of the book: mid, weighted mid, order-book imbalance.

Every function takes scalars (the online path: plain Python arithmetic, well under a
microsecond) or numpy arrays (the offline path: vectorised, one value per row). Prices may be in
ticks or in price units, quantities in lots or base units; the formulas do not care as long as
both sides use the same unit.

Formulas (Stoikov 2018, §2)::

    mid          M = (P_b + P_a) / 2
    imbalance    I = Q_b / (Q_b + Q_a)                      in [0, 1]; 1/2 = balanced
    weighted mid W = I * P_a + (1 - I) * P_b = M + (I - 1/2) * (P_a - P_b)

The weighted mid leans towards the ask when the bid queue is larger (the ask is then more
likely to be consumed first). Top-``N`` imbalance sums the first ``N`` levels of each side.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
from numba import njit

from hftlab.book import book_depth
from hftlab.errors import ConfigError, DataError

_SCALAR = (int, float, np.integer, np.floating)


@overload
def mid(bid: float, ask: float) -> float: ...
@overload
def mid(bid: np.ndarray, ask: np.ndarray) -> np.ndarray: ...
def mid(bid: Any, ask: Any) -> Any:
    """Mid price ``(bid + ask) / 2``.

    Parameters
    ----------
    bid, ask
        Best bid and ask, scalars or arrays of equal shape.

    Returns
    -------
    float or numpy.ndarray
        The mid, in the unit of the inputs.

    Examples
    --------
    >>> mid(100.0, 101.0)
    100.5
    """
    if isinstance(bid, _SCALAR) and isinstance(ask, _SCALAR):
        return (float(bid) + float(ask)) * 0.5
    return (np.asarray(bid, dtype=np.float64) + np.asarray(ask, dtype=np.float64)) * 0.5


@overload
def imbalance(bid_qty: float, ask_qty: float) -> float: ...
@overload
def imbalance(bid_qty: np.ndarray, ask_qty: np.ndarray) -> np.ndarray: ...
def imbalance(bid_qty: Any, ask_qty: Any) -> Any:
    """L1 order-book imbalance ``I = Q_b / (Q_b + Q_a)`` (Stoikov 2018, eq. 2).

    Parameters
    ----------
    bid_qty, ask_qty
        Sizes at the best bid and ask (any common unit), scalars or arrays.

    Returns
    -------
    float or numpy.ndarray
        ``I`` in ``[0, 1]``; NaN where both sizes are zero (no information, not "balanced").

    Examples
    --------
    >>> imbalance(3.0, 1.0)   # 3 / (3 + 1)
    0.75
    """
    if isinstance(bid_qty, _SCALAR) and isinstance(ask_qty, _SCALAR):
        total = float(bid_qty) + float(ask_qty)
        return float(bid_qty) / total if total > 0.0 else float("nan")
    b = np.asarray(bid_qty, dtype=np.float64)
    a = np.asarray(ask_qty, dtype=np.float64)
    total = b + a
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0.0, b / total, np.nan)


@overload
def weighted_mid(bid: float, ask: float, bid_qty: float, ask_qty: float) -> float: ...
@overload
def weighted_mid(
    bid: np.ndarray, ask: np.ndarray, bid_qty: np.ndarray, ask_qty: np.ndarray
) -> np.ndarray: ...
def weighted_mid(bid: Any, ask: Any, bid_qty: Any, ask_qty: Any) -> Any:
    """Imbalance-weighted mid ``W = I * ask + (1 - I) * bid`` (Stoikov 2018, eq. 3).

    This is the "simple" micro-price: the size-weighted average of the two quotes, each weighted
    by the *opposite* side's size. Where both sizes are zero it falls back to the mid.

    Examples
    --------
    >>> weighted_mid(100.0, 101.0, 3.0, 1.0)   # 0.75 * 101 + 0.25 * 100
    100.75
    """
    if all(isinstance(v, _SCALAR) for v in (bid, ask, bid_qty, ask_qty)):
        total = float(bid_qty) + float(ask_qty)
        if total <= 0.0:
            return (float(bid) + float(ask)) * 0.5
        i = float(bid_qty) / total
        return i * float(ask) + (1.0 - i) * float(bid)
    b = np.asarray(bid, dtype=np.float64)
    a = np.asarray(ask, dtype=np.float64)
    i = imbalance(bid_qty, ask_qty)
    return np.where(np.isnan(i), (a + b) * 0.5, i * a + (1.0 - i) * b)


def depth_imbalance(
    bid_qtys: Any, ask_qtys: Any, levels: int | None = None, weights: Any = None
) -> Any:
    """Top-``N`` depth imbalance ``I_N = ΣB / (ΣB + ΣA)`` over the best ``N`` levels.

    ``I_N = Σ_{l<N} w_l B_l / Σ_{l<N} w_l (B_l + A_l)``, with ``w_l = 1`` unless ``weights``
    are given (e.g. ``0.5 ** l`` to make the touch count most).

    Parameters
    ----------
    bid_qtys, ask_qtys
        Sizes by level, best first: 1-D (one book, levels) or 2-D (rows, levels).
    levels
        ``N``; default all columns. Levels beyond what is given count as empty.
    weights
        Optional per-level weights, length at least ``N``.

    Returns
    -------
    float or numpy.ndarray
        ``I_N`` per row (a float for 1-D input); NaN where the summed depth is zero.

    Examples
    --------
    >>> depth_imbalance([1.0, 2.0, 9.0], [3.0, 1.0, 0.0], levels=2)   # 3 / (3 + 4)
    0.42857142857142855
    """
    b = np.asarray(bid_qtys, dtype=np.float64)
    a = np.asarray(ask_qtys, dtype=np.float64)
    if b.ndim not in (1, 2) or a.ndim != b.ndim or (b.ndim == 2 and len(a) != len(b)):
        raise DataError(
            f"bid_qtys and ask_qtys must both be 1-D or 2-D with equal rows, "
            f"got shapes {b.shape} and {a.shape}"
        )
    n = max(b.shape[-1], a.shape[-1]) if levels is None else levels
    if not isinstance(n, int | np.integer) or n <= 0:
        raise ConfigError(f"levels must be a positive integer, got {levels!r}")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)[:n]
    if len(w) < n:
        raise ConfigError(f"weights has {len(w)} entries, fewer than levels={n}")
    # Only the first n levels; levels not given are empty and add nothing.
    kb, ka = min(n, b.shape[-1]), min(n, a.shape[-1])
    sb = b[..., :kb] @ w[:kb]
    sa = a[..., :ka] @ w[:ka]
    total = sb + sa
    if b.ndim == 1:
        return float(sb / total) if total > 0.0 else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0.0, sb / total, np.nan)


@njit(cache=True)
def book_depth_imbalance(bk: np.ndarray, levels: int) -> float:
    """Top-``levels`` imbalance of an :mod:`hftlab.book` array (compiled; NaN if empty).

    Same formula as :func:`depth_imbalance` with unit weights, read straight from the book.
    """
    prices = np.empty(levels, np.int64)
    qtys = np.empty(levels, np.int64)
    nb = book_depth(bk, 1, prices, qtys)
    sb = 0.0
    for i in range(nb):
        sb += qtys[i]
    na = book_depth(bk, -1, prices, qtys)
    sa = 0.0
    for i in range(na):
        sa += qtys[i]
    if sb + sa <= 0.0:
        return np.nan
    return sb / (sb + sa)
