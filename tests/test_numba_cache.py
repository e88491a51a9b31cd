"""The compiled-kernel cache folder follows the kernels' sources (no stale machine code)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hftlab._numba_cache import configure


def _package(tmp: Path, kernel: str) -> Path:
    pkg = tmp / "pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "kernel.py").write_text(kernel)
    (pkg / "plain.py").write_text("X = 1\n")
    return pkg


def test_folder_changes_with_kernel_sources_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HFTLAB_NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    pkg = _package(tmp_path, "from numba import njit\n")
    first = configure(pkg, "1.0")
    (pkg / "plain.py").write_text("X = 2\n")  # no kernel in it: same folder
    assert configure(pkg, "1.0") == first
    (pkg / "kernel.py").write_text("from numba import njit  # edited\n")
    second = configure(pkg, "1.0")
    assert second != first
    assert second is not None and second.parent == tmp_path / "cache"
    assert configure(pkg, "1.1") != second  # a new version never reuses a folder


def test_child_process_inherits_the_same_folder(tmp_path) -> None:
    env_code = (
        "import os, hftlab, numba; "
        "print(hftlab.NUMBA_CACHE_DIR); print(numba.config.CACHE_DIR)"
    )
    import os

    env = {**os.environ, "HFTLAB_NUMBA_CACHE_DIR": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", env_code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == out[1] and Path(out[0]).parent == tmp_path
    # A grandchild that inherits NUMBA_CACHE_DIR from its parent lands in the very same folder.
    env2 = {**os.environ, "NUMBA_CACHE_DIR": out[0]}
    env2.pop("HFTLAB_NUMBA_CACHE_DIR", None)
    again = subprocess.run(
        [sys.executable, "-c", env_code], env=env2, capture_output=True, text=True, check=True
    ).stdout.split()
    assert again[0] == out[0]
