"""The examples of docs/observability.md run as the doc says."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"


def _fence(info: str) -> str:
    tokens = MarkdownIt("commonmark").parse(DOC.read_text(encoding="utf-8"))
    (found,) = [t.content for t in tokens if t.type == "fence" and t.info.strip() == info]
    return found


def test_the_child_trace_example_gives_one_trace_with_the_children_under_the_step() -> None:
    exec(compile(_fence("python child-trace"), str(DOC), "exec"), {"__name__": "docs_example"})
