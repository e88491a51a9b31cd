"""The feed's exchange queue: rows reach the exchange in (exchange time, arrival) order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simhelpers import INST

from hftlab.backtest.result import BacktestResult
from hftlab.errors import EngineError
from hftlab.events import EVENT_DTYPE
from hftlab.sim import _feed
from hftlab.sim import _layout as L
from hftlab.sim.config import SimConfig
from hftlab.sim.core import SimCore

WINDOW = 1_000


def _rows(gaps: list[int], lats: list[int]) -> np.ndarray:
    ev = np.zeros(len(gaps), dtype=EVENT_DTYPE)
    ev["ts_local"] = 10_000 + np.cumsum(gaps)
    ev["ts_exchange"] = ev["ts_local"] - np.asarray(lats, dtype=np.int64)
    return ev


def _exchange_times(ev: np.ndarray) -> np.ndarray:
    t = np.minimum(ev["ts_exchange"], ev["ts_local"])
    return np.maximum(t, ev["ts_local"] - WINDOW)


def _queue(core: SimCore, chunks: list[np.ndarray]) -> list[tuple[int, int]]:
    """Feed ``chunks``; the (time, row number) pairs the exchange receives, in order."""
    out: list[tuple[int, int]] = []
    dropped = 0  # rows dropped from the front of the core's buffer so far
    for chunk in [*chunks, None]:
        before = len(core.ev0) + len(core.ev1)
        core.feed(chunk)
        dropped += before - len(core.ev0)  # what was not carried over
        out += [(t, i + dropped) for i, t in zip(core.xi.tolist(), core.xt.tolist(), strict=True)]
        core.ctl[L.C_IX] = len(core.xi)  # as if the exchange applied them all
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        # spread out times (narrow buckets) ...
        st.lists(st.tuples(st.integers(0, 40), st.integers(-50, 3 * WINDOW)), max_size=300),
        # ... and a few distinct times, interleaved (many ties, wide buckets)
        st.lists(st.tuples(st.integers(0, 2), st.sampled_from([0, 1, 3, 700])), max_size=300),
    ).filter(len),
    st.integers(1, 120),
)
def test_exchange_queue_is_a_stable_sort_whatever_the_chunking(
    rows: list[tuple[int, int]], chunk: int
) -> None:
    """Exchange time clamped to [ts_local - W, ts_local]; ties keep arrival order; every row
    exactly once, whatever the chunk size (bursts of equal times, reversed runs, gaps)."""
    ev = _rows([g for g, _ in rows], [lat for _, lat in rows])
    core = SimCore([INST], SimConfig(reorder_window_ms=WINDOW / 1e6), local=False)
    got = _queue(core, [ev[i : i + chunk] for i in range(0, len(ev), chunk)])
    t = _exchange_times(ev)
    order = np.argsort(t, kind="stable")
    assert got == [(int(t[k]), int(k)) for k in order]


def test_reversed_burst_takes_the_fallback_sort() -> None:
    """Rows far from sorted (here reversed) exceed the insertion budget and still come out
    right."""
    n = 2_000
    chunk = np.zeros(n, dtype=EVENT_DTYPE)
    chunk["ts_local"] = 10**9
    chunk["ts_exchange"] = 10**9 - np.arange(n)  # latency grows: times run backwards
    out_i, out_t, scr_t = (np.empty(n, dtype=np.int64) for _ in range(3))
    code, row, _flags = _feed.sort_chunk(
        chunk, 10**9, 1, out_i, out_t, scr_t, np.empty(n + 1, np.int64)
    )
    assert (code, row) == (0, -1)
    assert out_i.tolist() == list(range(n - 1, -1, -1))
    assert np.all(np.diff(out_t) >= 0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("ts_local", 5, "out of ts_local order at row 2"), ("instrument", 3, "index 3 at row 2")],
)
def test_bad_chunk_is_refused_and_changes_nothing(field: str, value: int, message: str) -> None:
    ev = _rows([1] * 6, [0] * 6)
    core = SimCore([INST], SimConfig(reorder_window_ms=WINDOW / 1e6), local=False)
    core.feed(ev[:3])
    before = (core.xi.copy(), core.xt.copy(), len(core.ev0), len(core.ev1))
    bad = ev[3:].copy()
    bad[field][2] = value
    with pytest.raises(EngineError, match=message):
        core.feed(bad)
    assert before[0].tolist() == core.xi.tolist() and before[1].tolist() == core.xt.tolist()
    assert before[2:] == (len(core.ev0), len(core.ev1))


def _big_market(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    ev = _rows(rng.integers(0, 3, n).tolist(), rng.integers(0, 2 * WINDOW, n).tolist())
    ev["kind"] = 1  # depth rows around a fixed touch
    ev["side"] = np.where(rng.random(n) < 0.5, 1, -1)
    ev["price"] = np.where(ev["side"] > 0, 100 - rng.integers(0, 5, n), 101 + rng.integers(0, 5, n))
    ev["qty"] = rng.integers(0, 4, n)
    return ev


def test_engine_prepares_large_chunks_ahead_with_the_same_result() -> None:
    """Chunks large enough to be sorted on the feed thread give the run one sorted inline."""
    from hftlab.backtest import run_backtest
    from hftlab.backtest.engine import _ASYNC_MIN_ROWS

    ev = _big_market(5 * _ASYNC_MIN_ROWS)
    cfg = SimConfig(reorder_window_ms=WINDOW / 1e6, record_interval_ms=1e-5)  # every 10 ns

    def run(size: int) -> BacktestResult:
        chunks = [ev[i : i + size] for i in range(0, len(ev), size)]
        return run_backtest(chunks, None, cfg, instruments=[INST])

    big, small = run(2 * _ASYNC_MIN_ROWS), run(999)
    assert big.summary["events"] == small.summary["events"] == len(ev)
    for col in ("ts", "mid"):  # the exchange book, sampled
        a, b = big.state[col].to_numpy(), small.state[col].to_numpy()
        assert np.array_equal(a, b, equal_nan=True)
    assert np.isfinite(big.state["mid"].to_numpy()).sum() > 1000


def test_engine_reports_a_bad_chunk_prepared_ahead() -> None:
    from hftlab.backtest import run_backtest
    from hftlab.backtest.engine import _ASYNC_MIN_ROWS

    ev = _big_market(3 * _ASYNC_MIN_ROWS)
    chunks = [ev[: 2 * _ASYNC_MIN_ROWS].copy(), ev[2 * _ASYNC_MIN_ROWS :].copy()]
    chunks[1]["instrument"][7] = 5
    with pytest.raises(EngineError, match="index 5 at row 7"):
        run_backtest(chunks, None, SimConfig(), instruments=[INST])
