"""CSV reading shared by the CSV importers: Arrow's fast reader, with exact error locations.

Arrow does not say which line failed to convert, so on any conversion error the file is scanned
again with the standard library to name the first bad line and column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from hftlab.data.importers._common import open_binary
from hftlab.errors import DataError

_TRUE: Final = {"true", "True", "TRUE", "1"}
_FALSE: Final = {"false", "False", "FALSE", "0"}


def _check_int(v: str) -> None:
    int(v)


def _check_float(v: str) -> None:
    float(v)


def _check_bool(v: str) -> None:
    if v not in _TRUE and v not in _FALSE:
        raise ValueError(v)


_CHECKS: Final[dict[pa.DataType, Callable[[str], None]]] = {
    pa.int64(): _check_int,
    pa.float64(): _check_float,
    pa.bool_(): _check_bool,
}


def read_bytes(path: str | Path) -> bytes:
    """Whole (decompressed) file content; DataError for truncated/corrupt archives."""
    try:
        with open_binary(path) as fh:
            return fh.read()
    except DataError:
        raise
    except (EOFError, OSError, ValueError) as exc:
        raise DataError(f"truncated or corrupt file ({exc})", path=path) from None


def first_line(data: bytes) -> str:
    end = data.find(b"\n")
    return data[: end if end >= 0 else len(data)].decode("utf-8", "replace").strip()


def read_csv(
    path: str | Path,
    data: bytes,
    names: Sequence[str],
    types: Mapping[str, pa.DataType],
    *,
    header: bool,
    nullable: Sequence[str] = (),
) -> pa.Table:
    """Parse ``data`` (the content of ``path``) with exactly the columns ``names``.

    ``header`` says whether the first line is a header (skipped; it must already have been
    checked by the caller). Columns in ``types`` are converted; a bad value raises a DataError
    naming the line. Columns in ``nullable`` may be empty.
    """
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=list(names), skip_rows=1 if header else 0),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(types),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                true_values=sorted(_TRUE),
                false_values=sorted(_FALSE),
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        locate_error(path, data, names, types, header=header, nullable=nullable)
        raise DataError(f"cannot parse CSV: {exc}", path=path) from None
    for name in types:
        col = table.column(name)
        if col.null_count and name not in nullable:
            row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise DataError(f"empty value in column {name!r}", path=path, row=row + 1 + header)
    return table


def locate_error(
    path: str | Path,
    data: bytes,
    names: Sequence[str],
    types: Mapping[str, pa.DataType],
    *,
    header: bool,
    nullable: Sequence[str] = (),
) -> None:
    """Raise a DataError at the first line with a wrong field count or an unparsable value."""
    # newline="" lets the csv module see a bare '\r' as a line end (as Arrow does).
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
    idx = {n: i for i, n in enumerate(names)}
    lines = enumerate(reader, start=1)
    while True:
        try:
            lineno, fields = next(lines)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"malformed CSV: {exc}", path=path, row=reader.line_num) from None
        if header and lineno == 1:
            continue
        if not fields:
            continue
        if len(fields) != len(names):
            raise DataError(
                f"expected {len(names)} columns ({','.join(names)}), got {len(fields)}",
                path=path,
                row=lineno,
            )
        for name, typ in types.items():
            v = fields[idx[name]]
            if v == "" and name in nullable:
                continue
            check = _CHECKS.get(typ)
            if check is None:
                continue
            try:
                check(v)
            except ValueError:
                raise DataError(
                    f"column {name!r}: invalid {typ} value {v[:40]!r}", path=path, row=lineno
                ) from None


def check_sorted(path: str | Path, ts: np.ndarray, *, header: bool, what: str) -> None:
    """DataError at the first line whose ``what`` timestamp goes back in time."""
    if ts.shape[0] > 1:
        back = np.flatnonzero(np.diff(ts) < 0)
        if back.size:
            row = int(back[0]) + 1
            raise DataError(
                f"{what} goes back in time ({int(ts[row])} after {int(ts[row - 1])})",
                path=path,
                row=row + 1 + header,
                hint="sort the file by time first",
            )
