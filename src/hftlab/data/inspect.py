"""``hftlab inspect``: what a store holds, per instrument and channel, read in bounded memory.

For each stream: time span (both clocks), rows per event kind and per flag, feed latency
(``ts_local - ts_exchange``) percentiles with negative values counted, timestamp regressions
(a row whose stamp is earlier than the previous row's, in stored order), and file count/size.
Latency percentiles come from a log-bucketed histogram (0.5 % relative resolution), so memory
does not grow with the number of rows.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from hftlab.data.store import Store, StoredFile, StoreError, StreamKey, inspect_file
from hftlab.events import (
    FLAG_RESYNC,
    FLAG_STALE,
    FLAG_TS_INFERRED,
    FLAG_UNSYNCED,
    NS_PER_S,
    Channel,
    EventKind,
)

_BINS_PER_DECADE: Final = 460  # 10**(1/460) - 1 ≈ 0.5 % bucket width
_DECADES: Final = 13  # 1 ns .. 10**13 ns (~2.8 h); larger magnitudes land in the last bucket
_NBINS: Final = _BINS_PER_DECADE * _DECADES + 1


class LatencyHistogram:
    """Signed, log-bucketed histogram of nanosecond latencies with exact min, max and count."""

    def __init__(self) -> None:
        self.positive = np.zeros(_NBINS, dtype=np.int64)
        self.negative = np.zeros(_NBINS, dtype=np.int64)
        self.zero = 0
        self.count = 0
        self.min: int | None = None
        self.max: int | None = None
        self.total = 0.0

    @staticmethod
    def _bucket(magnitude: np.ndarray) -> np.ndarray:
        b = np.floor(np.log10(np.maximum(magnitude, 1).astype(np.float64)) * _BINS_PER_DECADE)
        return np.minimum(b.astype(np.int64), _NBINS - 1)

    def add(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        values = values.astype(np.int64, copy=False)
        self.count += int(values.size)
        self.total += float(values.sum(dtype=np.float64))
        lo, hi = int(values.min()), int(values.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        pos = values[values > 0]
        neg = values[values < 0]
        self.zero += int(values.size - pos.size - neg.size)
        self.positive += np.bincount(self._bucket(pos), minlength=_NBINS)
        self.negative += np.bincount(self._bucket(-neg), minlength=_NBINS)

    @property
    def negatives(self) -> int:
        return int(self.negative.sum())

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """Approximate ``q``-quantile (0..1) in ns, clamped to the exact min/max."""
        if not self.count:
            return None
        rank = round(q * (self.count - 1))  # nearest rank
        # Ordered buckets: most negative first, then zero, then positive ascending.
        counts = np.concatenate([self.negative[::-1], [self.zero], self.positive])
        idx = int(np.searchsorted(np.cumsum(counts), rank + 1, side="left"))
        if idx < _NBINS:
            b = _NBINS - 1 - idx
            value = -(10 ** ((b + 0.5) / _BINS_PER_DECADE))
        elif idx == _NBINS:
            value = 0.0
        else:
            b = idx - _NBINS - 1
            value = 10 ** ((b + 0.5) / _BINS_PER_DECADE)
        assert self.min is not None and self.max is not None
        return float(min(max(value, self.min), self.max))


@dataclass
class StreamReport:
    """What ``inspect`` found about one stream."""

    key: StreamKey
    files: int
    bytes: int
    rows: int = 0
    rows_by_kind: dict[str, int] = field(default_factory=dict)
    rows_by_flag: dict[str, int] = field(default_factory=dict)
    ts_local_first: int | None = None
    ts_local_last: int | None = None
    ts_exchange_min: int | None = None
    ts_exchange_max: int | None = None
    exchange_regressions: int = 0
    local_regressions: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def duration_s(self) -> float:
        if self.ts_local_first is None or self.ts_local_last is None:
            return 0.0
        return (self.ts_local_last - self.ts_local_first) / NS_PER_S


@dataclass
class StoreReport:
    root: Path
    streams: list[StreamReport]
    incomplete_files: list[Path]


_FLAG_NAMES: Final = {
    FLAG_UNSYNCED: "unsynced",
    FLAG_TS_INFERRED: "ts_inferred",
    FLAG_RESYNC: "resync",
    FLAG_STALE: "stale",
}


def _kind_counts(channel: Channel, table: pa.Table) -> dict[str, int]:
    if channel is Channel.DEPTH:
        kinds = table.column("kind").to_numpy()
        counts = np.bincount(kinds, minlength=8)
        return {EventKind(k).name.lower(): int(counts[k]) for k in np.flatnonzero(counts)}
    if channel is Channel.TRADE:
        side = table.column("side").to_numpy()
        return {
            "trade_buy": int((side > 0).sum()),
            "trade_sell": int((side < 0).sum()),
            "trade_unknown_side": int((side == 0).sum()),
        }
    return {"bbo": table.num_rows}


def inspect_stream(key: StreamKey, files: Sequence[StoredFile]) -> StreamReport:
    """Scan one stream's files row group by row group, in stored (date, part) order."""
    report = StreamReport(key=key, files=len(files), bytes=sum(f.bytes for f in files))
    columns = ["ts_exchange", "ts_local", "flags"]
    if key.channel is Channel.DEPTH:
        columns.append("kind")
    elif key.channel is Channel.TRADE:
        columns.append("side")
    prev_ex: int | None = None
    prev_local: int | None = None
    # Files are read in stored (date, part) order, so regressions across files are seen too.
    for info in files:
        for table in _row_groups(info.path, columns):
            if table.num_rows == 0:
                continue
            ts_ex = table.column("ts_exchange").to_numpy()
            ts_loc = table.column("ts_local").to_numpy()
            report.rows += table.num_rows
            for name, n in _kind_counts(key.channel, table).items():
                report.rows_by_kind[name] = report.rows_by_kind.get(name, 0) + n
            flags = table.column("flags").to_numpy()
            for bit, name in _FLAG_NAMES.items():
                n = int(np.count_nonzero(flags & bit))
                if n:
                    report.rows_by_flag[name] = report.rows_by_flag.get(name, 0) + n
            report.exchange_regressions += int(np.count_nonzero(np.diff(ts_ex) < 0))
            report.local_regressions += int(np.count_nonzero(np.diff(ts_loc) < 0))
            if prev_ex is not None and ts_ex[0] < prev_ex:
                report.exchange_regressions += 1
            if prev_local is not None and ts_loc[0] < prev_local:
                report.local_regressions += 1
            prev_ex, prev_local = int(ts_ex[-1]), int(ts_loc[-1])
            if report.ts_local_first is None:
                report.ts_local_first = int(ts_loc[0])
            report.ts_local_last = int(ts_loc[-1])
            lo, hi = int(ts_ex.min()), int(ts_ex.max())
            report.ts_exchange_min = (
                lo if report.ts_exchange_min is None else min(report.ts_exchange_min, lo)
            )
            report.ts_exchange_max = (
                hi if report.ts_exchange_max is None else max(report.ts_exchange_max, hi)
            )
            report.latency.add(ts_loc - ts_ex)
    return report


