"""``feed_latency``: pull an instrument's quotes while the feed latency (``ts_local −
ts_exchange``) of its latest event exceeds ``max_feed_latency_ms``, absolute or above a running
``min`` / ``median`` baseline of the last ``feed_latency_window`` samples. See
``docs/risk.md``.
"""

from __future__ import annotations

import bisect
from collections import deque

from hftlab.risk.rules.base import FeedReading, RiskState, Rule

__all__ = ["FeedLatency"]

#: ``ctx.data_times`` before any event.
_NO_DATA = -(2**63 - 1)


class FeedLatency(Rule):
    """``feed_latency``: one latency sample per check that sees a new event."""

    name = "feed_latency"
    key = "max_feed_latency_ms"
    periodic = True

    def start(self, state: RiskState) -> None:
        super().start(state)
        self.limit_ns = round(self.limit * 1e6)
        self.mode = self.config.feed_latency_baseline
        self.window = self.config.feed_latency_window
        n = state.n
        self._last = [_NO_DATA] * n  # ts_local of the last event sampled
        self._hist: list[deque[int]] = [deque() for _ in range(n)]
        self._sorted: list[list[int]] = [[] for _ in range(n)]

    def check_feed(
        self, inst: int, now: int, ts_exchange: int, ts_local: int
    ) -> FeedReading | None:
        if ts_local == _NO_DATA or ts_local == self._last[inst]:
            return None  # nothing new to sample
        self._last[inst] = ts_local
        lat = ts_local - ts_exchange
        srt = self._sorted[inst]
        mode = self.mode
        if mode == "none":
            base = 0
        elif not srt:
            base = lat
        else:
            base = srt[0] if mode == "min" else srt[len(srt) // 2]
        limit = base + self.limit_ns
        if mode != "none":
            hist = self._hist[inst]
            hist.append(lat)
            bisect.insort(srt, lat)
            if len(hist) > self.window:
                old = hist.popleft()
                del srt[bisect.bisect_left(srt, old)]
        detail = f"feed latency {lat / 1e6:.3f} ms"
        if mode != "none":
            detail += f" ({mode} baseline {base / 1e6:.3f} ms)"
        return lat > limit, lat / 1e6, limit / 1e6, detail
