"""Where numba keeps hftlab's compiled kernels.

numba invalidates a cached function only when *its own* source file changes, not when a kernel
it inlines or calls from another module does (the book inlined into the sim core, the sim
core's modules into one another), nor when a constant it froze at compile time changes in the
module that defines it (``sim/_layout.py``, ``vocab.py``): an upgrade or an edit could silently
run stale machine code. hftlab therefore keys the cache folder by a hash of the sources of
exactly those modules, :data:`KERNEL_MODULES`; any change to one of them gets a fresh folder,
and an edit anywhere else (a docstring of the backtest engine) keeps the compiled kernels.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path

#: The sources compiled code depends on, relative to the package: every module with numba
#: kernels (``@njit``, ``@intrinsic``), and every module defining a constant or type a kernel
#: freezes at compile time. ``tests/test_numba_cache.py`` scans the package and fails if one is
#: missing or listed without need.
KERNEL_MODULES: tuple[str, ...] = (
    # kernels
    "book/_core.py",
    "data/_kernels.py",
    "data/_synth_kernel.py",
    "data/importers/validate.py",
    "signals/microprice.py",
    "signals/quotes.py",
    "signals/volatility.py",
    "sim/_core.py",
    "sim/_exchange.py",
    "sim/_feed.py",
    "sim/_latency.py",
    "sim/_local.py",
    "sim/_matching.py",
    "sim/_queue.py",
    # constants and types the kernels freeze
    "events.py",
    "sim/_layout.py",
    "vocab.py",
)


def _sources_digest(package_dir: Path, modules: Iterable[str]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for rel in sorted(modules):
        h.update(rel.encode())
        try:
            h.update((package_dir / rel).read_bytes())
        except OSError:  # a broken install: still a key of its own, and numba reports the import
            h.update(b"\0missing")
    return h.hexdigest()


def configure(
    package_dir: Path, version: str, modules: Iterable[str] = KERNEL_MODULES
) -> Path | None:
    """Point numba's cache at ``<root>/<version>-<digest>``; return it (None if left alone).

    ``digest`` hashes the sources of ``modules`` (paths relative to ``package_dir``).
    ``root`` is ``$HFTLAB_NUMBA_CACHE_DIR``, else ``$NUMBA_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/hftlab/numba`` (``~/.cache/hftlab/numba``). Set
    ``HFTLAB_NUMBA_CACHE_DIR=off`` to keep numba's default (``__pycache__`` beside the sources).
    """
    root_env = os.environ.get("HFTLAB_NUMBA_CACHE_DIR") or os.environ.get("NUMBA_CACHE_DIR")
    if root_env == "off":
        return None
    if root_env:
        root = Path(root_env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "hftlab" / "numba"
    name = f"{version}-{_sources_digest(package_dir, modules)}"
    folder = root if root.name == name else root / name  # a child process inherits the folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # not writable: numba falls back to its own locations
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = str(folder)
    else:  # read when numba is imported (and inherited by worker processes)
        os.environ["NUMBA_CACHE_DIR"] = str(folder)
    return folder
