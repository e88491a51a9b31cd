"""The simulation core: exchange matching, queue and latency models, fees and accounts.

One piece of code for the backtester and the live paper engine (see ``docs/sim-core.md``).
:class:`SimCore` owns the arrays of one session; the compiled loop lives in ``_core``.
"""

from __future__ import annotations

from hftlab.sim.config import Fees, LatencyModel, SimConfig
from hftlab.sim.core import SimCore

__all__ = ["Fees", "LatencyModel", "SimConfig", "SimCore"]
