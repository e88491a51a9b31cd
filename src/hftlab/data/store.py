"""The Parquet store: a Hive-style dataset ``venue=V/symbol=S/channel=C/date=D/part-N.parquet``.

* Files are zstd-compressed, sorted by ``ts_local`` (the order events reached us), and carry the
  instrument spec and channel in their key-value metadata (``hftlab.instrument``,
  ``hftlab.channel``). The date partition is the UTC date of ``ts_local``.
* Writers write ``part-N.parquet.tmp-<pid>`` and rename it when the file is complete, so a reader
  never sees a half-written file; a crash leaves only ``.tmp-`` files, which readers ignore.
* Readers stream row groups. Files of one stream that overlap in time are merged, files that
  follow one another are chained, so memory stays bounded whatever the span read.

The layout is Hive-style, so ``duckdb``/``polars``/``pyarrow.dataset`` read it directly too.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hftlab.data._kernels import to_steps_into
from hftlab.data._merge import NUMPY_OPS_TS_LOCAL, ChunkOps, merge_sorted
from hftlab.errors import DataError, InstrumentError, StoreError
from hftlab.events import (
    CHANNEL_SCHEMAS,
    EVENT_DTYPE,
    Channel,
    EventKind,
    Instrument,
)
from hftlab.units import NS_PER_DAY, NS_PER_S

FORMAT_VERSION: Final = "1"
META_INSTRUMENT: Final = b"hftlab.instrument"
META_CHANNEL: Final = b"hftlab.channel"
META_VERSION: Final = b"hftlab.format_version"
DEFAULT_ROW_GROUP_ROWS: Final = 131_072
PREFETCH_THREADS: Final = 2  # the machine class we target has 2 cores
READ_BATCH_ROWS: Final = 32_768  # rows decoded at a time per stream (bounds reader memory)

T = TypeVar("T")

_PART_RE = re.compile(r"^part-(\d{5,})\.parquet$")


@dataclass(frozen=True, order=True)
class StreamKey:
    """One stored stream: an instrument's channel."""

    venue: str
    symbol: str
    channel: Channel

    def __str__(self) -> str:
        return f"{self.venue}/{self.symbol}/{self.channel.value}"


@dataclass
class StoredFile:
    """A complete Parquet file of the store, with what its footer says."""

    path: Path
    key: StreamKey
    instrument: Instrument
    rows: int
    row_groups: int
    ts_local_min: int
    ts_local_max: int
    bytes: int
    # (min, max) of ts_local per row group, from the footer statistics, for range pruning.
    group_ranges: list[tuple[int, int]] = field(default_factory=list)


