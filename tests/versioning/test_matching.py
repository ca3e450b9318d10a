"""``matches(record, selector)``: the filter behind ``quorum history --task committee@1.1``."""

from __future__ import annotations

import pytest

from quorum.definition.matching import matches, record_version
from quorum.history.base import ExecutionRecord
from quorum.ids import ExecutionId

pytestmark = [pytest.mark.unit]


def record(task: str, version: str | None) -> ExecutionRecord:
    definition = None if version is None else {"name": task, "version": version}
    return ExecutionRecord(id=ExecutionId("e1"), task=task, status="completed", created_at=0.0,
                           updated_at=0.0, task_definition=definition)


@pytest.mark.parametrize(
    ("version", "selector", "expected"),
    [
        ("1.1.3", "committee", True),
        ("1.1.3", "committee@1.1", True),
        ("1.1.3", "committee@1.1.3", True),
        ("1.1.3", "committee@1.1.0", False),
        ("1.1.3", "committee@^1", True),
        ("1.1.3", "committee@1.2", False),
        ("2.0.0", "committee@^1", False),
        ("1.1.3", "other@1.1", False),
        (None, "committee", True),  # the version is not known: only the name can match
        (None, "committee@1.1", False),
        ("not-semver", "committee@1", False),
    ],
)
def test_matches(version: str | None, selector: str, expected: bool) -> None:
    assert matches(record("committee", version), selector) is expected


def test_a_task_version_attribute_wins() -> None:
    class Row:
        task = "committee"
        task_version = "1.4.0"
        task_definition = None

    assert record_version(Row()) == "1.4.0"
    assert matches(Row(), "committee@1.4")
