"""Reading any span keeps peak memory bounded: 10M events streamed in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import BTC, ETH, depth_columns, trade_columns
from hftlab.data.store import Store
from hftlab.events import EVENT_DTYPE, Channel

# Peaks come from the child's own VmHWM: its ru_maxrss would start at pytest's peak (a child
# spawned with vfork inherits the parent's high-water mark at exec), hiding any growth.
READER = r"""
import json, sys
import numpy as np
from hftlab.data.store import Store
def peak_kib():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
store = Store(sys.argv[1])
base = None
rows = 0
checksum = 0
last = -2**63
for chunk in store.events():
    ts = chunk["ts_local"]
    assert ts[0] >= last and (np.diff(ts) >= 0).all()
    last = int(ts[-1])
    rows += len(chunk)
    checksum += int(chunk["qty"].sum())
    if base is None:  # the runtime (numba's compiler, Arrow's pools) is up after one chunk
        base = peak_kib()
peak = peak_kib()
print(json.dumps({"rows": rows, "base_kib": base, "peak_kib": peak, "checksum": checksum}))
"""


@pytest.mark.slow
def test_streaming_ten_million_events_keeps_memory_bounded(tmp_path: Path) -> None:
    store = Store(tmp_path / "big", create=True)
    per_stream, chunk = 10_000_000 // 4, 500_000
    start = 1_723_161_000_000_000_000
    expected_qty = 0
    for inst, channel, offset, make in (
        (BTC, Channel.TRADE, 0, trade_columns),
        (BTC, Channel.DEPTH, 333, depth_columns),
        (ETH, Channel.TRADE, 666, trade_columns),
        (ETH, Channel.DEPTH, 999, depth_columns),
    ):
        with store.writer(inst, channel) as writer:
            for i in range(per_stream // chunk):
                ts = start + offset + (np.arange(chunk, dtype=np.int64) + i * chunk) * 1000
                cols = make(ts, inst, seed=i)
                writer.write(cols)
                expected_qty += int(inst.qty_to_lots(cols["qty"]).sum())
    result = subprocess.run(
        [sys.executable, "-c", READER, str(store.root)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["rows"] == 10_000_000
    assert stats["checksum"] == expected_qty
    in_memory_mib = 10_000_000 * EVENT_DTYPE.itemsize / 2**20  # 534 MiB as one array
    growth_mib = (stats["peak_kib"] - stats["base_kib"]) / 1024
    print(
        f"RSS growth streaming: {growth_mib:.0f} MiB; as one array: {in_memory_mib:.0f} MiB"
    )
    assert growth_mib < in_memory_mib / 5
