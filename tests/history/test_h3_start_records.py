"""What an execution's row says about the definition it runs: the task's version and hash, and the
parent execution of a child — filled at the start by the engine (``StartRecords``), kept by the store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from quorum.engine.context import ExecutionContext
from quorum.engine.records import StartRecords
from quorum.engine.status import ExecutionStatus
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.testing import sleeping_agent
from tests.engine.run_helpers import executor_with, phase, prompt, task

pytestmark = pytest.mark.integration

T = dataclasses.replace(task(phase("A", prompt("a"), agents=("x",)), name="committee"), version="1.1.0")


def test_the_start_record_carries_the_version_the_hash_and_the_parent() -> None:
    records = StartRecords()
    child = records.record(ExecutionContext(T, {"n": 1}, parent_id="p-1"))
    assert (child.task, child.task_version, child.task_hash, child.parent_id) == (
        "committee", "1.1.0", T.content_hash, "p-1")
    top = records.record(ExecutionContext(T))
    assert (top.task_version, top.parent_id) == ("1.1.0", None)


async def test_an_execution_records_the_version_it_ran(tmp_path: Path) -> None:
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        ex = executor_with({"x": sleeping_agent(0.001, {"v": 1})}, history_store=store)
        ran = await ex.execute(T)
        older = await ex.execute(dataclasses.replace(T, version="1.0.2"))
        assert (ran.status, older.status) == (ExecutionStatus.COMPLETED, ExecutionStatus.COMPLETED)
        got = await store.get_execution(ran.id)
        assert got is not None
        assert (got.task_version, got.task_hash, got.parent_id) == ("1.1.0", T.content_hash, None)
        listed = await store.list_executions(task="committee", task_version="1.0.2")
        assert [r.id for r in listed] == [older.id]
