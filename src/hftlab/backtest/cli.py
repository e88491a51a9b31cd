"""``hftlab backtest``: load data, strategy and config, run with a progress bar, summarise.

Config file (TOML), every table optional::

    [sim]                      # hftlab.sim.SimConfig
    queue_model = "prob_power"
    fees = { maker = -0.0001, taker = 0.0004 }
    [sim.entry_latency]
    kind = "constant"
    value_us = 800
    [data]
    instruments = ["BTCUSDT"]  # default: every instrument of the store
    channels = ["depth", "trade"]
    start = "2024-08-09T00:00:00"   # or ns since the epoch
    end = "2024-08-09T01:00:00"
    [strategy]                 # the strategy's Config fields
    half_spread_ticks = 2
    [risk]                     # hftlab.risk.RiskConfig (docs/risk.md); every limit off if absent
    max_position = 0.05
    max_loss = 100.0
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import sys
import tomllib
from pathlib import Path
from typing import Any

from hftlab.backtest.engine import core_is_compiled, run_backtest
from hftlab.backtest.result import BacktestResult
from hftlab.errors import ConfigError
from hftlab.risk import RiskConfig
from hftlab.sim.config import SimConfig
from hftlab.strategy import Strategy

_KNOWN_TABLES = {"sim", "data", "strategy", "risk"}


def load_strategy_class(spec: str) -> type[Strategy]:
    """``package.module:Class`` or ``path/to/file.py:Class`` to the class."""
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


def load_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    unknown = set(data) - _KNOWN_TABLES
    if unknown:
        raise ConfigError(
            f"{path}: unknown table(s) {sorted(unknown)} (expected {sorted(_KNOWN_TABLES)})"
        )
    return data


def _time(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        ts = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(ts.timestamp() * 1e9)
    try:
        ts = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"[data] {what} = {value!r}: not an ISO time or ns integer") from None
    ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
    return int(ts.timestamp() * 1e9)


def run_from_cli(
    data: Path,
    strategy_spec: str,
    config_path: Path | None,
    out: Path,
    *,
    echo: Any,
    show_progress: bool,
) -> BacktestResult:
    """Everything ``hftlab backtest`` does besides printing the summary."""
    from hftlab.data.store import Store

    cfg = load_config(config_path)
    sim_cfg = SimConfig.from_dict(cfg.get("sim", {}))
    risk_cfg = RiskConfig.from_dict(cfg.get("risk"))
    cls = load_strategy_class(strategy_spec)
    strategy = cls(cls.make_config(cfg.get("strategy")))
    dcfg = cfg.get("data", {})
    store = Store(data)
    keys = store.resolve(dcfg.get("instruments"), dcfg.get("channels"))
    stream = store.events(
        keys, start=_time(dcfg.get("start"), "start"), end=_time(dcfg.get("end"), "end")
    )
    if not core_is_compiled():
        echo("compiling the simulation core (first run only; cached afterwards, ~30 s)...")
    info = {"data": str(data), "strategy": strategy_spec, "config_file": str(config_path)}
    if show_progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("backtest", total=stream.rows)
            result = run_backtest(
                stream,
                strategy,
                sim_cfg,
                run_info=info,
                progress=lambda n: bar.update(task, completed=n),
                risk=risk_cfg,
            )
    else:
        result = run_backtest(stream, strategy, sim_cfg, run_info=info, risk=risk_cfg)
    stats = getattr(strategy, "stats", None)
    if callable(stats):  # e.g. the market makers' quote-manager counters
        result.summary["strategy_stats"] = stats()
    result.save(out)
    return result


def render_summary(result: BacktestResult, out: Path) -> None:
    """One screen: run figures and a table per instrument."""
    from rich.console import Console
    from rich.table import Table

    s = result.summary
    info = result.run_info
    # Not a terminal (logs, CI): a fixed width rather than truncated columns.
    console = Console(width=None if sys.stdout.isatty() else 140)
    span = ""
    if s.get("first_ts") is not None and s.get("last_ts") is not None:
        span = f", {(s['last_ts'] - s['first_ts']) / 1e9:,.1f} s simulated"
    console.print(
        f"[bold]{s['strategy']}[/bold]: {s['events']:,} events{span} in "
        f"{info['wall_seconds']:.2f} s ({info['events_per_second'] or 0:,.0f} events/s)"
    )
    table = Table(show_edge=False)
    for col in (
        "instrument",
        "position",
        "equity",
        "fees",
        "max DD",
        "fills m/t",
        "volume",
        "orders",
        "rejected",
        "cxl lost",
    ):
        table.add_column(col, justify="left" if col == "instrument" else "right")
    for key, v in s["instruments"].items():
        table.add_row(
            key,
            f"{v['position']:g}",
            f"{v['equity']:,.6g}",
            f"{v['fees']:,.6g}",
            f"{v['max_drawdown']:,.6g}",
            f"{v['maker_fills']}/{v['taker_fills']}",
            f"{v['volume']:g}",
            f"{v['orders_sent']}",
            f"{v['rejected']}",
            f"{v['cancel_rejected']}",
        )
    console.print(table)
    risk = s.get("risk") or {}
    fired = {rule: n for rule, n in (risk.get("triggers") or {}).items() if n}
    if fired or risk.get("killed"):
        what = ", ".join(f"{rule} {n}" for rule, n in fired.items())
        kill = f"; KILLED at t={risk['kill_ts']} ns" if risk.get("killed") else ""
        console.print(f"risk triggers: {what or 'none'}{kill} (risk.parquet)")
    if s.get("strategy_stats"):
        console.print(
            "strategy: "
            + ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                for k, v in s["strategy_stats"].items()
            )
        )
    console.print(f"results -> {out}")
