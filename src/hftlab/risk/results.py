"""The risk manager's results: ``risk.parquet`` rows and the ``summary.json`` ``risk`` entry.

The table's schema is :data:`hftlab.runfolder.RISK_SCHEMA` (the run folder's files are defined
there once).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from hftlab.risk.config import RULES
from hftlab.runfolder import RISK_SCHEMA
from hftlab.vocab import RISK_TRIGGER_ACTIONS

__all__ = ["RISK_SCHEMA", "RiskRow", "risk_summary", "risk_table"]

#: One ``risk.parquet`` row: ``(ts_local, instrument, rule, action, value, limit, detail)``.
RiskRow = tuple[int, str, str, str, float, float, str]


def risk_table(events: list[RiskRow]) -> pa.Table:
    """Rows ``(ts_local, instrument, rule, action, value, limit, detail)`` to a table."""
    cols = list(zip(*events, strict=True)) if events else [[] for _ in RISK_SCHEMA]
    return pa.Table.from_arrays(
        [pa.array(list(col), f.type) for col, f in zip(cols, RISK_SCHEMA, strict=True)],
        schema=RISK_SCHEMA,
    )


def risk_summary(events: list[RiskRow], killed: bool, kill_ts: int | None) -> dict[str, Any]:
    """Per rule, how often it fired (its ``block_order``, ``pull_quotes`` and ``kill`` rows)."""
    counts = dict.fromkeys(RULES, 0)
    for row in events:
        if row[3] in RISK_TRIGGER_ACTIONS:
            counts[row[2]] += 1
    return {"triggers": counts, "killed": bool(killed), "kill_ts": kill_ts}
