"""Where a :class:`~hftlab.engine.Session` sends what happens: requests, responses, states, risk.

A :class:`Sink` is the seam between the one engine and its two drivers (hftbacktest's
``Recorder``, in our words): the backtest's :class:`RunRecorder` keeps everything for the run
folder; the live engine's sink also publishes ``st.<strategy>.*`` on the bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hftlab.sim.core import empty_responses

if TYPE_CHECKING:
    from hftlab.backtest.result import BacktestResult
    from hftlab.engine.session import Session
    from hftlab.risk.manager import RiskRow
    from hftlab.strategy.context import RequestRow

__all__ = ["ResponseLog", "RunRecorder", "Sink"]


class Sink(Protocol):
    """What a session reports, as it happens.

    ``on_request`` runs at every request the strategy sends (keep it cheap: a bound
    ``list.append`` is ideal); ``on_responses`` at every drain of the core's response ring
    (rows read with :class:`~hftlab.sim.core.ResponseField` or
    :func:`~hftlab.sim.core.response_columns`; the arrays are the sink's to keep);
    ``on_states`` when the core's state log is drained (see
    :func:`~hftlab.sim.core.state_columns`); ``on_risk`` with the risk rules' new events
    (``risk.parquet`` rows), at most once per :meth:`Session.feed` / :meth:`Session.advance`.
    """

    def on_request(self, row: RequestRow) -> None: ...

    def on_responses(self, ri: np.ndarray, rf: np.ndarray) -> None: ...

    def on_states(self, ts: np.ndarray, st: np.ndarray) -> None: ...

    def on_risk(self, events: Sequence[RiskRow]) -> None: ...


class ResponseLog:
    """Every response of a run, as the core's ring rows (int and float columns).

    A drain adds a pair of small copies; every ``BATCH`` drains they are joined into one block,
    so a long run holds a few large arrays, not one pair per drain with ~1 KB of allocator
    bookkeeping each. Adding stays a list append: it runs at strategy wake-ups.
    """

    BATCH = 512

    def __init__(self) -> None:
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.blocks: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(ri.shape[0] for ri, _ in self.blocks) + sum(
            ri.shape[0] for ri, _ in self.pending
        )

    def add(self, ri: np.ndarray, rf: np.ndarray) -> None:
        """Keep ``ri``/``rf`` (copies the log now owns)."""
        pending = self.pending
        pending.append((ri, rf))
        if len(pending) >= self.BATCH:
            self._join()

    def _join(self) -> None:
        if self.pending:
            self.blocks.append(
                (
                    np.concatenate([ri for ri, _ in self.pending]),
                    np.concatenate([rf for _, rf in self.pending]),
                )
            )
            self.pending = []

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All rows so far, each column group in one new array."""
        self._join()
        if not self.blocks:
            return empty_responses()
        return (
            np.concatenate([ri for ri, _ in self.blocks]),
            np.concatenate([rf for _, rf in self.blocks]),
        )


class RunRecorder:
    """The backtest's sink: keeps every request, response, state sample and risk event, and
    builds the :class:`~hftlab.backtest.BacktestResult` (the run folder) at the end."""

    def __init__(self) -> None:
        self.requests: list[RequestRow] = []
        self.responses = ResponseLog()
        self.states: list[tuple[np.ndarray, np.ndarray]] = []
        self.risk_events: list[RiskRow] = []
        # The list's own append: a request costs no extra Python frame.
        self.on_request = self.requests.append

    def on_responses(self, ri: np.ndarray, rf: np.ndarray) -> None:
        self.responses.add(ri, rf)

    def on_states(self, ts: np.ndarray, st: np.ndarray) -> None:
        if ts.size:
            self.states.append((ts, st))

    def on_risk(self, events: Sequence[RiskRow]) -> None:
        self.risk_events.extend(events)

    def result(
        self, session: Session, *, wall_seconds: float, run_info: dict[str, Any] | None = None
    ) -> BacktestResult:
        """The run's tables and summary (call after :meth:`Session.finish`)."""
        from hftlab.backtest.result import build_result

        return build_result(
            session.core,
            *self.responses.arrays(),
            self.states,
            self.requests,
            first_ts=session.first_ts,
            wall_seconds=wall_seconds,
            config=session.config,
            strategy=session.inner,
            run_info=run_info or {},
            risk=session.risk,
        )
