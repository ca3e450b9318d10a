"""``TaskBuilder``: a task from parts, validated exactly like a parsed file."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.definition.builder import TaskBuilder
from quorum.definition.parser import TaskParser
from quorum.errors import DefinitionError

pytestmark = [pytest.mark.unit]

COMMON = """\
# Common

## Phase: Intake
### Steps
- validation: input.amount > 0 - the amount must be positive

## Phase: Research
dependsOn: [Intake]
### Agents
- analyst
### Steps
- Research {{ input.ticker }}
### Outputs
- notes: what was found
"""

REVIEW = """\
## Phase: Review
dependsOn: [Research]
### Steps
- agent: reviewer - Review {{ phases.Research.outputs.notes }}
"""


@pytest.fixture
def parts(tmp_path: Path) -> Path:
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "common.md").write_text(COMMON)
    (folder / "review.md").write_text(REVIEW)
    return folder


def builder() -> TaskBuilder:
    return TaskBuilder("screen", version="1.2.0", description="built in code",
                       requirements={"ticker": "string", "amount": "number"}, output="Decide")


def test_phases_from_several_files_and_a_generated_phase(parts: Path) -> None:
    task = (
        builder()
        .phases_from(parts / "common.md")
        .phases_from(parts / "review.md")
        .phase("Decide", depends_on=["Review"], steps=["agent: chair - Decide on {{ input.ticker }}"],
               outputs=["decision (string): buy or not"], timeout="30s")
        .build()
    )
    assert (task.name, task.version, task.description) == ("screen", "1.2.0", "built in code")
    assert task.phase_names == ("Intake", "Research", "Review", "Decide")
    assert task.phase("Decide").timeout_s == 30.0
    assert task.output.phase == "Decide"
    assert task.source is None
    assert task.phase("Research").source == str((parts / "common.md").resolve())


def test_a_built_task_equals_the_same_task_parsed_from_a_file(parts: Path) -> None:
    built = builder().phases_from(parts / "common.md", "Intake").phase(
        "Decide", depends_on=["Intake"], steps=["agent: chair - go"]).build()
    (parts / "screen.md").write_text(builder().phases_from(parts / "common.md", "Intake").phase(
        "Decide", depends_on=["Intake"], steps=["agent: chair - go"]).document())
    parsed = TaskParser().parse_task_file(parts / "screen.md")
    assert [p.content_hash for p in built.phases] == [p.content_hash for p in parsed.phases]
    assert built.requirements == parsed.requirements


def test_the_same_errors_as_a_parsed_file(parts: Path) -> None:
    bad = builder().phase("Decide", depends_on=["Nope"], steps=["agnet: chair - go"], rounds=0)
    with pytest.raises(DefinitionError) as built:
        bad.build()
    (parts / "bad.md").write_text(bad.document())
    with pytest.raises(DefinitionError) as parsed:
        TaskParser().parse_task_file(parts / "bad.md")
    assert [(p.line, p.message, p.hint) for p in built.value.problems] == [
        (p.line, p.message, p.hint) for p in parsed.value.problems]
    assert {p.source for p in built.value.problems} == {"<built task screen>"}
    assert any("depends on unknown phase 'Nope'" in p.message for p in built.value.problems)


def test_errors_in_a_file_point_into_it(parts: Path) -> None:
    (parts / "broken.md").write_text(REVIEW.replace("[Research]", "[Research]\nrounds: x"))
    with pytest.raises(DefinitionError) as info:
        builder().phases_from(parts / "common.md").phases_from(parts / "broken.md").build()
    [mine, problem] = info.value.errors
    assert (mine.source, mine.message) == ("<built task screen>", "output names unknown phase 'Decide'")
    assert (problem.source, problem.line) == (str((parts / "broken.md").resolve()), 3)


def test_phase_markdown_and_multi_line_steps(parts: Path) -> None:
    review = REVIEW.replace("dependsOn: [Research]", "").replace("phases.Research.outputs.notes",
                                                                "input.ticker")
    task = builder().phase_markdown(review).phase(
        "Decide", depends_on=["Review"], steps=["agent: chair - Decide\nwith care\n## Phase: Injected"]
    ).build()
    assert task.phase_names == ("Review", "Decide")  # an indented line cannot open a section
    assert "## Phase: Injected" in task.phase("Decide").steps[0].text


def test_names_on_one_line_and_files_inside_the_roots(parts: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spans several lines"):
        builder().phase("A\n## Phase: B")
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    (elsewhere / "x.md").write_text(REVIEW)
    with pytest.raises(DefinitionError, match="outside the task directories"):
        TaskBuilder("screen", include_roots=[parts]).phases_from(elsewhere / "x.md").build()
