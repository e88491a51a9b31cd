"""The one engine: a :class:`Session` drives one sim core for one strategy, reporting to a
:class:`Sink`; the backtest and the live engine are two drivers of it."""

from __future__ import annotations

from hftlab.engine.session import Session
from hftlab.engine.sink import ResponseLog, RunRecorder, Sink

__all__ = ["ResponseLog", "RunRecorder", "Session", "Sink"]
