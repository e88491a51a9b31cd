"""The engine's inlined response drain takes what ``SimCore.drain_responses`` takes."""

from __future__ import annotations

import numpy as np
import pytest

from hftlab.backtest.engine import _Runner
from hftlab.events import Instrument
from hftlab.sim import _layout as L
from hftlab.sim.config import SimConfig
from hftlab.sim.core import SimCore
from hftlab.strategy.context import Context

INST = Instrument(venue="t", symbol="X", tick_size=0.1, lot_size=0.001)


def _core(lo: int, hi: int) -> SimCore:
    """A core whose response ring holds distinct rows, delivered from ``lo`` to ``hi``."""
    core = SimCore([INST], SimConfig())
    n = core.resps.shape[0]
    core.resps[:] = np.arange(n * L.E_NF, dtype=np.int64).reshape(n, L.E_NF)
    core.resps[:, L.E_ID] = -1  # no local order: the context skips them
    core.respf[:] = np.arange(n * L.EF_NF, dtype=np.float64).reshape(n, L.EF_NF) / 4
    core.ctl[L.C_RS_DRAIN] = lo
    core.ctl[L.C_RS_DELIV] = hi
    core.ctl[L.C_RS_TAIL] = hi
    return core


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("with_ctx", [False, True])
def test_drain_matches_the_core(wrap: bool, with_ctx: bool) -> None:
    cap = SimCore([INST], SimConfig()).resps.shape[0]
    lo, hi = (cap - 3, cap + 2) if wrap else (5, 9)
    ref_ri, ref_rf = _core(lo, hi).drain_responses()
    core = _core(lo, hi)
    runner = _Runner(core, None)
    if with_ctx:
        runner.ctx = Context(core)
    runner.drain()
    assert len(runner.responses) == 1
    ri, rf = runner.responses[0]
    np.testing.assert_array_equal(ri, ref_ri)
    np.testing.assert_array_equal(rf, ref_rf)
    assert ri.shape == (hi - lo, L.E_NF)
    assert int(core.ctl[L.C_RS_DRAIN]) == hi
    # Copies, not views of the ring (the core reuses its slots).
    core.resps[:] = 0
    np.testing.assert_array_equal(ri, ref_ri)
    if with_ctx:
        assert runner.ctx is not None and runner.ctx._n_resp == hi - lo
    runner.drain()  # nothing new
    assert len(runner.responses) == 1
