"""Shared by the bench scripts: the cached synthetic store they measure on."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path


def _generator_digest() -> str:
    """Hash of the synthetic market's code: a changed generator never reuses a cached store."""
    import hftlab.data._synth_kernel as kernel
    import hftlab.data.synthetic as synthetic

    h = hashlib.blake2b(digest_size=4)
    for mod in (synthetic, kernel):
        h.update(Path(mod.__file__).read_bytes())  # type: ignore[arg-type]
    return h.hexdigest()


def synth_store(root: Path, n: int) -> Path:
    """The seeded ``n``-event synthetic BTCUSDT store under ``root`` (made once, then reused)."""
    from hftlab.data.synthetic import synthesize

    path = root / f"synth-{n}-{_generator_digest()}"
    if not (path / ".complete").exists():
        t = time.perf_counter()
        synthesize(path, events=n, instruments=["BTCUSDT"], seed=7, force=True)
        (path / ".complete").write_text("ok\n")
        print(f"  synthesized {n:,} events in {time.perf_counter() - t:.1f} s -> {path}")
    return path
