"""`import hftlab` makes Arrow's mimalloc commit its arena on demand (see hftlab/__init__.py),
and a user's own setting wins. Checked through mimalloc's own report of its options."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

CODE = "import hftlab, pyarrow as pa; print(pa.default_memory_pool().backend_name); pa.array([1])"


def _arena_eager_commit(env_value: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMALLOC_")}
    env["MIMALLOC_VERBOSE"] = "1"  # mimalloc prints its options when it starts
    if env_value is not None:
        env["MIMALLOC_ARENA_EAGER_COMMIT"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    )
    backend = out.stdout.split()[0]
    if backend != "mimalloc":
        pytest.skip(f"this pyarrow's default pool is {backend}, not mimalloc")
    m = re.search(r"option 'arena_eager_commit': (-?\d+)", out.stderr)
    assert m, out.stderr[-2000:]
    return int(m.group(1))


def test_import_hftlab_defers_the_arena_commit() -> None:
    assert _arena_eager_commit(None) == 0


def test_a_users_setting_wins() -> None:
    assert _arena_eager_commit("1") == 1
