"""hftlab: high-frequency trading research, from recording to report."""

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Arrow's bundled mimalloc commits its arena eagerly, and on kernels with transparent huge
# pages every 2 MiB it touches then counts whole: streaming a store holds ~20 MB of live Arrow
# buffers but 60-90 MB of RSS. Committing on demand is as fast (bench/backtest_speed.py). It
# has to be in the environment before pyarrow loads; a user's own setting wins.
os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")

from hftlab._numba_cache import configure as _configure_numba_cache

try:
    __version__ = version("hftlab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

#: Folder of numba's compiled-kernel cache for these exact sources (see ``_numba_cache``).
NUMBA_CACHE_DIR = _configure_numba_cache(Path(__file__).parent, __version__)

__all__ = ["NUMBA_CACHE_DIR", "__version__"]
