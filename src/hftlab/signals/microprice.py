"""The micro-price of Stoikov (2018), fitted from L1 quotes.

S. Stoikov, "The micro-price: a high-frequency estimator of future prices", Quantitative
Finance 18(12), 2018 (SSRN 2970694).

Model
-----
The state is ``X = (I, S)``: the L1 imbalance ``I = Q_b / (Q_b + Q_a)`` cut into ``n``
buckets and the spread ``S`` in ticks, ``1..m`` (the last spread row also takes wider spreads).
The micro-price is the limit of expected mids at the successive times ``τ_1 < τ_2 < …`` the mid
changes::

    P_micro = lim_i E[M_{τ_i} | X_t] = M_t + g*(I_t, S_t)

Fitted from transitions ``x -> x'`` of the sampled quote sequence (paper §3):

* ``Q[x, x']`` probability of moving to ``x'`` *without* a mid change,
* ``R1[x, k]`` probability of a mid change of ``k`` ticks, ``K`` the vector of the changes,
* ``R2[x, x']`` probability of a mid change that lands in ``x'``.

Then, for the first mid change and for the chain of states seen just after each change::

    G1 = (1 - Q)^-1 R1 K                 expected mid change at τ_1 (in ticks)
    B  = (1 - Q)^-1 R2                   state just after τ_1
    g* = G1 + B G1 + B^2 G1 + …          (paper, Theorem 3.1; summed until a term < tol)

``R1 K`` is computed directly as the mean signed mid change per transition, so moves of any
size are used (the paper keeps only ``|ΔM| <= 1`` tick; set ``max_move_ticks=1`` to do the same).
The data are **symmetrised** (paper §3.2): every transition ``(I, S, ΔM) -> (I', S')`` is also
counted mirrored as ``(1-I, S, -ΔM) -> (1-I', S')``. With symmetric data ``B* G1 = 0``, which
makes the series converge, and the table is exactly antisymmetric:
``g*(bucket b, s) = -g*(bucket n-1-b, s)``.

Sampling
--------
``sample_interval_ns=None`` (default, as in the paper's code with ``dt = 1``): one sample per
*change* of the L1 quote (rows identical to the previous one are dropped), so each transition is
from one quote state to the next. Self-transitions do not change ``G1`` or ``B`` (the chain is
absorbed at the next mid change whatever the waiting), so event time loses nothing and avoids
choosing a clock. ``sample_interval_ns=Δ`` samples the quote prevailing just before each
multiple of ``Δ`` instead. Rows with a crossed or locked quote, a non-finite value or no size
are not states: transitions into or out of them are skipped.

Units: the fit takes prices in any unit with their ``tick_size`` (1.0 when prices are already
integer ticks, as in :data:`hftlab.events.EVENT_DTYPE`); tables are in **ticks**.
"""

from __future__ import annotations

import bisect
import logging
import math
from pathlib import Path
from typing import Any, Literal, NamedTuple

import msgspec
import numpy as np
from numba import njit

from hftlab.errors import ConfigError, DataError
from hftlab.signals._checks import (
    as_float_array,
    as_int_array,
    check_sorted,
    positive,
    positive_int,
    same_length,
)

log = logging.getLogger(__name__)

FORMAT: str = "hftlab.microprice/1"


