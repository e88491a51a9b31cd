"""Where numba keeps hftlab's compiled kernels.

numba invalidates a cached function only when *its own* source file changes, not when a kernel
it inlines from another module does (e.g. the book inlined into the sim core), so an upgrade or
an edit could silently run stale machine code. hftlab therefore keys the cache folder by a
hash of all its compiled modules' sources: any change to one of them gets a fresh folder.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def _sources_digest(package_dir: Path) -> str:
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(package_dir.rglob("*.py")):
        data = path.read_bytes()
        if b"numba" in data:  # only modules with kernels (others don't affect machine code)
            h.update(str(path.relative_to(package_dir)).encode())
            h.update(data)
    return h.hexdigest()


def configure(package_dir: Path, version: str) -> Path | None:
    """Point numba's cache at ``<root>/<version>-<digest>``; return it (None if left alone).

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
    name = f"{version}-{_sources_digest(package_dir)}"
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
