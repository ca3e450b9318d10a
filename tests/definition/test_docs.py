"""docs/task-format.md matches the code: its task examples parse, its error example fails as shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from quorum.definition.durations import UNITS
from quorum.definition.model import BUILTIN_STEP_KINDS
from quorum.definition.parser import TaskParser
from quorum.definition.schema import PHASE_KEYS, TASK_KEYS
from quorum.definition.steps import BUILTIN_AGGREGATORS
from quorum.errors import DefinitionError

pytestmark = [pytest.mark.unit]

DOC = Path(__file__).resolve().parents[2] / "docs" / "task-format.md"


def fences(info: str) -> list[tuple[int, str]]:
    tokens = MarkdownIt("commonmark").parse(DOC.read_text(encoding="utf-8"))
    return [
        (t.map[0] + 1 if t.map else 0, t.content)
        for t in tokens
        if t.type == "fence" and t.info.strip() == info
    ]


def test_doc_has_task_examples() -> None:
    assert len(fences("markdown task")) >= 5


@pytest.mark.parametrize(("line", "example"), fences("markdown task"))
def test_every_task_example_parses(line: int, example: str) -> None:
    problems = TaskParser().lint_content(example, source=f"docs/task-format.md:{line}")
    assert [p for p in problems if p.severity == "error"] == []
    TaskParser().parse_task_content(example)


def test_error_example_reports_what_the_doc_shows() -> None:
    ((_, example),) = fences("markdown task-error")
    with pytest.raises(DefinitionError) as info:
        TaskParser().parse_task_content(example, source="task.md")
    text = DOC.read_text(encoding="utf-8")
    shown = text[text.index("reports, all at once:") :].split("```text\n", 1)[1].split("```", 1)[0]
    assert str(info.value) == shown.strip()


def test_documented_keys_match_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key in (*TASK_KEYS, *PHASE_KEYS):
        assert f"| `{key}` |" in text, key
    for kind in (*BUILTIN_STEP_KINDS, *BUILTIN_AGGREGATORS):
        assert f"`{kind}`" in text, kind
    for unit in UNITS:
        assert re.search(rf"`{re.escape(unit)}`", text), unit


def _include_examples(folder: Path) -> None:
    """Write the files of the include examples (fences ``markdown include <path>``) under ``folder``."""
    tokens = MarkdownIt("commonmark").parse(DOC.read_text(encoding="utf-8"))
    for token in tokens:
        info = token.info.strip().split()
        if token.type == "fence" and info[:2] == ["markdown", "include"]:
            target = folder / info[2]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(token.content, encoding="utf-8")


def test_the_include_example_parses_as_the_doc_says(tmp_path: Path) -> None:
    _include_examples(tmp_path)
    task = TaskParser().parse_task_file(tmp_path / "committee.md")
    assert task.phase_names == ("Intake", "Decide")
    assert task.phase("Intake").source == str((tmp_path / "shared" / "checks.md").resolve())


def test_the_builder_example_runs(tmp_path: Path) -> None:
    _include_examples(tmp_path)
    ((_, code),) = fences("python builder")
    exec(compile(code, str(DOC), "exec"), {"folder": tmp_path})


def test_the_selector_table_matches_the_code() -> None:
    from quorum.definition.versions import Version, newest, parse_selector

    text = DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(committee(?:@[^`]+)?)` \|", text, re.MULTILINE)
    assert rows == ["committee", "committee@1.2.0", "committee@1.2", "committee@1", "committee@^1.2"]
    versions = [Version.parse(v) for v in ("1.1.0", "1.2.0", "1.2.5", "1.9.0", "2.0.0")]
    picked = {row: newest(parse_selector(row), ((v, str(v)) for v in versions)) for row in rows}
    assert {row: chosen[1] for row, chosen in picked.items() if chosen} == {
        "committee": "2.0.0", "committee@1.2.0": "1.2.0", "committee@1.2": "1.2.5", "committee@1": "1.9.0",
        "committee@^1.2": "1.9.0"}


def test_the_task_step_example_calls_the_shipped_committee_correctly(tmp_path: Path) -> None:
    from quorum.definition.loader import TaskLoader

    [example] = [text for _, text in fences("markdown task") if "- task: " in text]
    (tmp_path / "portfolio-review.md").write_text(example, encoding="utf-8")
    task = TaskLoader([tmp_path]).load("portfolio-review")  # checks the committee's inputs, no cycle
    assert task.phase("Reviews").steps[0].parameters["foreach"] == "input.tickers"
