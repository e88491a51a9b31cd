"""Real-data acceptance of the importers (reads ``HFTLAB_REAL_DATA``).

The fixture FAILS when ``CI`` is set and the data folder is missing, and skips only when
neither is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hftlab.data.importers import (
    import_binance_capture,
    import_files,
    import_tardis_csv,
    validate_store,
)
from hftlab.data.store import Store
from hftlab.events import Channel

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="session")
def real_data() -> Path:
    root = os.environ.get("HFTLAB_REAL_DATA")
    if root and Path(root, "hftbacktest").is_dir():
        return Path(root)
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but HFTLAB_REAL_DATA ({root!r}) is not a real-data folder")
    pytest.skip("HFTLAB_REAL_DATA not set")


HB = "hftbacktest/examples"
CF = "cryptofeed/sample_data"

#: Every Binance capture in the data folder, grouped as one recording per import.
CAPTURES = {
    "spot-btc-pair": [f"{HB}/spot/btcusdt_20240808.gz", f"{HB}/spot/btcusdt_20240809.gz"],
    "spot-eth-pair": [f"{HB}/spot/ethusdt_20240808.gz", f"{HB}/spot/ethusdt_20240809.gz"],
    "usdm-btc-2024": [f"{HB}/usdm/btcusdt_20240808.gz"],
    "usdm-eth-2024": [f"{HB}/usdm/ethusdt_20240808.gz"],
    "usdm-btc-2023-pair": [
        f"{HB}/usdm/btcusdt_20230404.dat.gz",
        f"{HB}/usdm/btcusdt_20230405.dat.gz",
    ],
    "spot-btc-2023-no-snapshot": [f"{HB}/spot/btcusdt_20230405.dat.gz"],
    "cf-spot-ws-http": [f"{CF}/BINANCE.ws.1.0", f"{CF}/BINANCE.http.0.0"],
    "cf-usdm-ws-http": [f"{CF}/BINANCE_FUTURES.ws.1.0", f"{CF}/BINANCE_FUTURES.http.0.0"],
    "cf-spot-single-ee25be": [f"{CF}/BINANCE-ee25be.0"],
    "cf-spot-single-b38f7c": [f"{CF}/BINANCE-b38f7c.0"],
    "cf-usdm-single-1125a2": [f"{CF}/BINANCE_FUTURES-1125a2.0"],
}  # fmt: skip

#: Recordings without any usable snapshot (the 2023 spot file continues a missing day).
NO_SNAPSHOT = {"spot-btc-2023-no-snapshot"}


@pytest.mark.parametrize("name", list(CAPTURES))
def test_capture_imports_with_exact_book(real_data: Path, name: str, tmp_path: Path) -> None:
    files = [real_data / f for f in CAPTURES[name]]
    summary = import_binance_capture(files, tmp_path / "store")
    assert summary.instruments
    assert summary.bad_lines == 0
    for inst in summary.instruments:
        assert inst.gaps == 0, inst.key
        assert inst.crossed == 0, inst.key
        v = inst.validation
        assert v is not None and v.crossed == 0
        if name in NO_SNAPSHOT:
            assert inst.rows["depth.unsynced"] == inst.rows["depth.update"]
            continue
        assert inst.snapshots_used == 1, inst.key
        # Exact reconstruction at every comparable point (bookTicker u == book's last u).
        if inst.rows["bbo"]:
            assert v.compared > 0, inst.key
            assert v.matched == v.compared, (inst.key, v.mismatches)


def test_day_pair_is_one_continuous_book(real_data: Path, tmp_path: Path) -> None:
    files = [real_data / f for f in CAPTURES["spot-btc-pair"]]
    summary = import_binance_capture(files, tmp_path / "s")
    inst = summary.instrument("BTCUSDT", "binance")
    assert inst.gaps == 0 and inst.resyncs == 0 and inst.snapshots == 1
    # Unsynced rows only before the snapshot; the book stays synced across midnight.
    assert 0 < inst.rows["depth.unsynced"] < 100
    v = inst.validation
    assert v is not None and v.compared > 1000 and v.match_pct == 100.0
    store = Store(tmp_path / "s")
    dates = {p.parent.name for f in store.files(store.resolve(["BTCUSDT"], [Channel.DEPTH])[0])
             for p in [f.path]}  # fmt: skip
    assert dates == {"date=2024-08-08", "date=2024-08-09"}
    # The same validation, from what was written to the store.
    again = validate_store(store, "binance", "BTCUSDT")
    assert again.compared == v.compared and again.matched == v.matched and again.crossed == 0


def test_negative_latency_is_kept_and_reported(real_data: Path) -> None:
    summary = import_binance_capture([real_data / CAPTURES["usdm-btc-2024"][0]], None)
    lat = summary.instruments[0].latency
    assert lat.negative == lat.count > 0  # recorder ~1.27 s behind Binance
    assert -1.3e9 < lat.p50 < -1.2e9
    assert any("negative feed latency" in w for w in summary.warnings)


def test_spot_bookticker_time_is_inferred(real_data: Path) -> None:
    summary = import_binance_capture([real_data / f for f in CAPTURES["spot-eth-pair"]], None)
    inst = summary.instruments[0]
    assert inst.rows["bbo.ts_inferred"] == inst.rows["bbo"] > 0


def test_ignored_streams_are_counted(real_data: Path) -> None:
    summary = import_binance_capture([real_data / CAPTURES["cf-spot-single-ee25be"][0]], None)
    assert summary.ignored == {"kline": 118}
    pair = import_binance_capture([real_data / f for f in CAPTURES["usdm-btc-2023-pair"]], None)
    assert pair.ignored == {"markPrice": 514}


def test_venues_follow_tardis_names(real_data: Path) -> None:
    spot = import_binance_capture([real_data / f for f in CAPTURES["cf-spot-ws-http"]], None)
    fut = import_binance_capture([real_data / f for f in CAPTURES["cf-usdm-ws-http"]], None)
    assert {i.instrument.venue for i in spot.instruments} == {"binance"}
    assert {i.instrument.venue for i in fut.instruments} == {"binance-futures"}
    assert {i.instrument.contract_type.value for i in fut.instruments} == {"linear"}


TARDIS = "nautilus_trader/tests/test_data/tardis"


@pytest.mark.parametrize(
    "name",
    [
        "quotes.csv",
        "trades.csv",
        "binance-futures_book_snapshot_5_BTCUSDT.csv",
        "binance-futures_book_snapshot_25_BTCUSDT.csv",
        "deribit_incremental_book_L2_BTC-PERPETUAL.csv",
        "bitmex_trades_XBTUSD.csv",
        "huobi-dm-swap_quotes_BTC-USD.csv",
    ],
)
def test_tardis_csv_imports(real_data: Path, name: str, tmp_path: Path) -> None:
    path = real_data / TARDIS / name
    summary = import_files("auto", [path], tmp_path / "store")
    assert summary.format == "tardis-csv"
    (inst,) = summary.instruments
    assert sum(v for k, v in inst.rows.items() if "." not in k or k.startswith("depth.")) > 0
    assert inst.crossed == 0
    store = Store(tmp_path / "store")
    assert sum(f.rows for k in store.streams() for f in store.files(k)) > 0


def test_tardis_instrument_specs(real_data: Path) -> None:
    deribit = real_data / TARDIS / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    s = import_tardis_csv([deribit], None)
    inst = s.instruments[0].instrument
    assert (inst.venue, inst.tick_size, inst.contract_type.value) == ("deribit", 0.5, "inverse")
    s = import_tardis_csv([real_data / TARDIS / "bitmex_trades_XBTUSD.csv"], None)
    assert s.instruments[0].rows["trade.id_not_numeric"] == 10  # UUID trade ids
