"""Merge of several sorted chunk streams into one sorted chunk stream, with bounded memory.

Each source yields chunks whose key column is non-decreasing within and across chunks. The
merge keeps at most about one chunk per source in memory. Ties are broken by source position,
then by row order, so the output does not depend on how sources happen to be chunked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

import numpy as np

from hftlab.data._kernels import merge_event_parts

T = TypeVar("T")


class ChunkOps(Generic[T]):
    """How to handle one kind of chunk (numpy structured array, Arrow table, ...)."""

    def __init__(
        self,
        key: Callable[[T], np.ndarray],
        length: Callable[[T], int],
        slice_: Callable[[T, int, int], T],
        concat: Callable[[list[T]], T],
        take: Callable[[T, np.ndarray], T],
        merge: Callable[[list[T]], T] | None = None,
    ) -> None:
        self.key = key
        self.length = length
        self.slice = slice_
        self.concat = concat
        self.take = take
        self.merge = merge or self._merge_by_sort

    def _merge_by_sort(self, parts: list[T]) -> T:
        """Several sorted parts into one sorted chunk; ties keep part order."""
        merged = self.concat(parts)
        return self.take(merged, np.argsort(self.key(merged), kind="stable"))


NUMPY_OPS_TS_LOCAL: ChunkOps[np.ndarray] = ChunkOps(
    key=lambda a: a["ts_local"],
    length=len,
    slice_=lambda a, i, j: a[i:j],
    concat=lambda parts: parts[0] if len(parts) == 1 else np.concatenate(parts),
    take=lambda a, idx: a[idx],
    merge=merge_event_parts,
)


def merge_sorted(sources: Iterable[Iterable[T]], ops: ChunkOps[T]) -> Iterator[T]:
    """Yield the rows of all ``sources`` in key order as a stream of chunks.

    A row is released once every source that is not exhausted has shown a key at or beyond it,
    so nothing later can precede it. Rows with key equal to that watermark wait until the sources
    ending exactly on it have been read further, which is what keeps ties in source order.
    """
    iters: list[Iterator[T]] = [iter(s) for s in sources]
    if len(iters) == 1:
        for chunk in iters[0]:
            if ops.length(chunk):
                yield chunk
        return

    buffers: list[T | None] = [None] * len(iters)
    done = [False] * len(iters)

    def pull(i: int) -> None:
        for chunk in iters[i]:
            if ops.length(chunk):
                buf = buffers[i]
                buffers[i] = chunk if buf is None else ops.concat([buf, chunk])
                return
        done[i] = True

    for i in range(len(iters)):
        pull(i)

    while True:
        live = [i for i in range(len(iters)) if buffers[i] is not None]
        if not live:
            return
        open_ = [i for i in live if not done[i]]
        # With every source exhausted (no watermark) everything left is released.
        watermark = min(int(ops.key(buffers[i])[-1]) for i in open_) if open_ else None  # type: ignore[arg-type]
        parts: list[T] = []
        for i in live:
            buf = buffers[i]
            assert buf is not None
            n = ops.length(buf)
            cut = n if watermark is None else int(np.searchsorted(ops.key(buf), watermark, "left"))
            if cut:
                parts.append(ops.slice(buf, 0, cut))
                buffers[i] = None if cut == n else ops.slice(buf, cut, n)
        if parts:
            yield parts[0] if len(parts) == 1 else ops.merge(parts)
        # Refill every open source whose buffer ran dry or ends exactly on the watermark.
        for i in open_:
            buf = buffers[i]
            if buf is None or int(ops.key(buf)[-1]) == watermark:
                pull(i)
