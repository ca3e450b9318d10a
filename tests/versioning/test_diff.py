"""``diff_tasks`` and ``quorum diff``: phases added, removed, changed, affected, as text and JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.definition.diff import diff_tasks
from quorum.definition.model import Task
from quorum.definition.parser import TaskParser
from tests.cli.helpers import Cli
from tests.versioning.cli_helpers import write_task

pytestmark = [pytest.mark.unit]

OLD = """\
## Phase: Gather
### Agents
- alpha
### Steps
- look at {{ input.ticker }}
### Outputs
- notes: what was seen

## Phase: Weigh
dependsOn: [Gather]
### Agents
- beta
### Steps
- weigh it

## Phase: Decide
dependsOn: [Weigh]
### Steps
- agent: gamma - decide

## Phase: Archive
### Agents
- alpha
### Steps
- archive
"""

NEW = """\
## Phase: Gather
timeout: 30s
### Agents
- alpha
- beta
### Steps
- look hard at {{ input.ticker }}
### Outputs
- notes: what was seen
- score (number): how good

## Phase: Weigh
dependsOn: [Gather]
### Agents
- beta
### Steps
- weigh it

## Phase: Decide
dependsOn: [Weigh]
### Steps
- agent: gamma - decide

## Phase: Report
dependsOn: [Decide]
### Steps
- agent: gamma - write it up
"""


def parse(version: str, phases: str, description: str = "d") -> Task:
    meta = f"name: committee\nversion: {version}\ndescription: {description}\nrequirements:\n  ticker: string"
    return TaskParser().parse_task_content(f"# c\n\n```yaml\n{meta}\n```\n\n{phases}")


def test_phases_added_removed_changed_and_affected() -> None:
    result = diff_tasks(parse("1.1.0", OLD), parse("1.2.0", NEW))
    assert result.added == ("Report",)
    assert result.removed == ("Archive",)
    [gather] = result.changed
    assert gather.name == "Gather"
    described = [c.describe() for c in gather.changes]
    assert described == [
        "steps: + look hard at {{ input.ticker }}; - look at {{ input.ticker }}",
        "agents: + beta",
        "outputs: + score (number)",
        "timeout_s: (none) -> 30.0",
    ]
    assert result.affected == ("Weigh", "Decide")  # unchanged, but downstream of Gather
    assert result.unchanged == ()
    assert result.rerun == ("Gather", "Weigh", "Decide", "Report")
    assert not result.same


def test_dependencies_and_unchanged_phases() -> None:
    moved = OLD.replace("## Phase: Decide\ndependsOn: [Weigh]",
                        "## Phase: Decide\ndependsOn: [Weigh, Archive]")
    result = diff_tasks(parse("1.1.0", OLD), parse("1.1.1", moved))
    [decide] = result.changed
    assert [c.describe() for c in decide.changes] == ["dependsOn: + Archive"]
    assert result.unchanged == ("Gather", "Weigh", "Archive")
    assert result.rerun == ("Decide",)


def test_prose_around_phases_and_line_numbers_do_not_count() -> None:
    shifted = "\n\nSome words before.\n\n" + OLD
    result = diff_tasks(parse("1.1.0", OLD), parse("1.1.0", shifted, description="other words"))
    assert result.same
    assert result.to_dict()["rerun"] == []


def test_task_settings_are_compared() -> None:
    old = parse("1.1.0", OLD)
    new = TaskParser().parse_task_content(
        old.document.replace("description: d", "description: d\nretry: {maxAttempts: 3}"))
    result = diff_tasks(old, new)
    assert [c.field for c in result.task_changes] == ["retry"]
    assert {c.name for c in result.changed} == {"Gather", "Weigh", "Decide", "Archive"}  # effective retry


@pytest.mark.integration
def test_quorum_diff_text_json_and_paths(tmp_path: Path) -> None:
    cli = Cli.in_folder(tmp_path)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    meta_phases = OLD
    old = write_task(tasks, "1.1.0", meta_phases)
    new = write_task(tasks, "1.2.0", NEW)
    r = cli("diff", "committee@1.1", "committee@1.2", "--tasks-dir", str(tasks))
    assert r.code == 1, r  # they differ
    assert r.out.splitlines() == [
        f"--- committee 1.1.0 ({old})",
        f"+++ committee 1.2.0 ({new})",
        "+ phase Report (added)",
        "- phase Archive (removed)",
        "~ phase Gather (changed)",
        "    steps: + look hard at {{ input.ticker }}; - look at {{ input.ticker }}",
        "    agents: + beta",
        "    outputs: + score (number)",
        "    timeout_s: (none) -> 30.0",
        "~ phase Weigh (unchanged; runs again: a phase it depends on changed)",
        "~ phase Decide (unchanged; runs again: a phase it depends on changed)",
        "an execution moved to 1.2.0 runs again: Gather, Weigh, Decide, Report",
    ]
    data = cli("diff", str(old), str(new), "--json").json()
    assert data["before"]["version"] == "1.1.0"
    assert data["added"] == ["Report"]
    assert data["removed"] == ["Archive"]
    assert data["changed"][0]["phase"] == "Gather"
    assert data["changed"][0]["changes"][1] == {"field": "agents", "added": ["beta"], "removed": [],
                                                "reordered": False}
    assert data["rerun"] == ["Gather", "Weigh", "Decide", "Report"]
    same = cli("diff", "committee@1.1.0", str(old), "--tasks-dir", str(tasks))
    assert same.code == 0, same
    assert "no difference" in same.out
    missing = cli("diff", "committee@1.1", "committee@3", "--tasks-dir", str(tasks))
    assert missing.code == 2
    assert "no version matching '3'; versions: 1.2.0 (default), 1.1.0" in missing.err
