"""The curated public surface: complete, sorted, importable, and cheap to import."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import quorum

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_complete() -> None:
    names = [n for n in quorum.__all__ if n != "__version__"]
    assert names == sorted(names)
    assert set(names) == set(quorum._EXPORTS)


@pytest.mark.parametrize("name", [n for n in quorum.__all__ if n != "__version__"])
def test_every_export_resolves(name: str) -> None:
    value = getattr(quorum, name)
    assert value is not None
    module = quorum._EXPORTS[name]
    assert getattr(sys.modules[module], name) is value


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        getattr(quorum, "NoSuchThing")  # noqa: B009 - mypy accepts any name of the lazy module


def test_import_does_not_pull_heavy_modules() -> None:
    code = (
        "import sys, quorum; heavy = [m for m in ('pydantic', 'rich', 'typer', 'openai', 'anthropic', "
        "'jinja2', 'markdown_it', 'yaml', 'sqlite3') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if line.endswith("-e '.[test]' && python -m pytest"))
    readme = (ROOT / "README.md").read_text()
    assert command in readme
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"^```bash$", quickstart, re.M)) == 2
