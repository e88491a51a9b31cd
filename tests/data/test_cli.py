"""The CLI as a user runs it: a real subprocess, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hftlab import __version__
from hftlab.data.store import StreamKey
from hftlab.events import Channel


def hftlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hftlab", *args], capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]


def test_version_and_help() -> None:
    assert hftlab("--version").stdout.strip() == f"hftlab {__version__}"
    out = hftlab("--help").stdout
    for command in ("inspect", "export"):
        assert command in out
        sub = hftlab(command, "--help")
        assert sub.returncode == 0 and "Usage" in sub.stdout


def test_inspect_prints_each_stream(make_store) -> None:
    store = make_store(2000)
    result = hftlab("inspect", str(store.root))
    assert result.returncode == 0, result.stderr
    for stream in ("test/BTCUSDT/depth", "test/BTCUSDT/trade", "test/ETHUSDT/trade"):
        assert stream in result.stdout
    assert "3 streams, 6,000 rows" in result.stdout


def test_missing_directory(tmp_path: Path) -> None:
    assert_one_line_error(hftlab("inspect", str(tmp_path / "absent")), "absent", "does not exist")


def test_unknown_instrument(make_store) -> None:
    store = make_store(10)
    result = hftlab("inspect", str(store.root), "-i", "DOGEUSDT")
    assert_one_line_error(result, "unknown instrument 'DOGEUSDT'", "test/BTCUSDT")


def test_truncated_parquet(make_store) -> None:
    store = make_store(3000)
    path = store.files(StreamKey("test", "BTCUSDT", Channel.DEPTH))[0].path
    path.write_bytes(path.read_bytes()[:-200])
    assert_one_line_error(hftlab("inspect", str(store.root)), str(path), "truncated or corrupt")


def test_wrong_columns(make_store) -> None:
    store = make_store(10)
    path = store.files(StreamKey("test", "BTCUSDT", Channel.TRADE))[0].path
    table = pq.read_table(path)
    table = table.rename_columns(
        [("qty" if c == "price" else c) if c != "qty" else "size" for c in table.column_names]
    )
    pq.write_table(table.replace_schema_metadata(pq.read_schema(path).metadata), path)
    assert_one_line_error(hftlab("inspect", str(store.root)), str(path), "missing column 'price'")


@pytest.mark.parametrize("command", ["inspect", "export"])
def test_errors_are_not_tracebacks(command: str, tmp_path: Path) -> None:
    args = [command, str(tmp_path / "x")] + (
        ["--out", str(tmp_path / "o")] if command == "export" else []
    )
    result = hftlab(*args)
    assert "Traceback" not in result.stderr
    assert_one_line_error(result, "does not exist")


def test_invalid_setting_is_one_line(make_store) -> None:
    import os

    store = make_store(10)
    env = {**os.environ, "HFTLAB_ROW_GROUP_ROWS": "ten"}
    result = subprocess.run(
        [sys.executable, "-m", "hftlab", "inspect", str(store.root)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert_one_line_error(result, "invalid setting", "row_group_rows")
