"""``stale_feed``: pull an instrument's quotes while its feed is silent (no market event
received) for longer than ``stale_feed_ms``, or while its book is out of sync (a gap in the
depth data, until the resync snapshot); resume when data flows again and the book is in sync.
See ``docs/risk.md``.
"""

from __future__ import annotations

from typing import Self

from hftlab.risk.config import RiskConfig
from hftlab.risk.rules.base import FeedReading, RiskState, Rule

__all__ = ["StaleFeed"]


class StaleFeed(Rule):
    """``stale_feed``: the longest silence of an instrument's feed (local time), and whether
    its book is in sync: a book out of sync is stale however fast its rows arrive."""

    name = "stale_feed"
    periodic = True
    reads_book_sync = True

    def __init__(self, config: RiskConfig, limit_ms: float) -> None:
        super().__init__(config)
        self.limit_ns = round(limit_ms * 1e6)

    @classmethod
    def from_config(cls, config: RiskConfig) -> Self | None:
        limit = config.stale_feed_ms
        return None if limit is None else cls(config, limit)

    def start(self, state: RiskState) -> None:
        super().start(state)
        self._start = state.start

    def check_feed(self, inst: int, now: int, ts_exchange: int, ts_local: int) -> FeedReading:
        # Silent since the last event, or since the start before any.
        silent = now - max(ts_local, self._start)
        if not self.state.ctx.book(inst).synced:
            return (
                True,
                silent / 1e6,
                self.limit_ns / 1e6,
                "book out of sync (a gap in the depth data; waiting for a snapshot)",
            )
        return (
            silent > self.limit_ns,
            silent / 1e6,
            self.limit_ns / 1e6,
            f"no market data for {silent / 1e6:.3f} ms",
        )