class MicropriceModel(msgspec.Struct, frozen=True, kw_only=True):
    """A fitted micro-price: the adjustment table ``g*(I, S)`` in ticks, plus how it was fitted.

    Serialisable with :meth:`to_json` / :meth:`from_json` (msgspec JSON) so a strategy can load
    a model fitted offline. ``micro = mid + g*(I, S) * tick_size``.

    Attributes
    ----------
    n_imbalance, n_spread
        Buckets of imbalance (``n``) and spread rows (``m``; spreads ``>= m`` use row ``m``).
    tick_size
        Price units per tick of the prices the model takes (1.0 for prices in ticks).
    edges
        ``n + 1`` imbalance bucket edges, ``0 … 1``; bucket ``b`` is ``edges[b] <= I <
        edges[b+1]`` (the last bucket includes 1).
    g, g1
        ``[spread - 1][bucket]`` tables, in ticks: the micro-price adjustment ``g*`` and the
        expected change at the next mid move ``G1``.
    counts
        Transitions observed from each state (after symmetrisation), same layout.
    n_samples, n_transitions, n_moves
        Sampled quotes used, transitions counted (before mirroring), transitions with a move.
    iterations, converged
        Terms summed for ``g*`` and whether the last one fell below the tolerance.
    sample_interval_ns
        ``None`` for event-time sampling, else the clock step.
    max_move_ticks
        Transitions with a larger mid change were dropped (``None``: all kept).
    """

    n_imbalance: int
    n_spread: int
    tick_size: float
    edges: list[float]
    g: list[list[float]]
    g1: list[list[float]]
    counts: list[list[int]]
    n_samples: int
    n_transitions: int
    n_moves: int
    iterations: int
    converged: bool
    sample_interval_ns: int | None = None
    max_move_ticks: float | None = None
    format: str = FORMAT

    def __post_init__(self) -> None:
        n, m = self.n_imbalance, self.n_spread
        if len(self.edges) != n + 1 or len(self.g) != m or any(len(row) != n for row in self.g):
            raise DataError(f"micro-price model tables do not match n_imbalance={n}, n_spread={m}")

    # ------------------------------------------------------------------ online
    def bucket(self, imbalance: float) -> int:
        """Imbalance bucket of ``imbalance`` (``0 … n-1``)."""
        return bisect.bisect_right(self.edges, imbalance, 1, self.n_imbalance) - 1

    def adjustment(self, imbalance: float, spread_ticks: int) -> float:
        """``g*(I, S)`` in ticks; spreads above ``n_spread`` use the last row, below 1 give 0."""
        if spread_ticks < 1 or imbalance != imbalance:  # NaN imbalance: no information
            return 0.0
        row = self.g[min(spread_ticks, self.n_spread) - 1]
        return row[bisect.bisect_right(self.edges, imbalance, 1, self.n_imbalance) - 1]

    def micro_price(self, bid: float, ask: float, bid_qty: float, ask_qty: float) -> float:
        """Micro-price ``mid + g*`` of one quote, in the unit of ``bid``/``ask``; O(1).

        A crossed/locked quote or one with no size gives the plain mid.
        """
        return self._lookup(self.g, bid, ask, bid_qty, ask_qty)

    def next_mid(self, bid: float, ask: float, bid_qty: float, ask_qty: float) -> float:
        """Expected mid after the next mid change, ``mid + G1`` (the one-step estimator)."""
        return self._lookup(self.g1, bid, ask, bid_qty, ask_qty)

    def _lookup(
        self, table: list[list[float]], bid: float, ask: float, bid_qty: float, ask_qty: float
    ) -> float:
        m = (bid + ask) * 0.5
        total = bid_qty + ask_qty
        tick = self.tick_size
        spread = int((ask - bid) / tick + 0.5)  # rounds; crossed quotes give <= 0
        if total <= 0.0 or spread < 1:
            return m
        row = table[min(spread, self.n_spread) - 1]
        b = bisect.bisect_right(self.edges, bid_qty / total, 1, self.n_imbalance) - 1
        return m + row[b] * tick

    # ----------------------------------------------------------------- offline
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(inner_edges, g)`` as float64 arrays for :func:`microprice_nb` (compiled code)."""
        return (
            np.asarray(self.edges[1:-1], dtype=np.float64),
            np.asarray(self.g, dtype=np.float64).reshape(self.n_spread, self.n_imbalance),
        )

    def apply(self, bid: Any, ask: Any, bid_qty: Any, ask_qty: Any, *, table: str = "g") -> Any:
        """Vectorised micro-price of many quotes (same rules as :meth:`micro_price`).

        ``table="g1"`` uses the one-step table ``G1`` instead of ``g*``.
        """
        b = np.asarray(bid, dtype=np.float64)
        a = np.asarray(ask, dtype=np.float64)
        bq = np.asarray(bid_qty, dtype=np.float64)
        aq = np.asarray(ask_qty, dtype=np.float64)
        adj = self._adjustments(b, a, bq, aq, table)
        return (b + a) * 0.5 + adj * self.tick_size

    def _adjustments(
        self, b: np.ndarray, a: np.ndarray, bq: np.ndarray, aq: np.ndarray, table: str
    ) -> np.ndarray:
        if table not in ("g", "g1"):
            raise ConfigError(f"table must be 'g' or 'g1', got {table!r}")
        tab = np.asarray(self.g if table == "g" else self.g1, dtype=np.float64)
        spread = np.rint((a - b) / self.tick_size)
        total = bq + aq
        ok = (total > 0.0) & (spread >= 1) & np.isfinite(spread)
        with np.errstate(invalid="ignore", divide="ignore"):
            imb = np.where(ok, bq / np.where(ok, total, 1.0), 0.5)
        buckets = np.searchsorted(np.asarray(self.edges[1:-1]), imb, side="right")
        rows = np.clip(np.where(ok, spread, 1), 1, self.n_spread).astype(np.int64) - 1
        return np.where(ok, tab[rows, buckets], 0.0)

    # ----------------------------------------------------------- persistence
    def with_tick_size(self, tick_size: float) -> MicropriceModel:
        """The same table for prices in another unit (``1.0``: prices in integer ticks)."""
        return msgspec.structs.replace(self, tick_size=positive("tick_size", tick_size))

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> MicropriceModel:
        try:
            model = msgspec.json.decode(raw, type=cls)
        except msgspec.ValidationError as exc:
            raise DataError(f"invalid micro-price model: {exc}") from exc
        if model.format != FORMAT:
            raise DataError(f"micro-price model format {model.format!r}, expected {FORMAT!r}")
        return model

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> MicropriceModel:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read micro-price model: {exc}", path=path) from exc
        try:
            return cls.from_json(raw)
        except DataError as exc:
            raise DataError(exc.problem, path=path) from exc


@njit(cache=True)
def microprice_nb(
    inner_edges: np.ndarray,
    g: np.ndarray,
    tick_size: float,
    bid: float,
    ask: float,
    bid_qty: float,
    ask_qty: float,
) -> float:
    """Compiled micro-price of one quote.

    ``(inner_edges, g)`` come from :meth:`MicropriceModel.arrays`; same rules as
    :meth:`MicropriceModel.micro_price`.
    """
    m = 0.5 * (bid + ask)
    total = bid_qty + ask_qty
    spread = int(np.rint((ask - bid) / tick_size))
    if total <= 0.0 or spread < 1:
        return m
    b = np.searchsorted(inner_edges, bid_qty / total, side="right")
    return m + g[min(spread, g.shape[0]) - 1, b] * tick_size


# ------------------------------------------------------------------- fitting
class _Samples(NamedTuple):
    """The sampled quote sequence: imbalance, spread (ticks), twice the mid (ticks), validity."""

    imb: np.ndarray
    spread: np.ndarray
    mid2: np.ndarray
    valid: np.ndarray


def _sample(
    ts: Any,
    bid: Any,
    ask: Any,
    bid_qty: Any,
    ask_qty: Any,
    tick_size: float,
    sample_interval_ns: int | None,
) -> _Samples:
    t = as_int_array("ts", ts)
    b = as_float_array("bid", bid)
    a = as_float_array("ask", ask)
    bq = as_float_array("bid_qty", bid_qty)
    aq = as_float_array("ask_qty", ask_qty)
    same_length(ts=t, bid=b, ask=a, bid_qty=bq, ask_qty=aq)
    check_sorted("ts", t)
    if sample_interval_ns is None:
        # Event time: drop rows that repeat the previous quote exactly (no new information).
        keep = np.ones(len(t), dtype=bool)
        keep[1:] = (b[1:] != b[:-1]) | (a[1:] != a[:-1]) | (bq[1:] != bq[:-1]) | (aq[1:] != aq[:-1])
        idx = np.flatnonzero(keep)
    else:
        step = positive_int("sample_interval_ns", sample_interval_ns)
        if len(t) == 0:
            idx = np.zeros(0, np.int64)
        else:
            # Grid multiples of step after the first quote; the quote prevailing just before each.
            first = (int(t[0]) // step + 1) * step
            grid = np.arange(first, int(t[-1]) + 1, step, dtype=np.int64)
            idx = np.searchsorted(t, grid, side="left") - 1
    b, a, bq, aq = b[idx], a[idx], bq[idx], aq[idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        spread_f = np.rint((a - b) / tick_size)
        mid2_f = np.rint((a + b) / tick_size)
        total = bq + aq
        valid = (
            np.isfinite(spread_f)
            & np.isfinite(mid2_f)
            & (spread_f >= 1)
            & (bq >= 0)
            & (aq >= 0)
            & (total > 0)
        )
        imb = np.where(valid, bq / np.where(valid, total, 1.0), 0.5)
    spread = np.where(valid, spread_f, 1).astype(np.int64)
    mid2 = np.where(valid, mid2_f, 0).astype(np.int64)
    return _Samples(imb=imb, spread=spread, mid2=mid2, valid=valid)


def _edges(imb: np.ndarray, n: int, bucketing: str) -> np.ndarray:
    if bucketing == "uniform":
        return np.linspace(0.0, 1.0, n + 1)
    if bucketing != "quantile":
        raise ConfigError(f"bucketing must be 'uniform' or 'quantile', got {bucketing!r}")
    if imb.size == 0:
        raise DataError("no valid quotes to place quantile buckets")
    both = np.concatenate([imb, 1.0 - imb])
    q = np.quantile(both, np.arange(1, n) / n)
    # Average with the mirror so the edges are exactly symmetric about 1/2.
    inner = 0.5 * (q + (1.0 - q[::-1]))
    edges = np.concatenate([[0.0], inner, [1.0]])
    if np.any(np.diff(edges) <= 0):
        raise ConfigError(
            f"imbalance quantiles tie with n_imbalance={n}: "
            "use fewer buckets or bucketing='uniform'"
        )
    return edges


def fit_microprice(
    ts: Any,
    bid: Any,
    ask: Any,
    bid_qty: Any,
    ask_qty: Any,
    *,
    tick_size: float = 1.0,
    n_imbalance: int = 10,
    n_spread: int = 3,
    bucketing: Literal["uniform", "quantile"] = "uniform",
    sample_interval_ns: int | None = None,
    max_move_ticks: float | None = None,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> MicropriceModel:
    """Fit the Stoikov micro-price ``g*(I, S)`` from a series of L1 quotes.

    Parameters
    ----------
    ts
        Quote times, int64 ns, non-decreasing (used for clock sampling and order checks).
    bid, ask, bid_qty, ask_qty
        Best bid/ask prices and sizes, one row per quote update.
    tick_size
        Price units per tick (1.0 when prices are integer ticks).
    n_imbalance
        Imbalance buckets ``n`` (paper: 10). Bucket ``b`` covers ``[edges[b], edges[b+1])``.
    n_spread
        Spread rows ``m``: spreads of ``1 … m-1`` ticks each have a row, ``>= m`` share the last.
    bucketing
        ``"uniform"`` edges ``b/n``, or ``"quantile"`` edges at the quantiles of the symmetrised
        imbalance sample (like the paper's ``qcut``), which spends buckets where data are.
    sample_interval_ns
        ``None``: event-time sampling (each change of the quote). Else clock sampling.
    max_move_ticks
        Drop transitions whose mid change exceeds this (paper: 1 tick). ``None`` keeps all.
    tol, max_iter
        Stop summing ``B^k G1`` when its largest entry is below ``tol`` ticks.

    Returns
    -------
    MicropriceModel

    Raises
    ------
    DataError
        Inputs of unequal length, out of time order, or with no usable transition.
    ConfigError
        Invalid parameters.
    """
    n = positive_int("n_imbalance", n_imbalance)
    m = positive_int("n_spread", n_spread)
    tick = positive("tick_size", tick_size)
    if max_move_ticks is not None:
        positive("max_move_ticks", max_move_ticks)
    positive("tol", tol)
    positive_int("max_iter", max_iter)
    s = _sample(ts, bid, ask, bid_qty, ask_qty, tick, sample_interval_ns)
    edges = _edges(s.imb[s.valid], n, bucketing)
    big = n * m

    bucket = np.searchsorted(edges[1:-1], s.imb, side="right")
    state = (np.clip(s.spread, 1, m) - 1) * n + bucket
    pair = s.valid[:-1] & s.valid[1:]
    dm2 = np.diff(s.mid2)  # mid change in half ticks
    if max_move_ticks is not None:
        pair &= np.abs(dm2) <= 2.0 * max_move_ticks + 1e-9
    x0 = state[:-1][pair]
    x1 = state[1:][pair]
    dm = dm2[pair] * 0.5
    if x0.size == 0:
        raise DataError(
            f"no usable quote transitions among {len(s.valid)} sampled quotes",
            hint="need consecutive quotes with bid < ask and positive size",
        )
    moved = dm != 0

    # Mirror map: bucket b -> n-1-b at the same spread (an involution on states).
    states = np.arange(big)
    mirror = (states // n) * n + (n - 1 - states % n)

    def sym(counts2d: np.ndarray) -> np.ndarray:
        return counts2d + counts2d[np.ix_(mirror, mirror)]

    flat = x0 * big + x1
    q_counts = sym(np.bincount(flat[~moved], minlength=big * big).reshape(big, big))
    r2_counts = sym(np.bincount(flat[moved], minlength=big * big).reshape(big, big))
    dm_sum = np.bincount(x0, weights=dm, minlength=big)
    dm_sum = dm_sum - dm_sum[mirror]  # the mirrored transition moves the other way
    total = q_counts.sum(axis=1) + r2_counts.sum(axis=1)

    with np.errstate(invalid="ignore", divide="ignore"):
        inv_total = np.where(total > 0, 1.0 / np.maximum(total, 1), 0.0)
    q = q_counts * inv_total[:, None]
    r2 = r2_counts * inv_total[:, None]
    r1k = dm_sum * inv_total  # R1 K: mean mid change per transition out of x

    g1, b_mat = _solve_absorbing(q, r1k, r2, r2_counts.sum(axis=1) > 0)

    g_star = g1.copy()
    term = g1
    converged = not np.any(np.abs(g1) >= tol)
    iterations = 0
    while not converged and iterations < max_iter:
        term = b_mat @ term
        g_star += term
        iterations += 1
        converged = not np.any(np.abs(term) >= tol)
    if not converged:
        log.warning(
            "micro-price series did not converge in %d terms (last term %.3g ticks)",
            max_iter,
            float(np.max(np.abs(term))),
        )
    # Exact antisymmetry (the fitted table is antisymmetric up to rounding).
    g_star = 0.5 * (g_star - g_star[mirror])
    g1 = 0.5 * (g1 - g1[mirror])

    shape = (m, n)
    return MicropriceModel(
        n_imbalance=n,
        n_spread=m,
        tick_size=tick,
        edges=[float(e) for e in edges],
        g=g_star.reshape(shape).tolist(),
        g1=g1.reshape(shape).tolist(),
        counts=total.reshape(shape).astype(np.int64).tolist(),
        n_samples=int(s.valid.sum()),
        n_transitions=int(x0.size),
        n_moves=int(moved.sum()),
        iterations=iterations,
        converged=bool(converged),
        sample_interval_ns=sample_interval_ns,
        max_move_ticks=max_move_ticks,
    )


def _solve_absorbing(
    q: np.ndarray, r1k: np.ndarray, r2: np.ndarray, has_move: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``G1 = (1-Q)^-1 R1K`` and ``B = (1-Q)^-1 R2`` over the states that can reach a move.

    States from which no mid change was ever reached (unvisited, or a closed set under ``Q``)
    make ``1 - Q`` singular; they carry no information, so they get ``G1 = 0`` and ``B = 0``.
    """
    big = len(q)
    reach = has_move.copy()
    support = q > 0
    while True:  # backward reachability to a state with a move, at most `big` rounds
        grown = reach | (support & reach[None, :]).any(axis=1)
        if np.array_equal(grown, reach):
            break
        reach = grown
    idx = np.flatnonzero(reach)
    g1 = np.zeros(big)
    b_mat = np.zeros((big, big))
    if idx.size:
        a = np.eye(idx.size) - q[np.ix_(idx, idx)]
        rhs = np.column_stack([r1k[idx], r2[idx][:, idx]])
        sol = np.linalg.solve(a, rhs)
        g1[idx] = sol[:, 0]
        b_mat[np.ix_(idx, idx)] = sol[:, 1:]
    return g1, b_mat


# ---------------------------------------------------------------- evaluation
class MicropriceEvaluation(msgspec.Struct, frozen=True, kw_only=True):
    """Out-of-sample errors predicting the mid after the ``horizon``-th next mid change, ticks².

    ``mse_x = mean((M_{τ_h} - estimator_x)^2)`` over the ``points`` sampled quotes that have
    ``h`` later mid changes; ``reduction = 1 - mse_micro / mse_mid`` (``> 0``: the micro-price
    beats the mid) and ``reduction_g1`` the same for ``mid + G1``.
    """

    horizon: int
    points: int
    mse_mid: float
    mse_weighted_mid: float
    mse_micro: float
    mse_g1: float
    reduction: float
    reduction_g1: float


def evaluate_microprice(
    model: MicropriceModel,
    ts: Any,
    bid: Any,
    ask: Any,
    bid_qty: Any,
    ask_qty: Any,
    *,
    horizon: int = 1,
) -> MicropriceEvaluation:
    """Score ``model`` on quotes it was not fitted on: how well each estimator predicts ``M_τh``.

    The quotes are sampled as in the fit (:attr:`MicropriceModel.sample_interval_ns`); for each
    valid sample the target is the mid after the ``horizon``-th later change of the mid
    (``horizon=1``: the next mid move, ``M_{τ_1}``, the quantity ``G1`` estimates; ``g*`` is the
    limit for large horizons). Estimators: the mid (error = the mid change), the weighted mid,
    ``mid + g*`` and ``mid + G1``. All errors are in ticks.
    """
    horizon = positive_int("horizon", horizon)
    s = _sample(ts, bid, ask, bid_qty, ask_qty, model.tick_size, model.sample_interval_ns)
    imb, spread, mid2 = s.imb[s.valid], s.spread[s.valid], s.mid2[s.valid]
    change = np.flatnonzero(np.diff(mid2) != 0) + 1
    nxt = np.searchsorted(change, np.arange(len(mid2)), side="right") + (horizon - 1)
    has = nxt < len(change)
    if not np.any(has):
        raise DataError(f"fewer than {horizon} mid change(s) in the evaluation quotes")
    rows = np.flatnonzero(has)
    target = (mid2[change[nxt[rows]]] - mid2[rows]) * 0.5  # M_τ1 - M_t, ticks
    imb, spread = imb[rows], spread[rows]
    buckets = np.searchsorted(np.asarray(model.edges[1:-1]), imb, side="right")
    srow = np.clip(spread, 1, model.n_spread) - 1
    g = np.asarray(model.g)[srow, buckets]
    g1 = np.asarray(model.g1)[srow, buckets]
    wmid = (imb - 0.5) * spread  # weighted mid - mid, ticks
    mse_mid = float(np.mean(target**2))
    mse_micro = float(np.mean((target - g) ** 2))
    mse_g1 = float(np.mean((target - g1) ** 2))
    return MicropriceEvaluation(
        horizon=horizon,
        points=int(rows.size),
        mse_mid=mse_mid,
        mse_weighted_mid=float(np.mean((target - wmid) ** 2)),
        mse_micro=mse_micro,
        mse_g1=mse_g1,
        reduction=1.0 - mse_micro / mse_mid if mse_mid > 0 else math.nan,
        reduction_g1=1.0 - mse_g1 / mse_mid if mse_mid > 0 else math.nan,
    )