def _row_groups(path: Path, columns: list[str]) -> Iterator[pa.Table]:
    try:
        pf = pq.ParquetFile(path)
        for g in range(pf.num_row_groups):
            yield pf.read_row_group(g, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise StoreError(f"corrupt data: {str(exc).splitlines()[0]}", path=path) from None


def inspect_store(path: str | Path, instruments: Sequence[str] | None = None) -> StoreReport:
    """Inspect a store directory, or a single store Parquet file."""
    path = Path(path)
    if path.is_file():
        info = inspect_file(path)
        return StoreReport(
            root=path, streams=[inspect_stream(info.key, [info])], incomplete_files=[]
        )
    store = Store(path)
    return StoreReport(
        root=path,
        streams=[inspect_stream(key, store.files(key)) for key in store.resolve(instruments)],
        incomplete_files=store.incomplete_files(),
    )


# ------------------------------------------------------------------ rendering
def _fmt_ts(ts: int | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts / NS_PER_S, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _fmt_ms(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:,.3f}"


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def render_report(report: StoreReport, console: Console | None = None) -> None:
    """Print the report as rich tables (what ``hftlab inspect`` shows)."""
    # Piped output gets a wide console so the tables stay readable in logs and files.
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    overview = Table(title=f"store {report.root}", title_justify="left")
    for col in (
        "stream",
        "rows",
        "rows per kind",
        "flags",
        "first (local, UTC)",
        "last",
        "span s",
        "files",
        "size",
    ):
        overview.add_column(
            col, justify="right" if col in {"rows", "span s", "files", "size"} else "left"
        )
    for s in report.streams:
        overview.add_row(
            str(s.key),
            f"{s.rows:,}",
            " ".join(f"{k}={v:,}" for k, v in s.rows_by_kind.items() if v),
            " ".join(f"{k}={v:,}" for k, v in s.rows_by_flag.items()) or "-",
            _fmt_ts(s.ts_local_first),
            _fmt_ts(s.ts_local_last),
            f"{s.duration_s:,.1f}",
            str(s.files),
            _fmt_bytes(s.bytes),
        )
    console.print(overview)

    latency = Table(title="feed latency ts_local − ts_exchange (ms)", title_justify="left")
    for col in (
        "stream",
        "min",
        "p1",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "mean",
        "negative",
        "regressions ex/local",
    ):
        latency.add_column(col, justify="left" if col == "stream" else "right")
    for s in report.streams:
        h = s.latency
        neg = h.negatives
        latency.add_row(
            str(s.key),
            _fmt_ms(h.min),
            _fmt_ms(h.quantile(0.01)),
            _fmt_ms(h.quantile(0.5)),
            _fmt_ms(h.quantile(0.9)),
            _fmt_ms(h.quantile(0.99)),
            _fmt_ms(h.quantile(0.999)),
            _fmt_ms(h.max),
            _fmt_ms(h.mean),
            f"{neg:,} ({100 * neg / h.count:.1f}%)" if h.count else "-",
            f"{s.exchange_regressions:,} / {s.local_regressions:,}",
        )
    console.print(latency)
    total = sum(s.rows for s in report.streams)
    size = sum(s.bytes for s in report.streams)
    console.print(f"{len(report.streams)} streams, {total:,} rows, {_fmt_bytes(size)}")
    if report.incomplete_files:
        console.print(
            f"[yellow]{len(report.incomplete_files)} incomplete file(s) from interrupted writers "
            f"(ignored by readers):[/yellow] "
            + ", ".join(str(p) for p in report.incomplete_files[:5])
        )
