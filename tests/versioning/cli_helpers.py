"""The versioning CLI tests: the real ``quorum`` in a subprocess (tests/cli's ``Cli``), with the ledger
agents of ``fixtures/`` importable and a task directory of versioned files."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.helpers import Cli

__all__ = ("AGENTS", "FIXTURES", "ledger_cli", "write_task")

FIXTURES = Path(__file__).parent / "fixtures"
AGENTS = FIXTURES / "agents"


def ledger_cli(root: Path) -> Cli:
    cli = Cli.in_folder(root)
    cli.env["PYTHONPATH"] = os.pathsep.join([str(FIXTURES), cli.env["PYTHONPATH"]])
    cli.env["QUORUM_TEST_LEDGER"] = str(root / "ledger.txt")
    return cli


def write_task(folder: Path, version: str, phases: str, *, name: str = "committee") -> Path:
    path = folder / f"{name}@{version}.md"
    path.write_text(f"# {name} {version}\n\n```yaml\nname: {name}\nversion: {version}\n"
                    f"description: the {version} committee\n```\n\n{phases}")
    return path
