"""``GET /tasks/{name}`` shows no path of the server's disk: not the task's file, not where an included
phase was written."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from quorum.definition.loader import TaskLoader
from quorum.server.routes_tasks import get_task
from tests.definition.test_includes import MAIN, SHARED

pytestmark = pytest.mark.unit


def test_a_task_with_included_phases_is_described_without_server_paths(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    (folder / "shared").mkdir(parents=True)
    (folder / "shared" / "common.md").write_text(SHARED)
    (folder / "committee.md").write_text(MAIN)
    loader = TaskLoader([folder], include_builtin=False)
    runtime: Any = SimpleNamespace(load_task=loader.load)
    detail = get_task("committee", cast("Any", runtime))
    text = json.dumps(detail.model_dump(), default=str)
    assert [p["name"] for p in detail.definition["phases"]] == ["Intake", "Risk", "Decide"]
    assert str(tmp_path) not in text
