"""Time units: ns constants, the one duration grammar, the one epoch-unit rule, time parsing.

Every time in hftlab is int64 nanoseconds since the Unix epoch (UTC). Everything that reads a
duration (``--interval 1s``, ``--walk-forward train=2h``, config values) or guesses the unit of
an integer epoch stamp (captures, CSV dumps) goes through this module, so the rules are the
same everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from hftlab.errors import ConfigError

__all__ = [
    "NS_PER_DAY",
    "NS_PER_H",
    "NS_PER_MIN",
    "NS_PER_MS",
    "NS_PER_S",
    "NS_PER_US",
    "epoch_unit_ns",
    "format_duration",
    "parse_duration",
    "parse_time",
]

NS_PER_US: Final = 1_000
NS_PER_MS: Final = 1_000_000
NS_PER_S: Final = 1_000_000_000
NS_PER_MIN: Final = 60 * NS_PER_S
NS_PER_H: Final = 3_600 * NS_PER_S
NS_PER_DAY: Final = 86_400 * NS_PER_S

#: The units of :func:`parse_duration` (lower case), in ns.
DURATION_UNITS: Final[dict[str, int]] = {
    "ns": 1,
    "us": NS_PER_US,
    "µs": NS_PER_US,
    "ms": NS_PER_MS,
    "s": NS_PER_S,
    "m": NS_PER_MIN,
    "min": NS_PER_MIN,
    "h": NS_PER_H,
    "d": NS_PER_DAY,
}
_DURATION_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zµ]+)\s*$")
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_duration(value: str | int, what: str = "duration") -> int:
    """``"250ms"``, ``"90s"``, ``"5min"``, ``"2h"``, ``"1.5d"`` (or an int of ns) -> ns, > 0.

    Units: ns, us (µs), ms, s, m/min, h, d. ``what`` names the setting in the error, e.g.
    ``"--interval"`` or ``"--walk-forward train"``.

    Raises
    ------
    ConfigError
        Not a positive number with one of the units.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{what} {value!r}: expected a number and a unit, e.g. 100ms, 1s, 2h")
    if isinstance(value, int):
        ns = value
    else:
        m = _DURATION_RE.match(str(value).lower())
        if m is None or m.group(2) not in DURATION_UNITS:
            raise ConfigError(
                f"{what} {value!r}: expected a number and a unit "
                "(ns, us, ms, s, m/min, h, d), e.g. 100ms, 1s, 2h"
            )
        ns = round(float(m.group(1)) * DURATION_UNITS[m.group(2)])
    if ns <= 0:
        raise ConfigError(f"{what} {value!r} must be > 0")
    return int(ns)


def format_duration(ns: float) -> str:
    """A duration in the largest unit that keeps it ≥ 1 (``"1.5 h"``), for messages."""
    for unit, size in (
        ("d", NS_PER_DAY),
        ("h", NS_PER_H),
        ("min", NS_PER_MIN),
        ("s", NS_PER_S),
        ("ms", NS_PER_MS),
        ("µs", NS_PER_US),
    ):
        if abs(ns) >= size:
            return f"{ns / size:g} {unit}"
    return f"{ns:g} ns"


def epoch_unit_ns(magnitude: int) -> int:
    """ns per unit of integer epoch stamps of this magnitude (ns, µs, ms or s), or 0 if no unit
    fits (not an epoch time after 1973).

    The rule: ``>= 1e17`` ns, ``>= 1e14`` µs, ``>= 1e11`` ms, ``>= 1e8`` s. Pass the absolute
    value of one stamp, or the largest of a column.
    """
    v = abs(int(magnitude))
    if v >= 10**17:
        return 1
    if v >= 10**14:
        return NS_PER_US
    if v >= 10**11:
        return NS_PER_MS
    if v >= 10**8:
        return NS_PER_S
    return 0


def parse_time(value: Any, what: str = "time") -> int | None:
    """A point in time -> ns since the epoch: an int (ns), a ``datetime`` or an ISO-8601
    string (UTC unless it names its zone). None stays None.

    Raises
    ------
    ConfigError
        Anything else, naming ``what`` (e.g. ``"[data] start"``).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{what} = {value!r}: not an ISO time or ns integer")
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        ts = value
    else:
        try:
            ts = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{what} = {value!r}: not an ISO time or ns integer") from None
    ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
    # Integer arithmetic: ``timestamp() * 1e9`` is a float, 256 ns apart at today's epoch
    # times, so a microsecond in the text would not survive it.
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * NS_PER_US
