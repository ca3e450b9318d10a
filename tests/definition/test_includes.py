"""``## Include:``: phases from other files, confined to the task directories, with errors pointing
into the file where the problem is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quorum.definition.includes import MAX_INCLUDE_DEPTH
from quorum.definition.loader import TaskLoader
from quorum.definition.parser import TaskParser
from quorum.errors import DefinitionError, Problem

pytestmark = [pytest.mark.unit]

SHARED = """\
# Shared phases

Phases several committees use.

## Phase: Intake
### Steps
- validation: input.amount > 0 - the amount must be positive

## Phase: Risk
dependsOn: [Intake]
### Agents
- risk-officer
### Steps
- Assess the risk of {{ input.ticker }}
### Outputs
- risk (number): the risk score
"""


def task_text(body: str) -> str:
    return ("# Committee\n\n```yaml\nname: committee\nversion: 1.0.0\nrequirements:\n"
            "  ticker: string\n  amount: number\n```\n\n" + body)


MAIN = task_text("""\
## Include: shared/common.md

## Phase: Decide
dependsOn: [Risk]
### Steps
- agent: chair - Decide on {{ input.ticker }} given {{ phases.Risk.outputs.risk }}
""")


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    (folder / "shared").mkdir(parents=True)
    (folder / "shared" / "common.md").write_text(SHARED)
    (folder / "committee.md").write_text(MAIN)
    return folder


def problems(path: Path, **kw: object) -> list[Problem]:
    with pytest.raises(DefinitionError) as info:
        TaskParser().parse_task_file(path, **kw)  # type: ignore[arg-type]
    return [p for p in info.value.problems if p.severity == "error"]


def test_included_phases_take_the_place_of_the_section(tasks: Path) -> None:
    task = TaskLoader([tasks], include_builtin=False).load("committee")
    assert task.phase_names == ("Intake", "Risk", "Decide")
    shared = str((tasks / "shared" / "common.md").resolve())
    assert [p.source for p in task.phases] == [shared, shared, None]
    assert task.phase("Risk").line == 9  # a line of the included file
    assert task.phase("Decide").depends_on == ("Risk",)


def test_a_list_under_the_include_picks_phases(tasks: Path) -> None:
    (tasks / "pick.md").write_text(task_text(
        "## Include: shared/common.md\n- Intake\n\n"
        "## Phase: Go\ndependsOn: [Intake]\n### Steps\n- agent: a - go\n"))
    assert TaskParser().parse_task_file(tasks / "pick.md").phase_names == ("Intake", "Go")
    (tasks / "typo.md").write_text(task_text("## Include: shared/common.md\n- Risky\n"))
    [problem] = problems(tasks / "typo.md")
    assert problem.source == str(tasks / "typo.md")
    assert problem.line == 12
    assert problem.message == "common.md has no phase 'Risky' (did you mean 'Risk'?)"


def test_the_content_hash_covers_the_included_files(tasks: Path) -> None:
    loader = TaskLoader([tasks], include_builtin=False)
    before = loader.load("committee")
    shared = tasks / "shared" / "common.md"
    shared.write_text(SHARED.replace("Assess the risk", "Weigh the risk"))
    after = TaskParser().parse_task_file(tasks / "committee.md", include_roots=[tasks])
    assert after.content_hash != before.content_hash
    assert after.phase("Risk").content_hash != before.phase("Risk").content_hash
    assert after.phase("Decide").content_hash != before.phase("Decide").content_hash  # downstream
    assert after.phase("Intake").content_hash == before.phase("Intake").content_hash


def test_the_loader_sees_an_edited_include_of_a_cached_task(tasks: Path) -> None:
    loader = TaskLoader([tasks], include_builtin=False)
    before = loader.load("committee")
    assert loader.load("committee") is before  # cached while nothing changed
    shared = tasks / "shared" / "common.md"
    shared.write_text(SHARED.replace("Assess the risk", "Weigh the risk"))
    after = loader.load("committee")  # the including file is untouched: its include made it stale
    assert after is not before
    assert after.phase("Risk").steps[0].text.startswith("Weigh the risk")


def test_moving_a_phase_into_an_include_keeps_its_hash(tmp_path: Path, tasks: Path) -> None:
    inline = tmp_path / "inline.md"
    inline.write_text(MAIN.replace("## Include: shared/common.md\n", SHARED.split("\n\n", 2)[2]))
    one = TaskParser().parse_task_file(inline)
    two = TaskParser().parse_task_file(tasks / "committee.md")
    assert one.phase_names == two.phase_names
    assert [p.content_hash for p in one.phases] == [p.content_hash for p in two.phases]


def test_errors_point_into_the_included_file(tasks: Path) -> None:
    shared = tasks / "shared" / "common.md"
    shared.write_text(SHARED.replace("dependsOn: [Intake]", "dependsOn: [Intak]").replace(
        "- validation: input.amount > 0", "- validation: input.amount > > 0"))
    found = problems(tasks / "committee.md")
    assert {(p.source, p.line) for p in found} == {(str(shared.resolve()), 7), (str(shared.resolve()), 10)}
    assert any("depends on unknown phase 'Intak'" in p.message for p in found)


def test_duplicate_phase_names_after_inclusion_name_both_files(tasks: Path) -> None:
    main = tasks / "dup.md"
    main.write_text(task_text("## Phase: Risk\n### Steps\n- agent: a - x\n\n## Include: shared/common.md\n"))
    [problem] = problems(main)
    shared = str((tasks / "shared" / "common.md").resolve())
    assert (problem.source, problem.line) == (shared, 9)
    assert problem.message == f"duplicate phase name 'Risk'; the first is at {main}:11"


@pytest.mark.errors
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("../outside.md", "outside the task directories"),
        ("shared/../../outside.md", "outside the task directories"),
        ("/etc/passwd.md", "outside the task directories"),
        ("shared/missing.md", "no such file"),
        ("shared/common.txt", "is not a Markdown file"),
        ("", "an include names no file"),
    ],
)
def test_includes_are_confined_to_the_task_directories(tmp_path: Path, tasks: Path, target: str,
                                                       message: str) -> None:
    (tmp_path / "outside.md").write_text(SHARED)
    main = tasks / "escape.md"
    main.write_text(task_text(f"## Include: {target}\n\n## Phase: Go\n### Steps\n- agent: a - go\n"))
    [problem] = problems(main, include_roots=[tasks])
    assert message in problem.message
    assert (problem.source, problem.line) == (str(main), 11)


@pytest.mark.errors
def test_a_symlink_that_leaves_the_task_directory_is_refused(tmp_path: Path, tasks: Path) -> None:
    (tmp_path / "secret.md").write_text(SHARED)
    (tasks / "shared" / "link.md").symlink_to(tmp_path / "secret.md")
    (tasks / "shared" / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    for target in ("shared/link.md", "shared/dirlink/secret.md"):
        main = tasks / "sym.md"
        main.write_text(task_text(f"## Include: {target}\n"))
        [problem] = problems(main, include_roots=[tasks])
        assert problem.message.startswith(
            f"include {target!r} resolves to {(tmp_path / 'secret.md').resolve()} (through a symlink), "
            "outside the task directories")


def test_a_symlink_inside_the_task_directories_is_fine(tasks: Path) -> None:
    (tasks / "shared" / "alias.md").symlink_to(tasks / "shared" / "common.md")
    (tasks / "alias.md").write_text(MAIN.replace("shared/common.md", "shared/alias.md"))
    assert TaskParser().parse_task_file(tasks / "alias.md", include_roots=[tasks]).phase_names == (
        "Intake", "Risk", "Decide")


def test_the_loader_confines_includes_to_the_search_directory(tmp_path: Path, tasks: Path) -> None:
    # from tasks/sub/, ../shared/ is still inside the task directory: allowed
    (tasks / "sub").mkdir()
    (tasks / "sub" / "x.md").write_text(MAIN.replace("shared/common.md", "../shared/common.md"))
    loader = TaskLoader([tasks], include_builtin=False)
    assert loader.load(tasks / "sub" / "x.md").phase_names == ("Intake", "Risk", "Decide")
    # loaded by path from elsewhere, a file's own directory is its root
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "y.md").write_text(MAIN.replace("shared/common.md", "../tasks/shared/common.md"))
    with pytest.raises(DefinitionError, match="outside the task directories"):
        loader.load(elsewhere / "y.md")


@pytest.mark.errors
def test_include_cycles_are_errors_naming_the_chain(tasks: Path) -> None:
    (tasks / "a.md").write_text("## Include: b.md\n\n## Phase: A\n### Steps\n- agent: x - a\n")
    (tasks / "b.md").write_text("## Include: a.md\n")
    main = tasks / "cyc.md"
    main.write_text(task_text("## Include: a.md\n"))
    found = problems(main)
    [cycle] = [p for p in found if "cycle" in p.message]
    assert cycle.message == "include cycle: a.md -> b.md -> a.md"
    assert (cycle.source, cycle.line) == (str((tasks / "b.md").resolve()), 1)
    (tasks / "self.md").write_text(task_text("## Include: self.md\n"))
    assert any(p.message == "include cycle: self.md -> self.md" for p in problems(tasks / "self.md"))


@pytest.mark.errors
def test_include_depth_is_bounded(tasks: Path) -> None:
    depth = MAX_INCLUDE_DEPTH + 2
    for level in range(depth):
        (tasks / f"level{level}.md").write_text(
            f"## Include: level{level + 1}.md\n\n## Phase: L{level}\n### Steps\n- agent: x - go\n")
    (tasks / f"level{depth}.md").write_text("## Phase: Bottom\n### Steps\n- agent: x - go\n")
    main = tasks / "deep.md"
    main.write_text(task_text("## Include: level0.md\n"))
    [problem] = [p for p in problems(main) if "nested" in p.message]
    assert f"nested more than {MAX_INCLUDE_DEPTH} levels deep" in problem.message


@pytest.mark.errors
def test_text_that_is_no_file_includes_nothing_without_roots(tasks: Path) -> None:
    with pytest.raises(DefinitionError, match="this text is not a file, and no include roots were given"):
        TaskParser().parse_task_content(MAIN, source="posted.md")
    task = TaskParser().parse_task_content(MAIN, source="posted.md", include_roots=[tasks])
    assert task.phase_names == ("Intake", "Risk", "Decide")


@pytest.mark.errors
def test_a_huge_or_binary_included_file_is_refused(tasks: Path) -> None:
    (tasks / "shared" / "big.md").write_text("x" * 2_000_000)
    (tasks / "big.md").write_text(task_text("## Include: shared/big.md\n"))
    [problem] = problems(tasks / "big.md")
    assert "the limit is 1000000" in problem.message
    (tasks / "shared" / "bin.md").write_bytes(b"## Phase: A\n\x00\n")
    (tasks / "bin.md").write_text(task_text("## Include: shared/bin.md\n"))
    [problem] = problems(tasks / "bin.md")
    assert problem.source == str((tasks / "shared" / "bin.md").resolve())
    assert "control character" in problem.message


def test_validate_lints_the_included_files_too(tasks: Path) -> None:
    shared = tasks / "shared" / "common.md"
    shared.write_text(SHARED.replace("- risk-officer", "- Risk Officer!"))
    found = TaskParser().lint_file(tasks / "committee.md")
    assert any(p.source == str(shared.resolve()) and p.severity == "error" for p in found)
    assert os.path.exists(shared)


def test_moving_the_task_directory_keeps_the_content_hash(tmp_path: Path, tasks: Path) -> None:
    before = TaskParser().parse_task_file(tasks / "committee.md")
    moved = tmp_path / "moved"
    tasks.rename(moved)
    after = TaskParser().parse_task_file(moved / "committee.md")
    assert after.content_hash == before.content_hash
