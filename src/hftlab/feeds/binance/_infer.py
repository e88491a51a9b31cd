"""Venue time for Binance messages that carry none (spot ``bookTicker``, spot REST snapshots).

The rule (:func:`infer_ts_by_update_id`, defined on a whole recording):

1. arrival time minus the feed latency of the symbol's timestamped messages (depth diffs and
   trades) received up to then: the median of the last :data:`WINDOW` latencies in arrival
   order (ties in arrival time: depth before trades), so recorder clock skew is carried over;
   a message received before any timestamped one takes the first one's latency;
2. clamped by update id: the update happened after the depth batch before it was cut and before
   the depth batch containing its id was published, so the estimate is clamped to
   ``[E(previous batch), E(covering batch)]``, the batches found in ``u`` order.

:class:`TimeInference` applies the same rule incrementally, fed in arrival order. A message is
*ready* once every input of its estimate is known: a message with a later arrival time has been
seen (so no more latencies can tie with it) and a depth diff with ``u >= id`` has arrived (the
covering batch). The clamp then uses the diffs that set a new highest ``u`` in arrival order;
for ids that increase in arrival order, as Binance's do, that is exactly the ``u``-ordered
lookup of the whole-recording rule, and the result does not depend on how the messages were
batched.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Latencies in the rolling median.
WINDOW: Final = 32
#: Depth diffs (those that raised the highest ``u``) kept for the update-id clamp: an id older
#: than all of them is clamped against the oldest kept. 1M is ~4 days of spot @100ms.
DEFAULT_HISTORY: Final = 1 << 20

_MIN: Final = int(np.iinfo(np.int64).min)
_MAX: Final = int(np.iinfo(np.int64).max)
_EMPTY: Final = np.zeros(0, dtype=np.int64)


def window_medians(x: np.ndarray, at: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Median of ``x[max(0, i - window + 1) : i + 1]`` for each ``i`` in ``at`` (float64)."""
    uniq, inv = np.unique(at, return_inverse=True)
    out = np.empty(uniq.shape[0], dtype=np.float64)
    full = uniq >= window - 1
    if full.any():
        out[full] = np.median(sliding_window_view(x, window)[uniq[full] - window + 1], axis=1)
    for k in np.flatnonzero(~full):
        out[k] = np.median(x[: uniq[k] + 1])
    return out[inv.reshape(-1)]


