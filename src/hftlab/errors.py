"""One exception hierarchy for everything hftlab raises on purpose.

Messages name the file, row or message at fault and, where there is one, the fix. The CLI prints
``HftlabError`` subclasses as one line and exits non-zero; anything else is a bug and gets a
traceback.
"""

from __future__ import annotations

from pathlib import Path


class HftlabError(Exception):
    """Base class of every error hftlab raises deliberately."""


class ConfigError(HftlabError):
    """A setting, config file or command-line option is invalid."""


class InstrumentError(HftlabError):
    """An instrument is unknown or its specification is inconsistent."""


class DataError(HftlabError):
    """Input data is malformed. Carries where: the file and, when known, the row or line."""

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        self.row = row
        self.hint = hint
        where = ""
        if self.path is not None:
            where = self.path if row is None else f"{self.path}:{row}"
            where += ": "
        message = where + problem
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class StoreError(DataError):
    """The Parquet store is missing, incomplete or inconsistent."""


class EngineError(HftlabError):
    """The simulation engine failed; a run never ends early silently."""
