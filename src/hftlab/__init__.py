"""hftlab: high-frequency trading research, from recording to report."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from hftlab._numba_cache import configure as _configure_numba_cache

try:
    __version__ = version("hftlab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

#: Folder of numba's compiled-kernel cache for these exact sources (see ``_numba_cache``).
NUMBA_CACHE_DIR = _configure_numba_cache(Path(__file__).parent, __version__)

__all__ = ["NUMBA_CACHE_DIR", "__version__"]
