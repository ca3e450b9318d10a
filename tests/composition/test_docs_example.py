"""The composition section of docs/task-format.md: its example tasks load and its Python example runs."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

DOC = Path(__file__).resolve().parents[2] / "docs" / "task-format.md"


def _fence(info: str) -> str:
    tokens = MarkdownIt("commonmark").parse(DOC.read_text(encoding="utf-8"))
    (found,) = [t.content for t in tokens if t.type == "fence" and t.info.strip() == info]
    return found


def test_the_composition_example_runs_as_the_doc_says(tmp_path: Path) -> None:
    (tmp_path / "ticker-review.md").write_text(_fence("markdown composition-child"), encoding="utf-8")
    (tmp_path / "watchlist.md").write_text(_fence("markdown composition-parent"), encoding="utf-8")
    exec(compile(_fence("python composition"), str(DOC), "exec"), {"folder": tmp_path})


def test_the_doc_names_the_engine_step_types_the_code_has() -> None:
    from quorum.definition.composition import ALLOCATE_STEP, TASK_STEP

    text = DOC.read_text(encoding="utf-8")
    assert f"- {ALLOCATE_STEP}: from=" in text
    assert f"### Task: `- {TASK_STEP}:" in text
