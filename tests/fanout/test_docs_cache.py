"""docs/cache.md's Python examples run as written (against the test Redis)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.servers import require_redis

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "cache.md"
DOC_URL = "redis://127.0.0.1:6379/0"


def examples() -> list[tuple[int, str]]:
    tokens = MarkdownIt("commonmark").parse(DOC.read_text(encoding="utf-8"))
    return [(t.map[0] + 1 if t.map else 0, t.content) for t in tokens
            if t.type == "fence" and t.info.strip() == "python"]


def test_the_doc_has_examples() -> None:
    assert len(examples()) >= 2


@pytest.mark.parametrize(("line", "code"), examples())
def test_every_example_runs(line: int, code: str) -> None:
    assert DOC_URL in code
    done = subprocess.run([sys.executable, "-c", code.replace(DOC_URL, require_redis())],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"docs/cache.md:{line}\n{done.stderr}"
