"""``stale_feed``: pull an instrument's quotes while its feed is silent (no market event
received) for longer than ``stale_feed_ms``, or while its book is out of sync (a gap in the
depth data, until the resync snapshot); resume when data flows again and the book is in sync.
See ``docs/risk.md``.
"""

from __future__ import annotations

from hftlab.risk.rules.base import FeedReading, RiskState, Rule

__all__ = ["StaleFeed"]


class StaleFeed(Rule):
    """``stale_feed``: the longest silence of an instrument's feed (local time), and whether
    its book is in sync: a book out of sync is stale however fast its rows arrive."""

    name = "stale_feed"
    key = "stale_feed_ms"
    periodic = True
    reads_book_sync = True

    def start(self, state: RiskState) -> None:
        super().start(state)
        self._start = state.start
        self.limit_ns = round(self.limit * 1e6)

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
