"""The README's commands are the ones CI runs and the CLI provides."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, f"README has no {marker} block"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_lines[-1].strip() == readme_command("test-command")


def test_demo_command_uses_an_existing_subcommand() -> None:
    from hftlab.cli import app

    command = readme_command("demo-command")
    sub = command.rsplit("hftlab ", 1)[1].split()[0]
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    assert sub in names
