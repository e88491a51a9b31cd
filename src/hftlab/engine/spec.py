"""What a run is: a store selection and window, a strategy and the configs of everything.

``hftlab backtest``, ``hftlab optimize`` (one :class:`RunSpec` per evaluation), ``hftlab demo``
and the live engine all build a :class:`RunSpec` here: from a config file and command-line
overrides (:func:`load_run_spec`) or from tables already read (:func:`build_run_spec`). Every
check happens while it is built, so a bad file fails before any data is read, with one line
naming the file, the table and the fix. :func:`open_events` then opens its event stream.

Config file (TOML), every table optional::

    [data]
    instruments = ["BTCUSDT"]        # SYMBOL or VENUE/SYMBOL; default: every instrument
    channels = ["depth", "trade"]    # default: every channel of those instruments
    start = "2024-08-09T00:00:00"    # ISO time (UTC unless it names a zone) or ns since epoch
    end = "2024-08-09T01:00:00"      # exclusive
    [sim]                            # hftlab.sim.SimConfig
    queue_model = "prob_power"
    fees = { maker = -0.0001, taker = 0.0004 }
    [sim.entry_latency]
    kind = "constant"
    value_us = 800
    [strategy]                       # the strategy's Config fields
    half_spread_ticks = 2
    [risk]                           # hftlab.risk.RiskConfig (docs/risk.md); limits off if absent
    max_position = 0.05

This module imports no driver (backtest, live) and no command-line module: they import it.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from hftlab.data.store import EventStream, Store, StreamKey
from hftlab.errors import ConfigError
from hftlab.events import Channel
from hftlab.risk import RiskConfig
from hftlab.sim.config import SimConfig
from hftlab.strategy import Strategy
from hftlab.units import parse_time

__all__ = [
    "DATA_KEYS",
    "RUN_TABLES",
    "RunSpec",
    "apply_overrides",
    "book_sources",
    "build_configs",
    "build_run_spec",
    "check_data_table",
    "check_tables",
    "data_span",
    "data_window",
    "load_run_spec",
    "load_strategy_class",
    "open_events",
    "read_config",
    "read_toml",
]

#: The tables of a run's config file.
RUN_TABLES: Final = ("data", "sim", "strategy", "risk")
#: The keys of its ``[data]`` table.
DATA_KEYS: Final = ("instruments", "channels", "start", "end")
_EXAMPLE_NAME: Final = {"instruments": "BTCUSDT", "channels": "depth"}


# ----------------------------------------------------------------------------- strategy
def load_strategy_class(spec: str) -> type[Strategy]:
    """The :class:`~hftlab.strategy.Strategy` subclass named by ``spec``.

    Parameters
    ----------
    spec
        ``package.module:Class`` or ``path/to/file.py:Class``.

    Raises
    ------
    ConfigError
        Not ``MODULE:CLASS``, the module or file cannot be imported, or the name is not a
        Strategy subclass.
    """
    if ":" not in spec:
        raise ConfigError(f"--strategy {spec!r}: expected MODULE:CLASS (or FILE.py:CLASS)")
    mod_name, cls_name = spec.rsplit(":", 1)
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.is_file():
                raise ConfigError(f"--strategy: file {path} not found")
            sp = importlib.util.spec_from_file_location(path.stem, path)
            assert sp is not None and sp.loader is not None
            module = importlib.util.module_from_spec(sp)
            # Registered before it runs, as an import would: dataclasses and pickling of the
            # strategy's classes look their module up by name.
            sys.modules[path.stem] = module
            sp.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ConfigError(f"--strategy: cannot import {mod_name!r}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError(f"--strategy: {cls_name!r} in {mod_name!r} is not a Strategy subclass")
    return cls


# ----------------------------------------------------------------------------- config file
def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict; :class:`ConfigError` naming the file if missing or invalid."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc})") from None


def check_tables(doc: Mapping[str, Any], where: str, known: Iterable[str] = RUN_TABLES) -> None:
    """Every top-level entry of ``doc`` is one of the ``known`` tables, and a table.

    Raises
    ------
    ConfigError
        ``"<where>: unknown table(s) [...] (expected [...])"`` or ``"<where>: [x] must be a
        table"``.
    """
    known = sorted(known)
    unknown = set(doc) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {sorted(unknown)} (expected {known})")
    for name, value in doc.items():
        if not isinstance(value, dict):
            raise ConfigError(
                f"{where}: [{name}] must be a table ({name} = {value!r} given; "
                f"write [{name}] on a line of its own and its keys below)"
            )


def read_config(path: str | Path | None, known: Iterable[str] = RUN_TABLES) -> dict[str, Any]:
    """A run's config file (:func:`read_toml`, then :func:`check_tables`); ``{}`` for None."""
    if path is None:
        return {}
    doc = read_toml(path)
    check_tables(doc, str(path), known)
    return doc


