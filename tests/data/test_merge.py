from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlab.data._merge import NUMPY_OPS_TS_LOCAL, merge_sorted
from hftlab.events import EVENT_DTYPE


def _source(keys: list[int], cuts: list[int], tag: int) -> tuple[np.ndarray, list[np.ndarray]]:
    arr = np.zeros(len(keys), dtype=EVENT_DTYPE)
    arr["ts_local"] = np.sort(np.array(keys, dtype=np.int64))
    arr["instrument"] = tag
    arr["qty"] = np.arange(len(keys))  # row order, to check stability
    bounds = sorted({c % (len(keys) + 1) for c in cuts})
    return arr, [a for a in np.split(arr, bounds) if len(a) or True]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, 30), max_size=40),
            st.lists(st.integers(0, 100), max_size=6),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_merge_equals_a_stable_sort_whatever_the_chunking(spec) -> None:
    whole, sources = [], []
    for tag, (keys, cuts) in enumerate(spec):
        arr, chunks = _source(keys, cuts, tag)
        whole.append(arr)
        sources.append(chunks)
    merged = list(merge_sorted(sources, NUMPY_OPS_TS_LOCAL))
    got = np.concatenate(merged) if merged else np.zeros(0, EVENT_DTYPE)
    cat = np.concatenate(whole)
    expected = cat[np.argsort(cat["ts_local"], kind="stable")]  # ties: source order, row order
    assert np.array_equal(got, expected)
    for chunk in merged:
        assert len(chunk) > 0
