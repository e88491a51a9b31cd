"""The README's main job, run as a user runs it (smaller, same code path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from hftlab.data.store import Store


def test_demo_synthesizes_inspects_and_backtests(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "hftlab", "demo", "--out", str(out), "--events", "200000"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]", "9 streams, 200,000 rows", "results ->"):
        assert step in first.stdout, step
    report = out / "run" / "report.html"
    assert report.stat().st_size > 100_000  # bokeh's JavaScript is inline: works offline
    assert "cdn.bokeh.org" not in report.read_text()
    store = Store(out / "store")
    assert sum(len(c) for c in store.events()) == 200_000
    assert (out / "run").is_dir() and any((out / "run").rglob("*.parquet"))
    # Running it again replaces the previous output instead of failing or appending.
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert sum(len(c) for c in Store(out / "store").events()) == 200_000
    ts = np.concatenate([c["ts_local"] for c in Store(out / "store").events()])
    assert np.all(np.diff(ts) >= 0)


def test_packaged_demo_config_is_the_repository_example() -> None:
    from hftlab.demo import demo_config_path

    repo = Path(__file__).resolve().parents[2] / "configs" / "as_synth.toml"
    assert demo_config_path().read_text() == repo.read_text()