def data_window(dcfg: Mapping[str, Any], where: str | None = None) -> tuple[int | None, int | None]:
    """``[data] start`` and ``end`` in ns (None where absent), via :func:`hftlab.units.parse_time`.

    Raises
    ------
    ConfigError
        Not an ISO time or ns integer, or ``end`` not after ``start``; prefixed by ``where``.
    """
    at = f"{where}: " if where else ""
    start = parse_time(dcfg.get("start"), f"{at}[data] start")
    end = parse_time(dcfg.get("end"), f"{at}[data] end")
    if start is not None and end is not None and end <= start:
        raise ConfigError(
            f"{at}[data] end ({dcfg.get('end')!r}) is not after start ({dcfg.get('start')!r}); "
            "the window is [start, end)"
        )
    return start, end


def check_data_table(dcfg: Mapping[str, Any], where: str) -> tuple[int | None, int | None]:
    """Check a ``[data]`` table; its window (:func:`data_window`).

    Raises
    ------
    ConfigError
        Unknown key (with the closest known one), ``instruments``/``channels`` not a list of
        names, an unknown channel, or a bad time.
    """
    unknown = sorted(set(dcfg) - set(DATA_KEYS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], DATA_KEYS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {sorted(DATA_KEYS)}"
        raise ConfigError(f"{where}: [data] unknown key {unknown[0]!r} ({hint})")
    for key, example in _EXAMPLE_NAME.items():
        names = dcfg.get(key)
        if names is not None and (
            not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names)
        ):
            raise ConfigError(
                f"{where}: [data] {key} = {names!r}: expected a list of names, "
                f'e.g. {key} = ["{example}"]'
            )
    channels = {c.value for c in Channel}
    for name in dcfg.get("channels") or ():
        if name not in channels:
            raise ConfigError(
                f"{where}: [data] channels: {name!r} is not a channel "
                f"(expected {', '.join(sorted(channels))})"
            )
    return data_window(dcfg, where)


