"""The optimiser's config file: a base backtest config plus ``[grid]`` and ``[optimize]``.

Example (TOML)::

    [data]                              # as for `hftlab backtest`
    instruments = ["synth/BTCUSDT"]
    [sim]
    queue_model = "prob_power"
    [strategy]
    size = 0.001

    [grid]                              # dotted parameter -> values
    strategy.half_spread_ticks = [1, 2, 3]
    strategy.interval_ms = { start = 50, stop = 200, step = 50 }
    strategy.skew_ticks = { start = 0.5, stop = 8, num = 5, log = true }
    sim.queue_model = ["risk_averse", "prob_power"]

    [optimize]
    objective = "pnl"                   # a metric name of the results
    direction = "maximize"              # or "minimize"
    metrics = ["fills", "max_drawdown"] # more heatmaps in the report
    interval = "1s"                     # sampling of the returns behind Sharpe & co.
    top = 10
    seed = 0                            # Optuna sampler seed
    walk_forward = "train=2h,test=1h"   # optional; --walk-forward overrides

Every name is checked against the strategy's ``Config`` fields and :class:`SimConfig`, and every
grid point is built into real configs, before any backtest runs.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from hftlab.engine.spec import (
    RUN_TABLES,
    apply_overrides,
    build_configs,
    check_data_table,
    check_tables,
    read_toml,
)
from hftlab.errors import ConfigError
from hftlab.risk import RiskConfig
from hftlab.sim.config import SimConfig
from hftlab.units import parse_duration

__all__ = [
    "Choice",
    "OptimizeConfig",
    "OptimizeSettings",
    "Param",
    "Range",
    "load_optimize_config",
    "parameter_names",
]

#: Tables of the base backtest config that grid parameters may address.
PARAM_TABLES = ("strategy", "sim", "risk")
_OWN_TABLES = ("grid", "optimize")
_RANGE_KEYS = {"start", "stop", "step", "num", "log"}
_SETTINGS_KEYS = {"objective", "direction", "metrics", "top", "seed", "walk_forward", "interval"}
_MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class Choice:
    """An explicit list of values (a categorical distribution for Optuna)."""

    values: tuple[Any, ...]

    def grid(self) -> list[Any]:
        """The values, in the order given."""
        return list(self.values)


@dataclass(frozen=True)
class Range:
    """``{start, stop, step}`` (inclusive arithmetic grid) or ``{start, stop, num[, log]}``.

    Integers stay integers when ``start`` and ``step`` are integers (an ``IntDistribution`` for
    Optuna); ``log = true`` spaces ``num`` points geometrically (a log-uniform distribution).
    """

    start: float
    stop: float
    step: float | None = None
    num: int | None = None
    log: bool = False

    @property
    def is_int(self) -> bool:
        """True when every grid value is an integer (integer start, stop and step)."""
        return self.step is not None and all(
            isinstance(v, int) for v in (self.start, self.stop, self.step)
        )

    def grid(self) -> list[Any]:
        """The grid values, ``start`` first, never beyond ``stop``."""
        if self.step is not None:
            n = math.floor((self.stop - self.start) / self.step + 1e-9) + 1
            if self.is_int:
                return [int(self.start + i * self.step) for i in range(n)]
            return [_tidy(self.start + i * self.step) for i in range(n)]
        assert self.num is not None
        if self.num == 1:
            return [self.start]
        if self.log:
            ratio = math.log(self.stop / self.start)
            return [
                _tidy(self.start * math.exp(ratio * i / (self.num - 1))) for i in range(self.num)
            ]
        return [
            _tidy(self.start + (self.stop - self.start) * i / (self.num - 1))
            for i in range(self.num)
        ]

    @property
    def high(self) -> float:
        """The largest grid value (``stop`` rounded down onto the step grid)."""
        return self.grid()[-1] if self.step is not None else self.stop


def _tidy(x: float) -> float:
    """Round away binary noise from ``start + i*step`` (0.30000000000000004 -> 0.3)."""
    return float(f"{x:.12g}")


@dataclass(frozen=True)
class Param:
    """One swept parameter: its dotted name (``strategy.size``) and values."""

    name: str
    values: Choice | Range

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split(".")[1:])


@dataclass(frozen=True)
class OptimizeSettings:
    """The ``[optimize]`` table."""

    objective: str = "pnl"
    direction: Literal["maximize", "minimize"] = "maximize"
    metrics: tuple[str, ...] = ()
    top: int = 10
    seed: int = 0
    walk_forward: str | None = None
    interval: str = "1s"

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"


@dataclass
class OptimizeConfig:
    """A validated optimiser config: base tables, parameters, settings.

    ``base`` holds the backtest tables (``data``, ``sim``, ``strategy``) as plain dicts; each
    evaluation applies its parameter values to a copy of them.
    """

    base: dict[str, dict[str, Any]]
    params: list[Param]
    settings: OptimizeSettings = field(default_factory=OptimizeSettings)
    path: Path | None = None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def size(self) -> int:
        """Number of grid points."""
        return math.prod(len(p.values.grid()) for p in self.params)

    def points(self) -> list[dict[str, Any]]:
        """Every grid point as ``{dotted name: value}``, the last parameter varying fastest."""
        grids = [p.values.grid() for p in self.params]
        return [dict(zip(self.names, combo, strict=True)) for combo in itertools.product(*grids)]


# ----------------------------------------------------------------------------- names
def _struct_fields(cls: Any) -> dict[str, Any] | None:
    """Field name -> type of a msgspec Struct or pydantic model class; None otherwise."""
    if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
        return {f.name: f.type for f in msgspec.structs.fields(cls)}
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict):
        return {name: f.annotation for name, f in model_fields.items()}
    return None


def _leaf_names(cls: Any, prefix: str) -> list[str]:
    """Every addressable dotted name under a config class (nested Structs expanded)."""
    fields = _struct_fields(cls)
    out: list[str] = []
    for name, tp in (fields or {}).items():
        full = f"{prefix}.{name}"
        out.append(full)
        if _struct_fields(tp) is not None:
            out.extend(_leaf_names(tp, full))
    return out


def parameter_names(strategy_config: type[Any]) -> list[str]:
    """All names a grid may sweep for a strategy whose ``Config`` is ``strategy_config``.

    Parameters
    ----------
    strategy_config
        The strategy's ``Config`` class (msgspec Struct or pydantic model).

    Returns
    -------
    list of str
        ``strategy.<field>``, ``sim.<field>[.<subfield>]`` and ``risk.<field>`` names.
    """
    return (
        _leaf_names(strategy_config, "strategy")
        + _leaf_names(SimConfig, "sim")
        + _leaf_names(RiskConfig, "risk")
    )


def _check_name(name: str, known: list[str], where: str) -> None:
    if name in known:
        return
    table = name.split(".", 1)[0]
    if table not in PARAM_TABLES:
        raise ConfigError(
            f"{where}: parameter {name!r} must start with one of "
            f"{', '.join(t + '.' for t in PARAM_TABLES)} (e.g. strategy.{name})"
        )
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else ("known: " + ", ".join(k for k in known if k.startswith(table + ".")))
    )
    raise ConfigError(f"{where}: unknown parameter {name!r} ({hint})")


# ----------------------------------------------------------------------------- values
def _is_range(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "start" in value
        and "stop" in value
        and all(not isinstance(v, dict | list) for v in value.values())
    )


def _parse_range(name: str, raw: dict[str, Any], where: str) -> Range:
    unknown = set(raw) - _RANGE_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: {name}: unknown range key(s) {sorted(unknown)} "
            "(use {start, stop, step} or {start, stop, num, log})"
        )
    start, stop = raw["start"], raw["stop"]
    step, num, log = raw.get("step"), raw.get("num"), raw.get("log", False)
    for key, v in (("start", start), ("stop", stop), ("step", step)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise ConfigError(f"{where}: {name}: range {key} = {v!r} is not a number")
        if v is not None and not math.isfinite(v):
            raise ConfigError(f"{where}: {name}: range {key} = {v!r} is not finite")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: {name}: range log = {log!r} must be true or false")
    if stop < start:
        raise ConfigError(f"{where}: {name}: range stop {stop} < start {start}")
    if step is not None and num is not None:
        raise ConfigError(f"{where}: {name}: a range takes step or num, not both")
    if step is None and num is None and not log:
        raise ConfigError(
            f"{where}: {name}: a range needs step or num, e.g. "
            f"{{start = {start}, stop = {stop}, step = 1}}"
        )
    if step is not None:
        if log:
            raise ConfigError(
                f"{where}: {name}: log ranges take num (points), not step; "
                "drop log or use {start, stop, num, log = true}"
            )
        if step <= 0:
            raise ConfigError(f"{where}: {name}: range step must be > 0, got {step}")
    if num is not None and (isinstance(num, bool) or not isinstance(num, int) or num < 1):
        raise ConfigError(f"{where}: {name}: range num must be an integer >= 1, got {num!r}")
    if log and start <= 0:
        raise ConfigError(f"{where}: {name}: a log range needs start > 0, got {start}")
    if log and num is None:
        num_needed = f"{{start = {start}, stop = {stop}, num = 5, log = true}}"
        raise ConfigError(f"{where}: {name}: a log range needs num, e.g. {num_needed}")
    if num is not None and num > 1 and stop == start:
        raise ConfigError(f"{where}: {name}: range of {num} points with start == stop")
    return Range(start=start, stop=stop, step=step, num=num, log=log)


def _flatten_grid(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"strategy": {"size": [...]}}`` -> ``{"strategy.size": [...]}`` (ranges kept whole)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not _is_range(value):
            out.update(_flatten_grid(value, name + "."))
        else:
            out[name] = value
    return out


def _parse_values(name: str, raw: Any, where: str) -> Choice | Range:
    if _is_range(raw):
        return _parse_range(name, raw, where)
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"{where}: {name} = []: give at least one value")
        return Choice(tuple(raw))
    raise ConfigError(
        f"{where}: {name} = {raw!r}: expected a list of values or a range "
        "{start, stop, step} / {start, stop, num, log}"
    )


# ----------------------------------------------------------------------------- configs
def _parse_settings(raw: dict[str, Any], where: str) -> OptimizeSettings:
    unknown = sorted(set(raw) - _SETTINGS_KEYS)
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, sorted(_SETTINGS_KEYS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {sorted(_SETTINGS_KEYS)}"
        raise ConfigError(f"{where}: [optimize] unknown key {key!r} ({hint})")
    try:
        s = msgspec.convert(raw, _SettingsIn)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: [optimize] {exc}") from None
    if s.top < 1:
        raise ConfigError(f"{where}: [optimize] top must be >= 1, got {s.top}")
    parse_duration(s.interval, f"{where}: [optimize] interval")
    return OptimizeSettings(
        objective=s.objective,
        direction=s.direction,
        metrics=tuple(s.metrics),
        top=s.top,
        seed=s.seed,
        walk_forward=s.walk_forward,
        interval=s.interval,
    )


class _SettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    objective: str = "pnl"
    direction: Literal["maximize", "minimize"] = "maximize"
    metrics: list[str] = msgspec.field(default_factory=list)
    top: int = 10
    seed: int = 0
    walk_forward: str | None = None
    interval: str = "1s"


def parse_optimize_config(
    data: dict[str, Any], strategy_cls: Any, *, where: str = "config"
) -> OptimizeConfig:
    """Validate a parsed TOML document against ``strategy_cls``; nothing runs.

    Raises
    ------
    ConfigError
        Unknown table or parameter (with the closest known name), empty grid, bad range or a
        grid point the strategy or simulator config refuses.
    """
    check_tables(data, where, (*RUN_TABLES, *_OWN_TABLES))
    base = {k: copy.deepcopy(v) for k, v in data.items() if k in RUN_TABLES}
    check_data_table(base.get("data", {}), where)
    grid_raw = data.get("grid")
    if not isinstance(grid_raw, dict) or not grid_raw:
        raise ConfigError(
            f"{where}: the [grid] table is missing or empty; add e.g. "
            "[grid] strategy.half_spread_ticks = [1, 2, 3]"
        )
    known = parameter_names(strategy_cls.Config)
    params = []
    for name, raw in _flatten_grid(grid_raw).items():
        _check_name(name, known, f"{where} [grid]")
        params.append(Param(name, _parse_values(name, raw, f"{where} [grid]")))
    settings = _parse_settings(data.get("optimize", {}), where)
    cfg = OptimizeConfig(base=base, params=params, settings=settings)
    n = cfg.size()
    if n > _MAX_POINTS:
        raise ConfigError(
            f"{where}: the grid has {n:,} points (more than {_MAX_POINTS:,}); "
            "narrow it or use --search optuna --trials N"
        )
    # Every value is built into real configs now, so a bad one fails before any work: per
    # parameter value (cheap, names the culprit), then the base config itself.
    build_configs(strategy_cls, base, f"{where}: base config")
    for p in params:
        for v in p.values.grid():
            tables = apply_overrides(base, {p.name: v})
            build_configs(strategy_cls, tables, f"{where} [grid] {p.name} = {v!r}")
    return cfg


def load_optimize_config(path: str | Path, strategy_cls: Any) -> OptimizeConfig:
    """Read and validate an optimiser TOML file (see the module docstring)."""
    path = Path(path)
    data = read_toml(path)
    cfg = parse_optimize_config(data, strategy_cls, where=str(path))
    cfg.path = path
    return cfg


def param_type(strategy_cls: Any, name: str) -> Any:
    """The declared type of a dotted parameter (for Optuna distributions), or None."""
    parts = name.split(".")
    cls: Any = {"strategy": strategy_cls.Config, "sim": SimConfig, "risk": RiskConfig}.get(parts[0])
    tp: Any = None
    for part in parts[1:]:
        fields = _struct_fields(cls)
        if fields is None or part not in fields:
            return None
        tp = fields[part]
        cls = tp
    return tp


def is_int_type(tp: Any) -> bool:
    """True for ``int`` (not bool) annotations, including ``int | None``."""
    if tp is int:
        return True
    args = typing.get_args(tp)
    return bool(args) and int in args and bool not in args
