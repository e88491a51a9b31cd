"""``notebooks/analysis.ipynb`` executed top to bottom, as CI runs it.

The notebook is copied into a temporary folder and run there with nbclient on this
interpreter's ``python3`` kernel (jupyter_client starts a kernelspec whose ``argv[0]`` is
``python`` with ``sys.executable``; the test checks the kernel reports the same interpreter).
Outputs go to the copy only, never back into the repository.

Real data: with ``HFTLAB_REAL_DATA`` set the notebook imports the Binance captures (sections 2
and 3) and the book match rate must be printed and ≥ 99 %. Without it the notebook must say so
and still run; but when CI is set, the ``real_data`` fixture fails the test first (the same
policy as every real-data test).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("bokeh")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analysis.ipynb"
CELL_TIMEOUT_S = 600  # the first run on a machine compiles the numba kernels


def _text(cell: dict) -> str:
    """Everything a code cell printed or displayed (stream text, text/plain, text/html)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        data = out.get("data", {})
        for mime in ("text/plain", "text/html", "text/markdown"):
            if mime in data:
                value = data[mime]
                parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


def _tagged(nb, tag: str) -> dict:
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def _set_env(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _execute(tmp_path: Path, real: Path | None) -> tuple[nbformat.NotebookNode, float]:
    work = tmp_path / "nb"
    work.mkdir()
    path = work / NOTEBOOK.name
    shutil.copy(NOTEBOOK, path)
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "the notebook is stored with outputs: clear them before committing"
    )
    # The kernel inherits this process's environment: pass the data folder through (absolute:
    # CI gives ../shared/data and the kernel runs in another folder) or make sure an unset run
    # really is unset, and keep IPython's history out of the home folder.
    env = {
        "HFTLAB_REAL_DATA": str(real.resolve()) if real is not None else None,
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    saved = {k: os.environ.get(k) for k in env}
    _set_env(env)
    try:
        client = nbclient.NotebookClient(
            nb,
            kernel_name="python3",
            timeout=CELL_TIMEOUT_S,
            resources={"metadata": {"path": str(work)}},
        )
        t0 = time.perf_counter()
        client.execute()  # raises CellExecutionError on the first failing cell
        seconds = time.perf_counter() - t0
    finally:
        _set_env(saved)
    nbformat.write(nb, path)  # the executed copy, for a look after a failure (tmp only)
    assert (work / "notebook-out").is_dir()
    return nb, seconds


def _check_common(nb) -> None:
    setup = _text(_tagged(nb, "setup"))
    assert sys.executable in setup, f"the kernel runs another interpreter: {setup}"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    # bokeh figures shown inline (output_notebook + show): one bokehjs document per show()
    shown = [
        o
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.bokehjs_exec.v0+json" in o.get("data", {})
    ]
    assert len(shown) >= 6, f"only {len(shown)} bokeh figures shown"
    metrics = _text(_tagged(nb, "metrics-table"))
    assert "<table class='hftlab-metrics'>" in metrics
    for key in ("pnl", "sharpe_per_period", "fill_rate", "markout_1s_bps"):
        assert f"<td>{key}</td>" in metrics, key
    assert '"fills": ' in metrics
    fills = int(re.search(r'"fills": (\d+)', metrics).group(1))
    assert fills > 0, "the A-S backtest filled nothing"
    compare = _text(_tagged(nb, "glft"))
    assert "Avellaneda–Stoikov" in compare and "GLFT" in compare
    figures = _text(_tagged(nb, "report-figures"))
    assert "report.html" in figures
    grid = _text(_tagged(nb, "grid"))
    assert re.search(r"9 of 9 points evaluated", grid), grid[:500]
    assert "<table>" in _text(_tagged(nb, "benchmarks"))
    assert "this machine, this run" in _text(_tagged(nb, "this-run"))


def test_notebook_runs_with_real_data(real_data: Path, tmp_path: Path) -> None:
    nb, seconds = _execute(tmp_path, real_data)
    print(f"\nnotebook executed in {seconds:.1f} s")
    _check_common(nb)
    book = _text(_tagged(nb, "book-match"))
    match = re.search(r"book match rate: ([0-9.]+) %", book)
    assert match, book
    assert float(match.group(1)) >= 99.0, book
    assert "--validate: OK" in book
    micro = _text(_tagged(nb, "microprice"))
    assert "spot BTCUSDT" in micro and "USD-M BTCUSDT" in micro


@pytest.mark.skipif(
    bool(os.environ.get("HFTLAB_REAL_DATA")) or bool(os.environ.get("CI")),
    reason="the real-data run covers the notebook (CI always has the data)",
)
def test_notebook_runs_without_real_data(tmp_path: Path) -> None:
    nb, seconds = _execute(tmp_path, None)
    print(f"\nnotebook executed in {seconds:.1f} s")
    _check_common(nb)
    assert "HFTLAB_REAL_DATA` is not set" in _text(_tagged(nb, "real-data-check"))
    assert "synthetic BTCUSDT" in _text(_tagged(nb, "microprice"))
