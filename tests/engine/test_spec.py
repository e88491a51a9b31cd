"""hftlab.engine.spec: a RunSpec from a config file, one-line errors naming the file and table,
the data span and book sources of a store selection."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from hftlab.data.store import Store, StreamKey
from hftlab.engine.spec import (
    RunSpec,
    book_sources,
    build_run_spec,
    data_span,
    load_run_spec,
    load_strategy_class,
    open_events,
)
from hftlab.errors import ConfigError, InstrumentError
from hftlab.events import Channel, Instrument
from hftlab.risk import RiskConfig
from hftlab.sim.config import SimConfig
from hftlab.strategies.simple_quoter import SimpleQuoter
from hftlab.units import NS_PER_MS, NS_PER_S, parse_time

QUOTER = "hftlab.strategies.simple_quoter:SimpleQuoter"
START = 1_723_161_000_000_000_000  # the make_store fixture's first trade (ts_local)
N = 1000  # rows per stream: BTC trades at START + i ms, depth 0.5 ms later, ETH trades 0.25 ms


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Path:
    return make_store(N).root


def _write(tmp_path: Path, body: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_run_spec_from_a_config_file(store: Path, tmp_path: Path) -> None:
    cfg = _write(
        tmp_path,
        """
[data]
instruments = ["test/BTCUSDT"]
channels = ["trade", "depth"]
start = "2024-08-09T00:00:00"
end = "2024-08-09T03:00:00+02:00"
[sim]
queue_model = "risk_averse"
seed = 3
[strategy]
size = 0.002
half_spread_ticks = 3
[risk]
max_loss = 50.0
""",
    )
    spec = load_run_spec(cfg, data=store, strategy=QUOTER)
    assert isinstance(spec, RunSpec)
    assert spec.data == store and spec.config_path == cfg
    assert spec.strategy_cls is SimpleQuoter
    assert spec.strategy_config.size == 0.002 and spec.strategy_config.half_spread_ticks == 3
    assert spec.sim == SimConfig.from_dict({"queue_model": "risk_averse", "seed": 3})
    assert spec.risk == RiskConfig(max_loss=50.0)
    assert spec.instruments == ("test/BTCUSDT",) and spec.channels == ("trade", "depth")
    midnight = parse_time("2024-08-09T00:00:00")
    assert (spec.start, spec.end) == (midnight, midnight + 3_600 * NS_PER_S)  # zone honoured
    strategy = spec.make_strategy()
    assert isinstance(strategy, SimpleQuoter) and strategy.config is spec.strategy_config
    assert spec.run_info() == {"data": str(store), "strategy": QUOTER, "config_file": str(cfg)}


def test_defaults_and_overrides(store: Path, tmp_path: Path) -> None:
    spec = load_run_spec(None, data=store, strategy=QUOTER)
    assert spec.sim == SimConfig() and spec.risk == RiskConfig()
    assert spec.instruments is None and spec.start is None and spec.config_path is None
    assert spec.run_info()["config_file"] is None
    cfg = _write(tmp_path, "[strategy]\nsize = 0.002\n")
    spec = load_run_spec(
        cfg,
        data=store,
        strategy=QUOTER,
        overrides={"strategy.size": 0.003, "data.instruments": ["ETHUSDT"]},
        start=START + 5 * NS_PER_MS,
    )
    assert spec.strategy_config.size == 0.003
    assert spec.instruments == ("ETHUSDT",) and spec.start == START + 5 * NS_PER_MS
    assert spec.tables["strategy"] == {"size": 0.003}
    with pytest.raises(ConfigError, match=r"override 'size': expected TABLE\.KEY"):
        load_run_spec(cfg, data=store, strategy=QUOTER, overrides={"size": 1})


@pytest.mark.parametrize(
    ("body", "table", "needle"),
    [
        ("[sim]\nqueue_model = 'fifo'\n", "[sim]", "Invalid enum value 'fifo'"),
        ("[strategy]\nsizee = 1\n", "[strategy]", "unknown field `sizee`"),
        ("[strategy]\nhalf_spread_ticks = -1\n", "[strategy]", "half_spread_ticks"),
        ("[risk]\nmax_los = 1.0\n", "[risk]", "max_los"),
        ("[risk]\nmax_loss = -5.0\n", "[risk]", "max_loss"),
        ("[data]\nstrat = 'x'\n", "[data]", "unknown key 'strat' (did you mean 'start'?)"),
        ("[data]\nstart = 'yesterday'\n", "[data] start", "not an ISO time or ns integer"),
        ("[data]\ninstruments = 'BTCUSDT'\n", "[data] instruments", "expected a list of names"),
        ("[data]\nchannels = ['book']\n", "[data] channels", "'book' is not a channel"),
        ("[data]\nstart = 10\nend = 10\n", "[data] end", "is not after start"),
        ("[simm]\nx = 1\n", "unknown table(s) ['simm']", "expected ['data', 'risk', 'sim'"),
        ("sim = 3\n", "[sim] must be a table", "sim = 3"),
        ("[sim\n", "invalid TOML", ""),
    ],
)
def test_bad_config_errors_name_the_file_and_table(
    store: Path, tmp_path: Path, body: str, table: str, needle: str
) -> None:
    cfg = _write(tmp_path, body, "bad.toml")
    with pytest.raises(ConfigError) as info:
        load_run_spec(cfg, data=store, strategy=QUOTER)
    text = str(info.value)
    assert text.startswith(f"{cfg}: ") or text.startswith(f"{cfg} "), text
    assert table in text and needle in text and "\n" not in text


def test_a_missing_config_file_and_bad_strategies(store: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*absent\.toml not found"):
        load_run_spec(tmp_path / "absent.toml", data=store, strategy=QUOTER)
    for spec, message in (
        ("simple_quoter", "expected MODULE:CLASS"),
        ("nosuchmodule:X", "cannot import 'nosuchmodule'"),
        ("hftlab.strategies.simple_quoter:Nope", "is not a Strategy subclass"),
        (f"{tmp_path / 'absent.py'}:X", "not found"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_strategy_class(spec)
    path = _write(
        tmp_path,
        "from hftlab.strategy import Strategy\n\nclass Mine(Strategy):\n    pass\n",
        "mine.py",
    )
    assert load_strategy_class(f"{path}:Mine").__name__ == "Mine"


def test_the_cli_prints_one_line_and_exits_2(store: Path, tmp_path: Path) -> None:
    cfg = _write(tmp_path, "[risk]\nmax_los = 1.0\n", "bad.toml")
    args = ["backtest", "--data", str(store), "--strategy", QUOTER, "--config", str(cfg)]
    proc = subprocess.run(
        [sys.executable, "-m", "hftlab", *args, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"error: {cfg}: invalid [risk] config: Object contains unknown field `max_los`"
    )
    assert not (tmp_path / "out").exists()


def test_open_events_honours_selection_and_window(store: Path) -> None:
    tables = {"data": {"instruments": ["ETHUSDT"], "start": START, "end": START + 10 * NS_PER_MS}}
    spec = build_run_spec(tables, data=store, strategy=QUOTER)
    stream = open_events(spec)
    assert [i.symbol for i in stream.instruments] == ["ETHUSDT"]
    ts = [int(t) for chunk in stream for t in chunk["ts_local"]]
    assert ts == [START + 250_000 + i * NS_PER_MS for i in range(10)]
    with pytest.raises(InstrumentError, match="unknown instrument 'DOGEUSDT'"):
        open_events(
            build_run_spec({"data": {"instruments": ["DOGEUSDT"]}}, data=store, strategy=QUOTER)
        )


def test_data_span_of_a_small_synthetic_store(store: Path) -> None:
    last_depth = START + (N - 1) * NS_PER_MS + 500_000
    assert data_span(store, {}) == (START, last_depth + 1)  # end exclusive
    eth = {"instruments": ["ETHUSDT"]}
    assert data_span(store, {"data": eth}) == (
        START + 250_000,
        START + (N - 1) * NS_PER_MS + 250_001,
    )
    assert data_span(store, {"data": {"channels": ["trade"]}}) == (
        START,
        START + (N - 1) * NS_PER_MS + 250_001,
    )
    narrowed = {"start": START + NS_PER_MS, "end": START + 500 * NS_PER_MS}
    assert data_span(store, {"data": narrowed}) == (START + NS_PER_MS, START + 500 * NS_PER_MS)
    wide = {"start": START - NS_PER_S, "end": START + 10 * NS_PER_S}
    assert data_span(store, {"data": wide}) == (START, last_depth + 1)
    after = {"start": START + 10 * NS_PER_S}
    with pytest.raises(ConfigError, match=r"\[data\] start/end select no data of store"):
        data_span(store, {"data": after})


def test_book_sources_bbo_builds_a_book_only_without_depth() -> None:
    btc = Instrument(venue="v", symbol="BTCUSDT", tick_size=0.01, lot_size=0.001)
    eth = Instrument(venue="v", symbol="ETHUSDT", tick_size=0.01, lot_size=0.001)
    sol = Instrument(venue="v", symbol="SOLUSDT", tick_size=0.01, lot_size=0.001)
    keys = [
        StreamKey("v", "BTCUSDT", Channel.DEPTH),
        StreamKey("v", "BTCUSDT", Channel.BBO),
        StreamKey("v", "ETHUSDT", Channel.BBO),
        StreamKey("v", "ETHUSDT", Channel.TRADE),
        StreamKey("v", "SOLUSDT", Channel.TRADE),
    ]
    stream = SimpleNamespace(keys=keys, instruments=[btc, eth, sol])
    assert book_sources(stream) == [False, True, False]  # type: ignore[arg-type]
