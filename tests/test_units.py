"""hftlab.units: the one duration grammar, the epoch-unit rule and time parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from hftlab.errors import ConfigError
from hftlab.units import (
    NS_PER_DAY,
    NS_PER_H,
    NS_PER_MIN,
    NS_PER_MS,
    NS_PER_S,
    NS_PER_US,
    epoch_unit_ns,
    format_duration,
    parse_duration,
    parse_time,
)

MIDNIGHT = 1_723_161_600 * NS_PER_S  # 2024-08-09T00:00:00Z


def test_constants_are_consistent() -> None:
    assert (NS_PER_US, NS_PER_MS, NS_PER_S) == (10**3, 10**6, 10**9)
    assert NS_PER_MIN == 60 * NS_PER_S and NS_PER_H == 60 * NS_PER_MIN
    assert NS_PER_DAY == 24 * NS_PER_H


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("7ns", 7),
        ("100us", 100 * NS_PER_US),
        ("100µs", 100 * NS_PER_US),
        ("250ms", 250 * NS_PER_MS),
        ("90s", 90 * NS_PER_S),
        ("5m", 5 * NS_PER_MIN),
        ("5min", 5 * NS_PER_MIN),
        ("2h", 2 * NS_PER_H),
        ("1.5d", 36 * NS_PER_H),
        ("0.5s", 500 * NS_PER_MS),
        (" 2 H ", 2 * NS_PER_H),  # spaces and case do not matter
        (1_000, 1_000),  # an int is ns
    ],
)
def test_duration_grammar(text: str | int, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2", "expected a number and a unit"),
        ("h", "expected a number and a unit"),
        ("-1h", "expected a number and a unit"),
        ("2 weeks", "expected a number and a unit"),
        ("1.5.2s", "expected a number and a unit"),
        ("", "expected a number and a unit"),
        (True, "expected a number and a unit"),
        ("0s", "must be > 0"),
        ("0.1ns", "must be > 0"),  # rounds to 0 ns
        (0, "must be > 0"),
        (-5, "must be > 0"),
    ],
)
def test_duration_errors_name_the_setting(value: str | int, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(value, "--interval")
    text = str(info.value)
    assert text.startswith(f"--interval {value!r}")
    assert message in text and "\n" not in text


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0 ns"),
        (999, "999 ns"),
        (NS_PER_US, "1 µs"),
        (1_500 * NS_PER_MS, "1.5 s"),
        (90 * NS_PER_MIN, "1.5 h"),
        (NS_PER_DAY, "1 d"),
        (-2 * NS_PER_S, "-2 s"),
    ],
)
def test_format_duration(ns: int, text: str) -> None:
    assert format_duration(ns) == text


@pytest.mark.parametrize(
    ("magnitude", "unit"),
    [
        (10**17, 1),
        (10**17 - 1, NS_PER_US),
        (10**14, NS_PER_US),
        (10**14 - 1, NS_PER_MS),
        (10**11, NS_PER_MS),
        (10**11 - 1, NS_PER_S),
        (10**8, NS_PER_S),
        (10**8 - 1, 0),
        (0, 0),
        (-(10**17), 1),  # the magnitude counts, not the sign
    ],
)
def test_epoch_unit_at_each_boundary(magnitude: int, unit: int) -> None:
    assert epoch_unit_ns(magnitude) == unit


def test_epoch_unit_of_one_instant_in_each_unit() -> None:
    seconds = MIDNIGHT // NS_PER_S
    for stamp, unit in (
        (MIDNIGHT, 1),
        (MIDNIGHT // NS_PER_US, NS_PER_US),
        (MIDNIGHT // NS_PER_MS, NS_PER_MS),
        (seconds, NS_PER_S),
    ):
        assert epoch_unit_ns(stamp) == unit
        assert stamp * unit == MIDNIGHT


@pytest.mark.parametrize(
    "value",
    [
        "2024-08-09T00:00:00",  # no zone: UTC
        "2024-08-09",
        "2024-08-09T00:00:00Z",
        "2024-08-09T02:00:00+02:00",  # a zone of its own
        "2024-08-08T20:00:00-04:00",
        dt.datetime(2024, 8, 9),  # a TOML local datetime: UTC
        dt.datetime(2024, 8, 9, 3, tzinfo=dt.timezone(dt.timedelta(hours=3))),
        MIDNIGHT,  # ns
    ],
)
def test_parse_time_with_and_without_zone(value: object) -> None:
    assert parse_time(value) == MIDNIGHT


def test_parse_time_is_exact_to_the_microsecond() -> None:
    # a float product (timestamp() * 1e9) is 256 ns apart at these magnitudes
    assert parse_time("2024-08-09T00:00:00.123457") == MIDNIGHT + 123_457 * NS_PER_US
    assert parse_time("1969-12-31T23:59:59.5") == -500 * NS_PER_MS
    assert parse_time(None) is None


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "", 1.5e18, True])
def test_parse_time_errors_name_the_setting(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_time(value, "[data] start")
    assert str(info.value) == f"[data] start = {value!r}: not an ISO time or ns integer"
