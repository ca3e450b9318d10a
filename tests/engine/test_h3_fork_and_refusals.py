"""Forking an execution this executor never held (from the history store), the agent choices each
execution records, and a recovery that cannot resume: marked failed with the reason, not left running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.choices import AgentChoices
from quorum.agents.protocol import AgentRequest
from quorum.definition.model import thaw
from quorum.engine.recovery import Refusal, UnresumableError
from quorum.engine.status import ExecutionStatus
from quorum.errors import ExecutionNotFoundError
from quorum.events import EventType as E
from quorum.history.base import HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.testing import sleeping_agent
from tests.engine.run_helpers import crash, executor_with, phase, prompt, task

pytestmark = pytest.mark.integration

T = task(
    phase("A", prompt("a"), agents=("x", "y"), parallel=True),
    phase("B", prompt("b"), agents=("x", "y"), depends_on="A", outputs=("v",)),
    phase("C", prompt("c"), agents=("x",), depends_on="B", outputs=("v",)),
)


def _agents() -> dict[str, Any]:
    return {"x": sleeping_agent(0.001, {"v": "x"}), "y": sleeping_agent(0.001, {"v": "y"})}


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    backend: HistoryStore = (
        MemoryHistoryStore() if request.param == "memory" else SQLiteHistoryStore(tmp_path / "h.db")
    )
    await backend.open()
    yield backend
    await backend.close()


async def _phases_started(store: HistoryStore, execution_id: str) -> list[str]:
    return [str(e.phase) for e in await store.read_journal(execution_id) if e.type == E.PHASE_START]


async def test_a_new_executor_forks_an_execution_from_the_store(store: HistoryStore) -> None:
    first_run = executor_with(_agents(), history_store=store)
    first = await first_run.execute(T, {"n": 1})
    await first_run.aclose()
    assert first.status is ExecutionStatus.COMPLETED

    other = executor_with(_agents(), history_store=store)  # it never held the first execution
    try:
        everything = await (await other.fork(first.id)).result()
        after_a = await (await other.fork(first.id, f"{first.id}-cp1")).result()
    finally:
        await other.aclose()
    assert everything.status is ExecutionStatus.COMPLETED
    assert await _phases_started(store, everything.id) == []  # every phase came from the record
    assert after_a.status is ExecutionStatus.COMPLETED
    assert await _phases_started(store, after_a.id) == ["B", "C"]  # A from the checkpoint
    assert after_a.phases["B"].outputs == first.phases["B"].outputs
    source = await store.get_execution(first.id)
    assert source is not None
    assert (source.status, source.last_sequence) == ("completed", len(await store.read_journal(first.id)))


async def test_forking_an_unknown_execution_is_not_found(store: HistoryStore) -> None:
    ex = executor_with(_agents(), history_store=store)
    try:
        with pytest.raises(ExecutionNotFoundError):
            await ex.fork("no-such-execution")
    finally:
        await ex.aclose()


async def test_each_execution_records_the_agent_choices_of_its_executor(store: HistoryStore) -> None:
    choices = AgentChoices(models=("x=openai:gpt-4.1-mini",),
                           base_urls={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    ex = executor_with(_agents(), history_store=store, agent_choices=choices)
    try:
        result = await ex.execute(T, {"n": 1})
    finally:
        await ex.aclose()
    record = await store.get_execution(result.id)
    assert record is not None
    assert AgentChoices.from_mapping(record.agent_choices) == choices
    assert thaw(record.agent_choices)["base_urls"] == {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}


TASK_FILE = """# Three steps

```yaml
name: three-steps
```

## Phase: A

### Agents
- x

### Steps
- Look at A

## Phase: B
dependsOn: [A]

### Agents
- x

### Steps
- Look at B

## Phase: C
dependsOn: [B]

### Agents
- x

### Steps
- Look at C

### Outputs
- v: the answer
"""


async def _crashed_file_run(store: HistoryStore, path: Path) -> str:
    """A run of the task file at ``path`` whose owner vanishes during phase B (its lease then expires)."""
    in_flight = asyncio.Event()

    async def agent(request: AgentRequest) -> dict[str, str]:
        if request.phase == "B":
            in_flight.set()
            await asyncio.Event().wait()  # the process "dies" during this call
        return {"v": request.agent_id}

    ex = executor_with({"x": agent}, history_store=store, lease_ttl_s=0.05, tasks_dir=None)
    handle = await ex.start(path)
    await in_flight.wait()
    await asyncio.sleep(0.05)
    await crash(ex, handle.id)
    await asyncio.sleep(0.06)  # the lease expires: the execution is now an orphan
    return str(handle.id)


async def test_recover_marks_an_execution_whose_task_changed_failed_with_the_reason(
    store: HistoryStore, tmp_path: Path
) -> None:
    path = tmp_path / "three-steps.md"
    path.write_text(TASK_FILE)
    execution_id = await _crashed_file_run(store, path)
    path.write_text(TASK_FILE.replace("Look at B", "Look much harder at B"))  # edited meanwhile

    refusals: list[Refusal] = []
    ex = executor_with({"x": sleeping_agent(0.001, {"v": "x"})}, history_store=store, tasks_dir=None)
    try:
        assert await ex.recover(on_refused=refusals.append) == []
    finally:
        await ex.aclose()
    [refusal] = refusals
    assert refusal.record.id == execution_id
    assert refusal.marked_failed
    assert isinstance(refusal.error, UnresumableError)
    assert "task file changed" in refusal.error.what
    assert "phase(s) not completed yet: B, C" in refusal.error.why
    assert f"quorum fork {execution_id} --task {path}" in refusal.error.fix
    record = await store.get_execution(execution_id)
    assert record is not None
    assert record.status == "failed"  # not left running for ever
    assert "its task file changed" in (record.error or "")
    assert "phase(s) not completed yet" in (record.error or "")
    journal = await store.read_journal(execution_id)
    assert journal[-1].type == E.EXECUTION_ERROR
    assert journal[-1].data["error_type"] == "ResumeRefused"
    assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
    again = executor_with({}, history_store=store)
    try:
        assert await again.recover() == []  # nothing left to recover
    finally:
        await again.aclose()