def clamp(est: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """``est`` clamped to ``[lo, hi]`` (``lo`` wins when ``hi < lo``)."""
    return np.minimum(np.maximum(est, lo), np.maximum(hi, lo))


def infer_ts_by_update_id(
    ts_local: np.ndarray,
    update_id: np.ndarray,
    sample_ts_local: np.ndarray,
    sample_latency: np.ndarray,
    depth_u: np.ndarray,
    depth_E: np.ndarray,
) -> np.ndarray:
    """Venue time (ns) for messages without one, from a whole recording.

    Parameters
    ----------
    ts_local, update_id
        Arrival time (ns) and update id of each message to time.
    sample_ts_local, sample_latency
        Arrival time and ``ts_local - venue time`` (ns) of the timestamped messages, depth
        diffs first then trades, each in arrival order.
    depth_u, depth_E
        ``u`` and venue time (ns) of every depth diff, in arrival order.

    Returns
    -------
    numpy.ndarray
        int64 ns: ``ts_local`` minus the rolling-median latency (module docstring, rule 1),
        clamped to the publication times of the depth batches around ``update_id`` (rule 2).
    """
    if ts_local.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if sample_latency.shape[0]:
        order = np.argsort(sample_ts_local, kind="stable")
        j = np.searchsorted(sample_ts_local[order], ts_local, side="right") - 1
        med = window_medians(sample_latency[order].astype(np.float64), np.maximum(j, 0))
        est = ts_local - np.rint(med).astype(np.int64)
    else:
        est = ts_local.copy()
    n = depth_u.shape[0]
    if n:
        order = np.argsort(depth_u, kind="stable")
        du, dE = depth_u[order], depth_E[order]
        k = np.searchsorted(du, update_id, side="left")  # first batch with u >= id
        hi = np.where(k < n, dE[np.minimum(k, n - 1)], _MAX)
        lo = np.where(k > 0, dE[np.maximum(k - 1, 0)], _MIN)
        est = clamp(est, lo, hi)
    return est.astype(np.int64)


class TimeInference:
    """:func:`infer_ts_by_update_id` fed in arrival order, one batch of messages at a time.

    Parameters
    ----------
    history
        Most update-id records kept for the clamp (see :data:`DEFAULT_HISTORY`).
    """

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        self.history = history
        #: Arrival time of the last message seen (any kind).
        self.last_ts = _MIN
        # Latency samples, sorted by (arrival time, group: 0 depth / 1 trade, arrival seq);
        # the oldest are dropped once no message still to be timed can reach them.
        self._s_ts = _EMPTY
        self._s_grp = _EMPTY
        self._s_seq = _EMPTY
        self._s_lat = _EMPTY
        self._first_ts: int | None = None
        # Update-id records: the diffs that raised the highest u (u strictly increasing), their
        # venue time and the venue time of the latest diff at the previous highest u.
        self._rec = np.zeros((3, 0), dtype=np.int64)
        self._n_rec = 0
        self.max_u = _MIN
        self._max_E = _MIN

    def observe(
        self,
        last_ts: int,
        sample_ts: np.ndarray,
        sample_group: np.ndarray,
        sample_seq: np.ndarray,
        sample_latency: np.ndarray,
        diff_u: np.ndarray,
        diff_E: np.ndarray,
    ) -> None:
        """Take one batch: its last arrival time, its latency samples (any order), and the
        ``u`` and venue time (ns) of its depth diffs in arrival order."""
        self.last_ts = last_ts
        if sample_ts.shape[0]:
            if self._first_ts is None:
                self._first_ts = int(sample_ts.min())
            ts = np.concatenate([self._s_ts, sample_ts])
            grp = np.concatenate([self._s_grp, sample_group])
            seq = np.concatenate([self._s_seq, sample_seq])
            lat = np.concatenate([self._s_lat, sample_latency])
            order = np.lexsort((seq, grp, ts))
            self._s_ts, self._s_grp, self._s_seq, self._s_lat = (
                ts[order], grp[order], seq[order], lat[order]
            )  # fmt: skip
        if diff_u.shape[0]:
            self._add_diffs(diff_u, diff_E)

    def _add_diffs(self, u: np.ndarray, e: np.ndarray) -> None:
        n = u.shape[0]
        prev_max = np.empty(n, dtype=np.int64)
        prev_max[0] = self.max_u
        if n > 1:
            np.maximum.accumulate(u[:-1], out=prev_max[1:])
            np.maximum(prev_max[1:], self.max_u, out=prev_max[1:])
        is_rec = u > prev_max
        # Latest diff at the running highest u, before each diff (ties: the latest wins).
        at_max = np.where(u >= prev_max, np.arange(n), -1)
        last_at_max = np.maximum.accumulate(at_max)
        before = np.empty(n, dtype=np.int64)
        before[0] = -1
        before[1:] = last_at_max[:-1]
        lo = np.where(before >= 0, e[np.maximum(before, 0)], self._max_E)
        self._append(u[is_rec], e[is_rec], lo[is_rec])
        self.max_u = max(self.max_u, int(u.max()))
        if last_at_max[-1] >= 0:
            self._max_E = int(e[last_at_max[-1]])

    def _append(self, u: np.ndarray, e: np.ndarray, lo: np.ndarray) -> None:
        m = u.shape[0]
        if not m:
            return
        n = self._n_rec
        if n + m > self._rec.shape[1]:
            keep = min(n, self.history)
            grown = np.empty((3, max(2 * (keep + m), 1024)), dtype=np.int64)
            grown[:, :keep] = self._rec[:, n - keep : n]
            self._rec, n = grown, keep
        self._rec[0, n : n + m] = u
        self._rec[1, n : n + m] = e
        self._rec[2, n : n + m] = lo
        self._n_rec = n + m

    def ready(self, ts_local: np.ndarray, update_id: np.ndarray) -> np.ndarray:
        """Which of these messages (arrival time, update id) can be timed now."""
        first = self._first_ts
        if first is None or first >= self.last_ts:
            return np.zeros(ts_local.shape[0], dtype=bool)
        return (update_id <= self.max_u) & (ts_local < self.last_ts)

    def infer(self, ts_local: np.ndarray, update_id: np.ndarray) -> np.ndarray:
        """Venue time (int64 ns) of messages (arrival time, update id) with what is known."""
        if self._s_ts.shape[0]:
            j = np.searchsorted(self._s_ts, ts_local, side="right") - 1
            med = window_medians(self._s_lat.astype(np.float64), np.maximum(j, 0))
            est = ts_local - np.rint(med).astype(np.int64)
        else:
            est = ts_local.copy()
        n = self._n_rec
        if n:
            rec_u, rec_e, rec_lo = self._rec[:, :n]
            k = np.searchsorted(rec_u, update_id, side="left")
            kk = np.minimum(k, n - 1)
            has = k < n
            est = clamp(est, np.where(has, rec_lo[kk], self._max_E), np.where(has, rec_e[kk], _MAX))
        return est.astype(np.int64)

    def trim(self, oldest_ts: int) -> None:
        """Drop latency samples no message arriving at or after ``oldest_ts`` can use."""
        m = int(np.searchsorted(self._s_ts, oldest_ts, side="right"))
        if m <= WINDOW:
            return
        # Keep the whole run of equal arrival times at the window's start: the window ending
        # at any later message starts at or after it.
        drop = int(np.searchsorted(self._s_ts, self._s_ts[m - WINDOW], side="left"))
        if drop:
            self._s_ts = self._s_ts[drop:]
            self._s_grp = self._s_grp[drop:]
            self._s_seq = self._s_seq[drop:]
            self._s_lat = self._s_lat[drop:]