def apply_overrides(base: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with each dotted ``values`` entry set in its table.

    ``{"strategy.size": 0.002, "sim.fees.maker": 0.0}`` sets ``[strategy] size`` and ``maker``
    of ``[sim] fees``, creating tables on the way.
    """
    tables = copy.deepcopy(dict(base))
    for name, value in values.items():
        parts = name.split(".")
        node = tables.setdefault(parts[0], {})
        for part in parts[1:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return tables


def _in_table(where: str, table: str, exc: Exception) -> ConfigError:
    """``exc`` as one line naming where it came from and its table (once: some messages of
    the config classes name it already)."""
    text = str(exc)
    tag = f"[{table}]"
    return ConfigError(f"{where}: {text}" if tag in text else f"{where}: {tag} {text}")


def build_configs(
    strategy_cls: type[Strategy], tables: Mapping[str, Any], where: str
) -> tuple[SimConfig, Any, RiskConfig]:
    """The simulator, strategy and risk configs of ``tables``.

    Raises
    ------
    ConfigError
        One line: ``where``, the table and what its config class refused.
    """
    table = "sim"
    try:
        sim = SimConfig.from_dict(tables.get("sim", {}))
        table = "strategy"
        cfg = strategy_cls.make_config(tables.get("strategy"))
        table = "risk"
        risk = RiskConfig.from_dict(tables.get("risk"))
    except (ConfigError, ValueError, TypeError) as exc:  # a Struct's __post_init__ may raise
        raise _in_table(where, table, exc) from None
    return sim, cfg, risk


# ----------------------------------------------------------------------------- store
def _streams(
    store_root: str | Path, instruments: Iterable[str] | None, channels: Iterable[str] | None
) -> tuple[Store, list[StreamKey]]:
    store = Store(store_root)
    return store, store.resolve(instruments, channels)


def book_sources(stream: EventStream) -> list[bool]:
    """Per instrument of ``stream``: True if only BBO data builds its book (no depth channel)."""
    chans: dict[tuple[str, str], set[Channel]] = {}
    for key in stream.keys:
        chans.setdefault((key.venue, key.symbol), set()).add(key.channel)
    return [
        Channel.DEPTH not in chans[(i.venue, i.symbol)]
        and Channel.BBO in chans[(i.venue, i.symbol)]
        for i in stream.instruments
    ]


def data_span(store_root: str | Path, tables: Mapping[str, Any]) -> tuple[int, int]:
    """``[start, end)`` of the selected data (``ts_local``), narrowed by ``[data] start/end``.

    Read from the files' footers: no data is decoded.

    Raises
    ------
    ConfigError
        The selected streams hold no rows, or the window selects none of them.
    """
    dcfg = tables.get("data", {})
    store, keys = _streams(store_root, dcfg.get("instruments"), dcfg.get("channels"))
    files = [f for k in keys for f in store.files(k) if f.rows]
    if not files:
        raise ConfigError(f"store {store_root}: the selected streams hold no rows")
    lo = min(f.ts_local_min for f in files)
    hi = max(f.ts_local_max for f in files) + 1
    start, end = data_window(dcfg)
    lo = max(lo, start) if start is not None else lo
    hi = min(hi, end) if end is not None else hi
    if hi <= lo:
        raise ConfigError(f"[data] start/end select no data of store {store_root}")
    return lo, hi


# ----------------------------------------------------------------------------- run spec
@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Everything one run needs, checked: where its data is, what runs, with which settings.

    Attributes
    ----------
    data
        Store directory.
    strategy
        The strategy as named (``MODULE:CLASS`` or ``FILE.py:CLASS``).
    strategy_cls, strategy_config
        Its class and the ``Config`` built from ``[strategy]``.
    sim, risk
        The simulator and risk settings (``[sim]``, ``[risk]``; every limit off if absent).
    instruments, channels
        The store selection (None: everything).
    start, end
        ``ts_local`` window in ns, end exclusive (None: open).
    config_path
        The config file it was read from, if any.
    tables
        The config tables it was built from (after overrides), for records and re-building.
    """

    data: Path
    strategy: str
    strategy_cls: type[Strategy]
    strategy_config: Any
    sim: SimConfig
    risk: RiskConfig
    instruments: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    start: int | None = None
    end: int | None = None
    config_path: Path | None = None
    tables: Mapping[str, Any] = field(default_factory=dict)

    def make_strategy(self) -> Strategy:
        """A new strategy instance with :attr:`strategy_config`."""
        return self.strategy_cls(self.strategy_config)

    def run_info(self) -> dict[str, Any]:
        """What a run folder's ``run.json`` records of where the run came from."""
        return {
            "data": str(self.data),
            "strategy": self.strategy,
            "config_file": None if self.config_path is None else str(self.config_path),
        }


def build_run_spec(
    tables: Mapping[str, Any],
    *,
    data: str | Path,
    strategy: str,
    strategy_cls: type[Strategy] | None = None,
    start: int | None = None,
    end: int | None = None,
    where: str = "config",
    config_path: str | Path | None = None,
) -> RunSpec:
    """A checked :class:`RunSpec` from config tables already read.

    Parameters
    ----------
    tables
        ``data``, ``sim``, ``strategy``, ``risk`` tables (each optional).
    data
        Store directory (not opened here).
    strategy
        ``MODULE:CLASS`` or ``FILE.py:CLASS``; loaded unless ``strategy_cls`` is given.
    start, end
        A window (ns) that replaces ``[data] start`` / ``end`` where not None.
    where
        Names the source in error messages (the file, or e.g. ``"point {...}"``).

    Raises
    ------
    ConfigError
        Any table, key or value refused, naming ``where`` and the table.
    """
    check_tables(tables, where)
    cls = strategy_cls if strategy_cls is not None else load_strategy_class(strategy)
    sim, strategy_config, risk = build_configs(cls, tables, where)
    dcfg = tables.get("data", {})
    t_start, t_end = check_data_table(dcfg, where)
    instruments, channels = dcfg.get("instruments"), dcfg.get("channels")
    return RunSpec(
        data=Path(data),
        strategy=strategy,
        strategy_cls=cls,
        strategy_config=strategy_config,
        sim=sim,
        risk=risk,
        instruments=None if instruments is None else tuple(instruments),
        channels=None if channels is None else tuple(channels),
        start=t_start if start is None else start,
        end=t_end if end is None else end,
        config_path=None if config_path is None else Path(config_path),
        tables=dict(tables),
    )


def load_run_spec(
    config: str | Path | None,
    *,
    data: str | Path,
    strategy: str,
    overrides: Mapping[str, Any] | None = None,
    start: int | None = None,
    end: int | None = None,
) -> RunSpec:
    """A checked :class:`RunSpec` from a config file (or none) and command-line overrides.

    Parameters
    ----------
    config
        The TOML file (see the module docstring); None for defaults everywhere.
    data, strategy
        ``--data`` and ``--strategy``.
    overrides
        Dotted settings over the file's, e.g. ``{"strategy.size": 0.002,
        "data.instruments": ["BTCUSDT"]}``.
    start, end
        A window (ns) over ``[data] start`` / ``end``.

    Raises
    ------
    ConfigError
        The file is missing, not TOML, has an unknown table, or any value is refused: one line
        naming the file and the table.
    """
    path = None if config is None else Path(config)
    tables = read_config(path)
    where = str(path) if path is not None else "defaults (no config file)"
    if overrides:
        for name in overrides:
            if name.split(".", 1)[0] not in RUN_TABLES or "." not in name:
                raise ConfigError(
                    f"override {name!r}: expected TABLE.KEY with TABLE one of "
                    f"{', '.join(RUN_TABLES)} (e.g. strategy.size)"
                )
        tables = apply_overrides(tables, overrides)
        where += " with overrides"
    return build_run_spec(
        tables,
        data=data,
        strategy=strategy,
        start=start,
        end=end,
        where=where,
        config_path=path,
    )


def open_events(spec: RunSpec) -> EventStream:
    """The merged event stream of ``spec``'s selection and window.

    Raises
    ------
    StoreError, InstrumentError
        The store is missing or empty, or the selection names what it does not hold.
    """
    store, keys = _streams(spec.data, spec.instruments, spec.channels)
    return store.events(keys, start=spec.start, end=spec.end)
