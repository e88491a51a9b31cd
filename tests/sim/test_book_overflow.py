"""A book side whose overflow fills up is reported, never silent: the backtest summary, the CLI
summary, a log warning. (Only levels below the window can be refused; with the defaults no
real capture comes near it, so the test shrinks the book.)"""

from __future__ import annotations

import logging

import pytest
from simhelpers import INST, C, D, S, events

from hftlab.backtest import run_backtest
from hftlab.errors import ConfigError
from hftlab.sim.config import SimConfig
from hftlab.strategy import Strategy

# A snapshot of 100 bid levels 10 ticks apart (990 ticks deep) and one ask, then updates.
ROWS = [(1_000, 1_000, C, 0, 0, 0)]
ROWS += [(1_000, 1_000, S, 1, 10_000 - 10 * k, 1 + k % 3) for k in range(100)]
ROWS += [(1_000, 1_000, S, -1, 10_001, 5)]
ROWS += [(2_000 + k, 2_000 + k, D, 1, 9_995 - 10 * k, 2) for k in range(30)]
SMALL = SimConfig(book_window=64, book_capacity=16)  # 64 ticks a side, 16 levels below


def test_dropped_levels_are_in_the_summary_and_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        res = run_backtest([events(ROWS)], Strategy(), SMALL, instruments=[INST])
    dropped = res.summary["book_dropped"][INST.key]
    # The window [best - 56, best + 8) holds 6 snapshot bids and 6 of the updates, the
    # overflow 16 more: the other 78 snapshot levels and 24 updates are refused, in both books.
    assert dropped == {
        "exchange_bids": 102,
        "exchange_asks": 0,
        "local_bids": 102,
        "local_asks": 0,
    }
    warned = [r for r in caplog.records if "book overflow" in r.getMessage()]
    assert len(warned) == 1 and INST.key in warned[0].getMessage()
    assert "book_capacity=16" in warned[0].getMessage()


def test_raw_replay_reports_its_exchange_book() -> None:
    res = run_backtest([events(ROWS)], None, SMALL, instruments=[INST])
    assert res.summary["book_dropped"][INST.key]["exchange_bids"] == 102
    assert res.summary["book_dropped"][INST.key]["local_bids"] == 0  # no local books


def test_no_key_when_nothing_was_dropped() -> None:
    res = run_backtest([events(ROWS)], Strategy(), SimConfig(), instruments=[INST])
    assert "book_dropped" not in res.summary


def test_book_window_must_be_a_power_of_two() -> None:
    with pytest.raises(ConfigError, match="book_window"):
        SimConfig(book_window=1000)
