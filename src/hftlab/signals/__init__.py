"""Signals for strategies: fair value, volatility, trade intensity.

Each signal has an **online** form (a plain function or small class, O(1) per update, cheap
enough to call on every strategy wake-up) and an **offline** form (vectorised over numpy arrays,
compiled loops where needed) that gives the same numbers on the same data.

=============================  ====================================  ==========================
signal                         online                                offline
=============================  ====================================  ==========================
mid, weighted mid, imbalance   :func:`mid`, :func:`weighted_mid`,    same functions on arrays
                               :func:`imbalance`,
                               :func:`depth_imbalance`,
                               :func:`book_depth_imbalance` (njit)
Stoikov micro-price            :meth:`MicropriceModel.micro_price`,  :func:`fit_microprice`,
                               :func:`microprice_nb` (njit)          :meth:`MicropriceModel.apply`,
                                                                     :func:`evaluate_microprice`
EWMA / volatility (time        :class:`Ewma`,                        :func:`ewma`,
half-life)                     :class:`EwmaVolatility`               :func:`ewma_volatility`,
                                                                     :func:`annualise`
trade intensity A e^(-kδ)      :class:`IntensityEstimator`           :func:`fit_intensity`,
                                                                     :func:`trade_depths`
=============================  ====================================  ==========================

See ``docs/signals.md`` for the formulas, parameters and measured figures.
"""

from hftlab.signals.intensity import (
    DEFAULT_DEPTHS,
    IntensityEstimator,
    IntensityFit,
    fit_intensity,
    trade_depths,
)
from hftlab.signals.microprice import (
    MicropriceEvaluation,
    MicropriceModel,
    evaluate_microprice,
    fit_microprice,
    microprice_nb,
)
from hftlab.signals.quotes import (
    book_depth_imbalance,
    depth_imbalance,
    imbalance,
    mid,
    weighted_mid,
)
from hftlab.signals.volatility import (
    DAYS_PER_YEAR_24_7,
    Ewma,
    EwmaVolatility,
    annualise,
    decay_rate,
    ewma,
    ewma_volatility,
)

__all__ = [
    "DAYS_PER_YEAR_24_7",
    "DEFAULT_DEPTHS",
    "Ewma",
    "EwmaVolatility",
    "IntensityEstimator",
    "IntensityFit",
    "MicropriceEvaluation",
    "MicropriceModel",
    "annualise",
    "book_depth_imbalance",
    "decay_rate",
    "depth_imbalance",
    "evaluate_microprice",
    "ewma",
    "ewma_volatility",
    "fit_intensity",
    "fit_microprice",
    "imbalance",
    "microprice_nb",
    "mid",
    "trade_depths",
    "weighted_mid",
]