def _date_of(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns // NS_PER_S, tz=dt.UTC).strftime("%Y-%m-%d")


def _validate_name(value: str, what: str) -> str:
    if not value or "/" in value or "=" in value or value.startswith("."):
        raise StoreError(f"invalid {what} name {value!r} (no '/', '=' or leading '.')")
    return value


class Store:
    """A Parquet store rooted at ``root``.

    Parameters
    ----------
    root
        Directory of the dataset.
    create
        Create ``root`` if missing (writers); readers leave it False and get a clear error.
    """

    def __init__(self, root: str | Path, *, create: bool = False) -> None:
        self.root = Path(root)
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise StoreError(
                "store directory does not exist",
                path=self.root,
                hint="create one with `hftlab synth` or `hftlab import`",
            )
        self._file_cache: dict[Path, tuple[float, int, StoredFile]] = {}

    # ---------------------------------------------------------------- layout
    def stream_dir(self, key: StreamKey) -> Path:
        return self.root / f"venue={key.venue}" / f"symbol={key.symbol}" / f"channel={key.channel}"

    def streams(self) -> list[StreamKey]:
        """Every stream with at least one complete file, sorted."""
        keys = []
        for venue_dir in sorted(self.root.glob("venue=*")):
            for symbol_dir in sorted(venue_dir.glob("symbol=*")):
                for channel_dir in sorted(symbol_dir.glob("channel=*")):
                    name = channel_dir.name.split("=", 1)[1]
                    try:
                        channel = Channel(name)
                    except ValueError:
                        raise StoreError(f"unknown channel {name!r}", path=channel_dir) from None
                    if any(channel_dir.glob("date=*/part-*.parquet")):
                        keys.append(
                            StreamKey(
                                venue_dir.name.split("=", 1)[1],
                                symbol_dir.name.split("=", 1)[1],
                                channel,
                            )
                        )
        return keys

    def incomplete_files(self) -> list[Path]:
        """Temporary files left by writers that did not finish (never read)."""
        return sorted(self.root.glob("venue=*/symbol=*/channel=*/date=*/*.parquet.tmp-*"))

    def files(self, key: StreamKey) -> list[StoredFile]:
        """The complete files of a stream, in (date, part) order, validated."""
        directory = self.stream_dir(key)
        paths = sorted(p for p in directory.glob("date=*/part-*.parquet") if _PART_RE.match(p.name))
        return [self._open(path, key) for path in paths]

    def _open(self, path: Path, key: StreamKey | None = None) -> StoredFile:
        stat = path.stat()
        cached = self._file_cache.get(path)
        if cached and cached[0] == stat.st_mtime and cached[1] == stat.st_size:
            return cached[2]
        info = inspect_file(path, expected=key)
        self._file_cache[path] = (stat.st_mtime, stat.st_size, info)
        return info

    # ----------------------------------------------------------- instruments
    def instruments(self) -> list[Instrument]:
        """Every instrument in the store (from file metadata), sorted by venue and symbol."""
        found: dict[tuple[str, str], Instrument] = {}
        for key in self.streams():
            if (key.venue, key.symbol) not in found:
                found[(key.venue, key.symbol)] = self.files(key)[0].instrument
        return [found[k] for k in sorted(found)]

    def instrument(self, venue: str, symbol: str) -> Instrument:
        """The spec of one instrument; :class:`InstrumentError` naming the known ones if absent."""
        for inst in self.instruments():
            if inst.venue == venue and inst.symbol == symbol:
                return inst
        known = ", ".join(i.key for i in self.instruments()) or "none"
        raise InstrumentError(
            f"unknown instrument {venue}/{symbol} in store {self.root} (known: {known})"
        )

    def resolve(
        self,
        instruments: Iterable[str] | None = None,
        channels: Iterable[Channel | str] | None = None,
    ) -> list[StreamKey]:
        """Streams selected by ``venue/symbol`` or bare ``symbol`` names and channel names."""
        all_keys = self.streams()
        if not all_keys:
            raise StoreError("store holds no data", path=self.root)
        chans = None if channels is None else {Channel(c) for c in channels}
        selected: list[StreamKey] = []
        wanted = None if instruments is None else list(instruments)
        if wanted is None:
            selected = list(all_keys)
        else:
            for name in wanted:
                if "/" in name:
                    venue, symbol = name.split("/", 1)
                    matches = [k for k in all_keys if k.venue == venue and k.symbol == symbol]
                else:
                    matches = [k for k in all_keys if k.symbol == name]
                if not matches:
                    known = ", ".join(sorted({f"{k.venue}/{k.symbol}" for k in all_keys}))
                    raise InstrumentError(
                        f"unknown instrument {name!r} in store {self.root} (known: {known})"
                    )
                selected.extend(k for k in matches if k not in selected)
        if chans is not None:
            selected = [k for k in selected if k.channel in chans]
            if not selected:
                raise StoreError(
                    f"no stream with channel(s) {sorted(c.value for c in chans)} in the selection",
                    path=self.root,
                )
        return selected

    # ---------------------------------------------------------------- writing
    def writer(
        self,
        instrument: Instrument,
        channel: Channel | str,
        *,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ) -> ChannelWriter:
        """A writer for one instrument's channel; use it as a context manager."""
        return ChannelWriter(self, instrument, Channel(channel), row_group_rows=row_group_rows)

    # ---------------------------------------------------------------- reading
    def read(
        self,
        key: StreamKey,
        *,
        start: int | None = None,
        end: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> Iterator[pa.Table]:
        """Stream one stream's rows in ``ts_local`` order as Arrow tables of about a row group.

        ``start``/``end`` bound ``ts_local`` (ns, end exclusive). ``columns`` must include
        ``ts_local`` when several files overlap in time (it is the merge key).
        """
        files = self.files(key)
        chains = _chains(files)
        cols = None if columns is None else list(columns)
        sources = [_read_chain(chain, start, end, cols) for chain in chains]
        if len(sources) == 1:
            yield from sources[0]
            return
        if cols is not None and "ts_local" not in cols:
            cols.append("ts_local")
        yield from merge_sorted(sources, _ARROW_OPS)

    def events(
        self,
        keys: Sequence[StreamKey] | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> EventStream:
        """The merged event stream (:data:`EVENT_DTYPE` chunks, ts_local order) of ``keys``."""
        return EventStream(self, list(keys) if keys is not None else self.streams(), start, end)


class EventStream:
    """An iterable of :data:`EVENT_DTYPE` chunks merged across streams in ``ts_local`` order.

    ``instruments`` lists the instruments in the order of the ``instrument`` column. Iterating
    again re-reads the store. Ties in ``ts_local`` keep the order of ``keys``.
    """

    def __init__(
        self, store: Store, keys: list[StreamKey], start: int | None, end: int | None
    ) -> None:
        if not keys:
            raise StoreError("no streams selected", path=store.root)
        self.store = store
        self.keys = keys
        self.start = start
        self.end = end
        self.instruments: list[Instrument] = []
        self._index: dict[tuple[str, str], int] = {}
        self._files = {key: store.files(key) for key in keys}
        for key in keys:
            ident = (key.venue, key.symbol)
            if ident not in self._index:
                self._index[ident] = len(self.instruments)
                self.instruments.append(self._files[key][0].instrument)

    @property
    def rows(self) -> int:
        """Rows in the selected files (before any time bound)."""
        return sum(f.rows for files in self._files.values() for f in files)

    def __iter__(self) -> Iterator[np.ndarray]:
        # Each source reads and converts its next row group on a pool thread (pyarrow and the
        # kernels release the GIL) while this thread merges: reading overlaps merging.
        with ThreadPoolExecutor(
            max_workers=PREFETCH_THREADS, thread_name_prefix="hftlab-read"
        ) as pool:
            sources = []
            for key in self.keys:
                inst_index = self._index[(key.venue, key.symbol)]
                for chain in _chains(self._files[key]):
                    it = _events_of_chain(chain, key, inst_index, self.start, self.end)
                    sources.append(_prefetch(it, pool))
            yield from merge_sorted(sources, NUMPY_OPS_TS_LOCAL)


class ChannelWriter:
    """Writes one instrument's channel into date partitions, atomically per file.

    Rows must arrive in non-decreasing ``ts_local`` order (the order they were received). Each
    call to :meth:`write` accepts an Arrow table/record batch or a mapping of column arrays
    holding exactly the channel's schema columns.
    """

    def __init__(
        self,
        store: Store,
        instrument: Instrument,
        channel: Channel,
        *,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ) -> None:
        _validate_name(instrument.venue, "venue")
        _validate_name(instrument.symbol, "symbol")
        self.store = store
        self.instrument = instrument
        self.channel = channel
        self.schema = CHANNEL_SCHEMAS[channel].with_metadata(
            {
                META_INSTRUMENT: instrument.to_json(),
                META_CHANNEL: channel.value.encode(),
                META_VERSION: FORMAT_VERSION.encode(),
            }
        )
        self.row_group_rows = row_group_rows
        self.key = StreamKey(instrument.venue, instrument.symbol, channel)
        self.rows_written = 0
        self.files_written: list[Path] = []
        self._last_ts = np.iinfo(np.int64).min
        self._day: int | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._final: Path | None = None
        self._closed = False

    # -- context manager: a failure discards the unfinished file, never leaves half a file
    def __enter__(self) -> ChannelWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, data: pa.Table | pa.RecordBatch | Mapping[str, Any]) -> None:
        if self._closed:
            raise StoreError("write after close", path=self.store.stream_dir(self.key))
        table = self._conform(data)
        if table.num_rows == 0:
            return
        ts = table.column("ts_local").to_numpy()
        regress = np.flatnonzero(np.diff(ts) < 0)
        if ts[0] < self._last_ts or regress.size:
            row = 0 if ts[0] < self._last_ts else int(regress[0]) + 1
            raise DataError(
                f"{self.key}: rows must be in ts_local order; row {row} of this batch goes back "
                f"in time ({int(ts[row])} after {int(self._last_ts if row == 0 else ts[row - 1])})",
                hint="sort by ts_local before writing",
            )
        self._last_ts = int(ts[-1])
        days = ts // NS_PER_DAY
        # Split at day boundaries; ts is sorted so each day is one contiguous run.
        bounds = np.flatnonzero(np.diff(days)) + 1
        starts = [0, *bounds.tolist()]
        stops = [*bounds.tolist(), len(ts)]
        for lo, hi in zip(starts, stops, strict=True):
            day = int(days[lo])
            if day != self._day:
                self._flush(final=True)
                self._finish_file()
                self._day = day
            self._pending.append(table.slice(lo, hi - lo))
            self._pending_rows += hi - lo
            if self._pending_rows >= self.row_group_rows:
                self._flush(final=False)
        self.rows_written += table.num_rows

    def close(self) -> list[Path]:
        """Flush and publish every file; returns the paths written."""
        if not self._closed:
            self._flush(final=True)
            self._finish_file()
            self._closed = True
        return self.files_written

    def abort(self) -> None:
        """Drop the unfinished file (files already finished stay)."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
        if self._tmp is not None and self._tmp.exists():
            self._tmp.unlink()
        self._tmp = None
        self._pending = []
        self._pending_rows = 0
        self._closed = True

    # -- internals
    def _conform(self, data: pa.Table | pa.RecordBatch | Mapping[str, Any]) -> pa.Table:
        names = self.schema.names
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if isinstance(data, pa.Table):
            columns = {name: data.column(name) for name in data.column_names}
        else:
            columns = dict(data)
        missing = [n for n in names if n not in columns]
        extra = [n for n in columns if n not in names]
        if missing or extra:
            raise DataError(
                f"{self.key}: columns do not match the {self.channel.value} schema"
                + (f"; missing {missing}" if missing else "")
                + (f"; unexpected {extra}" if extra else "")
            )
        try:
            arrays = [
                pa.array(columns[f.name], type=f.type)
                if not isinstance(columns[f.name], pa.ChunkedArray | pa.Array)
                else columns[f.name].cast(f.type)
                for f in self.schema
            ]
            return pa.Table.from_arrays(arrays, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise DataError(f"{self.key}: cannot convert columns to the schema: {exc}") from exc

    def _flush(self, *, final: bool) -> None:
        if not self._pending_rows:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        rows = table.num_rows
        full = (rows // self.row_group_rows) * self.row_group_rows
        cut = rows if final else full
        if cut:
            self._ensure_writer()
            assert self._writer is not None
            self._writer.write_table(table.slice(0, cut), row_group_size=self.row_group_rows)
        if cut < rows:
            self._pending = [table.slice(cut)]
            self._pending_rows = rows - cut

    def _ensure_writer(self) -> None:
        if self._writer is not None:
            return
        assert self._day is not None
        directory = self.store.stream_dir(self.key) / f"date={_date_of(self._day * NS_PER_DAY)}"
        directory.mkdir(parents=True, exist_ok=True)
        used = [int(m.group(1)) for p in directory.iterdir() if (m := _PART_RE.match(p.name))]
        part = max(used, default=-1) + 1
        self._final = directory / f"part-{part:05d}.parquet"
        self._tmp = directory / f"part-{part:05d}.parquet.tmp-{os.getpid()}"
        self._writer = pq.ParquetWriter(
            self._tmp,
            self.schema,
            compression="zstd",
            compression_level=3,
            write_statistics=["ts_local", "ts_exchange"],
            store_schema=True,
        )

    def _finish_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        assert self._tmp is not None and self._final is not None
        os.replace(self._tmp, self._final)  # atomic on POSIX: readers see all or nothing
        self.files_written.append(self._final)
        self._tmp = None


def write_table(
    store: Store,
    instrument: Instrument,
    channel: Channel | str,
    table: pa.Table | Mapping[str, Any],
    *,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> list[Path]:
    """Write one whole table (already in ts_local order) for an instrument's channel."""
    with store.writer(instrument, channel, row_group_rows=row_group_rows) as writer:
        writer.write(table)
    return writer.files_written


# ------------------------------------------------------------------ validation
def inspect_file(path: str | Path, expected: StreamKey | None = None) -> StoredFile:
    """Open a store file's footer and check it; :class:`StoreError` naming the file if bad."""
    path = Path(path)
    try:
        pf = pq.ParquetFile(path)
    except FileNotFoundError:
        raise StoreError("file not found", path=path) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise StoreError(
            f"not a readable Parquet file (truncated or corrupt: {_first_line(exc)})", path=path
        ) from None
    meta = pf.schema_arrow.metadata or {}
    if META_CHANNEL not in meta or META_INSTRUMENT not in meta:
        raise StoreError(
            "Parquet file has no hftlab metadata (not written by the hftlab store)", path=path
        )
    try:
        channel = Channel(meta[META_CHANNEL].decode())
    except ValueError:
        raise StoreError(f"unknown channel {meta[META_CHANNEL]!r} in metadata", path=path) from None
    try:
        instrument = Instrument.from_json(meta[META_INSTRUMENT])
    except (InstrumentError, msgspec.DecodeError) as exc:
        raise StoreError(f"bad instrument metadata: {exc}", path=path) from None
    want = CHANNEL_SCHEMAS[channel]
    got = pf.schema_arrow
    problems = []
    for f in want:
        idx = got.get_field_index(f.name)
        if idx < 0:
            problems.append(f"missing column {f.name!r}")
        elif got.field(idx).type != f.type:
            problems.append(f"column {f.name!r} is {got.field(idx).type}, expected {f.type}")
    if problems:
        raise StoreError(
            f"wrong columns for channel {channel.value}: " + "; ".join(problems), path=path
        )
    key = StreamKey(instrument.venue, instrument.symbol, channel)
    if expected is not None and key != expected:
        raise StoreError(f"file holds {key} but sits in the partition of {expected}", path=path)
    md = pf.metadata
    ts_col = got.get_field_index("ts_local")
    ranges: list[tuple[int, int]] = []
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        stats = rg.column(ts_col).statistics
        if stats is None or not stats.has_min_max:
            raise StoreError(f"row group {g} has no ts_local statistics", path=path)
        ranges.append((int(stats.min), int(stats.max)))
    return StoredFile(
        path=path,
        key=key,
        instrument=instrument,
        rows=md.num_rows,
        row_groups=md.num_row_groups,
        ts_local_min=min((r[0] for r in ranges), default=0),
        ts_local_max=max((r[1] for r in ranges), default=0),
        bytes=path.stat().st_size,
        group_ranges=ranges,
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _chains(files: list[StoredFile]) -> list[list[StoredFile]]:
    """Group a stream's files into chains of non-overlapping files (each chain sorted in time).

    Files that follow one another (the usual case: one file per day) form one chain, read one
    after another; only files that overlap in time need to be merged.
    """
    chains: list[list[StoredFile]] = []
    for f in sorted(files, key=lambda f: (f.ts_local_min, str(f.path))):
        if f.rows == 0:
            continue
        for chain in chains:
            if chain[-1].ts_local_max <= f.ts_local_min:
                chain.append(f)
                break
        else:
            chains.append([f])
    return chains


def _read_groups(
    info: StoredFile, start: int | None, end: int | None, columns: list[str] | None
) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(file row of the table's first row, table)`` for the row groups in range."""
    try:
        pf = pq.ParquetFile(info.path)
        first_row = 0
        for g, (lo, hi) in enumerate(info.group_ranges):
            group_rows = pf.metadata.row_group(g).num_rows
            if (start is not None and hi < start) or (end is not None and lo >= end):
                first_row += group_rows
                continue
            # Batches, not whole row groups: decoded memory stays a few MB per stream.
            for batch in pf.iter_batches(
                batch_size=READ_BATCH_ROWS, row_groups=[g], columns=columns, use_threads=False
            ):
                table = pa.Table.from_batches([batch])
                i = 0
                if start is not None or end is not None:
                    ts = table.column("ts_local").to_numpy()
                    i = 0 if start is None else int(np.searchsorted(ts, start, "left"))
                    j = len(ts) if end is None else int(np.searchsorted(ts, end, "left"))
                    table = table.slice(i, j - i)
                if table.num_rows:
                    yield first_row + i, table
                first_row += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise StoreError(f"corrupt data: {_first_line(exc)}", path=info.path) from None


def _read_chain(
    chain: list[StoredFile], start: int | None, end: int | None, columns: list[str] | None
) -> Iterator[pa.Table]:
    if columns is not None and (start is not None or end is not None) and "ts_local" not in columns:
        columns = [*columns, "ts_local"]
    for info in chain:
        if (start is not None and info.ts_local_max < start) or (
            end is not None and info.ts_local_min >= end
        ):
            continue
        for _, table in _read_groups(info, start, end, columns):
            yield table


def _prefetch(iterator: Iterator[T], pool: ThreadPoolExecutor) -> Iterator[T]:
    """Yield ``iterator``'s items, computing the next one on ``pool`` while the caller works.

    At most one item is in flight per source, so memory stays at about two chunks a source and
    the iterator is never entered by two threads at once.
    """
    done = object()

    def step() -> Any:
        return next(iterator, done)

    future = pool.submit(step)
    while True:
        item = future.result()  # re-raises the source's error (e.g. a corrupt file) here
        if item is done:
            return
        future = pool.submit(step)
        yield item


def _arrow_take(table: pa.Table, idx: np.ndarray) -> pa.Table:
    return table.take(pa.array(idx))


def _arrow_concat(parts: list[pa.Table]) -> pa.Table:
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts).combine_chunks()


_ARROW_OPS: ChunkOps[pa.Table] = ChunkOps(
    key=lambda t: t.column("ts_local").to_numpy(),
    length=lambda t: t.num_rows,
    slice_=lambda t, i, j: t.slice(i, j - i),
    concat=_arrow_concat,
    take=_arrow_take,
)


def _events_of_chain(
    chain: list[StoredFile],
    key: StreamKey,
    inst_index: int,
    start: int | None,
    end: int | None,
) -> Iterator[np.ndarray]:
    columns = _EVENT_COLUMNS[key.channel]
    for info in chain:
        if (start is not None and info.ts_local_max < start) or (
            end is not None and info.ts_local_min >= end
        ):
            continue
        for first_row, table in _read_groups(info, start, end, columns):
            try:
                yield table_to_events(table, key.channel, info.instrument, inst_index)
            except InstrumentError as exc:
                # The kernel names the row within this table; make it the row of the file.
                row = int(re.search(r"\(row (\d+)\)", str(exc)).group(1))  # type: ignore[union-attr]
                msg = str(exc).replace(f"(row {row})", f"(row {first_row + row})")
                raise StoreError(msg, path=info.path) from None


_EVENT_COLUMNS: Final[dict[Channel, list[str]]] = {
    Channel.DEPTH: ["ts_exchange", "ts_local", "kind", "side", "price", "qty", "flags"],
    Channel.TRADE: ["ts_exchange", "ts_local", "side", "price", "qty", "flags"],
    Channel.BBO: [
        "ts_exchange",
        "ts_local",
        "bid_price",
        "bid_qty",
        "ask_price",
        "ask_qty",
        "flags",
    ],
}


def table_to_events(
    table: pa.Table, channel: Channel, instrument: Instrument, inst_index: int = 0
) -> np.ndarray:
    """Convert one channel table to :data:`EVENT_DTYPE` rows (prices to ticks, sizes to lots).

    Raises :class:`InstrumentError` naming the first off-grid value and its row in ``table``.
    """
    n = table.num_rows
    out = np.empty(n, dtype=EVENT_DTYPE)
    tick_num, tick_den = instrument.tick_ratio
    lot_num, lot_den = instrument.lot_ratio

    def col(name: str) -> np.ndarray:
        return table.column(name).to_numpy()

    def steps(name: str, field: str, scale: float, what: str, step: float) -> None:
        values = np.ascontiguousarray(col(name), dtype=np.float64)
        bad = to_steps_into(values, scale, out[field])
        if bad >= 0:
            raise InstrumentError(
                f"{instrument.key} {what} {values[bad]!r} (row {bad}) is not a multiple of {step!r}"
            )

    price_scale, qty_scale = tick_den / tick_num, lot_den / lot_num
    out["ts_exchange"] = col("ts_exchange")
    out["ts_local"] = col("ts_local")
    out["instrument"] = inst_index
    out["flags"] = col("flags")
    out["_pad"] = 0
    if channel is Channel.BBO:
        out["kind"] = EventKind.BBO
        out["side"] = 0
        steps("bid_price", "price", price_scale, "bid price", instrument.tick_size)
        steps("bid_qty", "qty", qty_scale, "bid quantity", instrument.lot_size)
        steps("ask_price", "price2", price_scale, "ask price", instrument.tick_size)
        steps("ask_qty", "qty2", qty_scale, "ask quantity", instrument.lot_size)
    else:
        out["kind"] = col("kind") if channel is Channel.DEPTH else EventKind.TRADE
        out["side"] = col("side")
        steps("price", "price", price_scale, "price", instrument.tick_size)
        steps("qty", "qty", qty_scale, "quantity", instrument.lot_size)
        out["price2"] = 0
        out["qty2"] = 0
    return out
