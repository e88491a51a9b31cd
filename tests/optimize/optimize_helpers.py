"""Constants shared by the optimiser tests (configs, the strategy under test)."""

from __future__ import annotations

QUOTER = "hftlab.strategies.simple_quoter:SimpleQuoter"

BASE = """
[data]
instruments = ["synth/BTCUSDT"]
[sim]
queue_model = "prob_power"
seed = 3
[sim.entry_latency]
kind = "empirical"
samples_us = [300.0, 800.0, 2000.0]
[strategy]
size = 0.001
max_position = 0.005
"""

GRID = (
    BASE
    + """
[grid]
strategy.half_spread_ticks = [0, 1, 2]
strategy.interval_ms = { start = 100, stop = 200, step = 100 }
sim.queue_model = ["risk_averse", "prob_power"]
[optimize]
objective = "pnl"
metrics = ["fills"]
"""
)
