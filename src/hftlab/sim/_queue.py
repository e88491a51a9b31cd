"""Compiled queue models: where our resting orders stand in the queue, and L1 fills.

Every model lives here, selected by ``ctl[C_QMODEL]`` (the ``QM_*`` codes of
:mod:`hftlab.sim._layout`; ``SimConfig.queue_model`` names them):

* :func:`queue_on_depth` is the one update of the volume ahead of us (``Q_FRONT``) when our
  level changes size: ``risk_averse`` (and ``l1``) only shrink it to fit the level;
  ``prob_power`` / ``prob_log`` split the decrease not explained by trades between ahead and
  behind with the probability function :func:`_qf`. The exchange side calls it through
  :func:`_queue_at_level` (every order of ours at one level) or per order for a BBO-built book.
* :func:`_l1_fills` is the ``l1`` model for quote-only data: fills by an intensity that decays
  with the distance from the touch, evaluated at every exchange row of the instrument.

Common to all models, in :mod:`hftlab.sim._exchange`: a trade at our price first consumes the
volume ahead of us, a trade through our price or a book reaching it fills us completely; at
acceptance (:mod:`hftlab.sim._matching`) everyone displayed at our price is ahead of us.
See ``docs/sim-core.md`` for the models' definitions.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftlab.book._core import book_best_ask, book_best_bid
from hftlab.sim._latency import rng_uniform
from hftlab.sim._layout import (
    C_NSLOT,
    C_QMODEL,
    CF_L1_A,
    CF_L1_K,
    CF_QPOW,
    O_ACTIVE,
    O_INST,
    O_L1T,
    O_PRICE,
    O_SIDE,
    Q_CUMTRADE,
    Q_FRONT,
    QM_L1,
    QM_PROB_LOG,
    QM_RISK_AVERSE,
)
from hftlab.sim._matching import _fill_rest


@njit(cache=True)
def _qf(model: int, pw: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if model == QM_PROB_LOG:
        return np.log1p(x)
    return x**pw


@njit(cache=True)
def queue_on_depth(
    model: int, pw: float, front: float, cum_trade: float, old: int, new: int
) -> float:
    """New front-of-queue estimate after our level went from ``old`` to ``new`` lots.

    Risk-averse: the queue ahead only shrinks to fit the level. Probabilistic: the decrease not
    explained by trades is split, ``P(behind) = f(back) / (f(back) + f(front))``, as in
    hftbacktest's ``ProbQueueModel``.
    """
    if model in (QM_RISK_AVERSE, QM_L1):
        return min(front, float(new))
    chg = float(old - new) - cum_trade
    if chg < 0.0:
        return min(front, float(new))
    back = float(old) - front
    fb = _qf(model, pw, back)
    ff = _qf(model, pw, front)
    prob = fb / (fb + ff) if fb + ff > 0.0 else 1.0
    est = front - (1.0 - prob) * chg + min(back - prob * chg, 0.0)
    est = min(est, float(new))
    return max(est, 0.0)


@njit(cache=True, inline="always")
def _queue_at_level(
    inst: int,
    side: int,
    price: int,
    old: int,
    new: int,
    ords: np.ndarray,
    oqf: np.ndarray,
    cfg: np.ndarray,
    ctl: np.ndarray,
) -> None:
    """Our orders resting at ``price`` on ``side``: the level went from ``old`` to ``new`` lots."""
    for s in range(ctl[C_NSLOT]):
        if (
            ords[s, O_ACTIVE] == 1
            and ords[s, O_INST] == inst
            and ords[s, O_SIDE] == side
            and ords[s, O_PRICE] == price
        ):
            oqf[s, Q_FRONT] = queue_on_depth(
                ctl[C_QMODEL], cfg[CF_QPOW], oqf[s, Q_FRONT], oqf[s, Q_CUMTRADE], old, new
            )
            oqf[s, Q_CUMTRADE] = 0.0


@njit(cache=True)
def _l1_fills(
    t: int,
    inst: int,
    bk: np.ndarray,
    ords: np.ndarray,
    acci: np.ndarray,
    accf: np.ndarray,
    ip: np.ndarray,
    cfg: np.ndarray,
    resps: np.ndarray,
    respf: np.ndarray,
    lat_r: np.ndarray,
    rng: np.ndarray,
    ctl: np.ndarray,
) -> None:
    """Quote-only data: fill each resting order with probability ``1 - exp(-λ(δ) dt)``,
    ``λ(δ) = A e^(-kδ)``, δ ticks behind the touch of its own side (negative inside)."""
    a = cfg[CF_L1_A]
    kk = cfg[CF_L1_K]
    bid_p, bid_q = book_best_bid(bk)
    ask_p, ask_q = book_best_ask(bk)
    for s in range(ctl[C_NSLOT]):
        if ords[s, O_ACTIVE] == 0 or ords[s, O_INST] != inst:
            continue
        dt = t - ords[s, O_L1T]
        ords[s, O_L1T] = t
        if dt <= 0:
            continue
        if ords[s, O_SIDE] > 0:
            if bid_q == 0:
                continue
            delta = float(bid_p - ords[s, O_PRICE])
        else:
            if ask_q == 0:
                continue
            delta = float(ords[s, O_PRICE] - ask_p)
        lam = a * np.exp(-kk * delta)
        p = 1.0 - np.exp(-lam * dt * 1e-9)
        if rng_uniform(rng) < p:
            _fill_rest(t, ords, s, acci, accf, ip, resps, respf, lat_r, rng, ctl)
