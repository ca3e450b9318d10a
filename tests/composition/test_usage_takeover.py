"""A parent taken over counts each child execution once, from the point its driver died at.

A first process drives the parent in a source store; its journal is written into the store under test up
to a chosen event, as the process left it when it died there, and a second executor resumes it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.engine.children import child_execution_id
from quorum.engine.executor import TaskExecutor
from quorum.engine.results import ExecutionResult
from quorum.events import Event
from quorum.history.base import HistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.testing import ScriptedAgent, make_manager
from tests import backends

from .helpers import Gate, decider_answer, parent, reviewer_answer, ticker_of, write_tasks
from .takeover import (
    checkpoint_after,
    completion_of,
    copy_execution,
    journal_until,
    without_children_in_checkpoints,
)

store = backends.store  # the fixture: each local history backend

FOREACH = "- task: review foreach=input.tickers input.ticker={{ item }}"
AUDIT = "### Agents\n- auditor\n### Steps\n- agent: auditor - Audit the book\n"
AUDIT_AFTER = f"## Phase: Audit\ndependsOn: [Children]\n{AUDIT}"
AUDIT_BESIDE = f"## Phase: Audit\n{AUDIT}"  # no dependency: it runs while the children do


def _agents() -> dict[str, Any]:
    return {"reviewer": ScriptedAgent(reviewer_answer), "decider": ScriptedAgent(decider_answer),
            "auditor": ScriptedAgent({"ok": "yes"})}


async def _resume(tasks: Path, store: HistoryStore, parent_id: str) -> ExecutionResult:
    async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(_agents()),
                            history_store=store) as executor:
        handle = await executor.resume_execution(parent_id)
        return await handle.result()


async def test_children_of_a_phase_completed_just_before_the_crash_still_count(
    tmp_path: Path, store: HistoryStore,
) -> None:
    """The process dies after ``phase:complete`` of the ``task:`` phase, before its checkpoint: the
    take-over settles the phase from the journal (its children are not found again) and counts the
    children from their ``child:ended``."""
    tasks = write_tasks(tmp_path, parent(FOREACH, extra=AUDIT_AFTER))
    source = SQLiteHistoryStore(tmp_path / "source.db")
    await source.open()
    try:
        async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(_agents()),
                                history_store=source) as first:
            done = await first.execute("book", {"tickers": ["A", "B"]})
        assert done.status.value == "completed", done.error
        for index in (0, 1):
            await copy_execution(source, store, child_execution_id(done.id, "Children", 0, index, 1))
        await copy_execution(source, store, done.id, through=completion_of("Children"))
    finally:
        await source.close()

    result = await _resume(tasks, store, done.id)
    assert result.status.value == "completed", result.error
    assert done.usage.calls == 5  # two children of two calls, and the audit
    assert result.usage == done.usage
    assert result.children_usage.calls == 4
    assert result.to_dict()["children_usage"]["calls"] == 4
    resumed = await store.read_journal(done.id)
    assert [e.type for e in resumed].count("child:started") == 2  # none found again: the phase settled


async def _left_running(tmp_path: Path, tasks: Path, store: HistoryStore, through: str) -> str:
    """A parent whose child A ended, whose child B never ends and whose audit completes after A ended,
    written into ``store`` up to ``through`` (the checkpoint of the audit, or A's ``child:ended``)."""
    audit = Gate({"ok": "yes"})

    async def decider(request: AgentRequest) -> Any:
        if ticker_of(request) == "B":
            await asyncio.Event().wait()  # the first process dies before B decides
        return decider_answer(request)

    manager = make_manager(reviewer=ScriptedAgent(reviewer_answer), decider=decider, auditor=audit)
    source = SQLiteHistoryStore(tmp_path / "source.db")
    await source.open()
    try:
        async with TaskExecutor(tasks_dir=tasks, agent_manager=manager, history_store=source) as first:
            handle = await first.start("book", {"tickers": ["A", "B"]})
            child_a = child_execution_id(handle.id, "Children", 0, 0, 1)

            def a_ended(e: Event) -> bool:
                return e.type == "child:ended" and e.data.get("child_id") == child_a

            await journal_until(source, handle.id, a_ended)
            audit.released.set()
            await journal_until(source, handle.id, checkpoint_after("Audit"))
            await copy_execution(source, store, child_a)
            if through == "child ended":
                await copy_execution(source, store, handle.id, through=a_ended)
            else:
                await copy_execution(source, store, handle.id, through=checkpoint_after("Audit"),
                                     edit=without_children_in_checkpoints if through == "old checkpoint"
                                     else None)
            await first.abort_execution(handle.id, "the test is done with it")
    finally:
        await source.close()
    return handle.id


@pytest.mark.parametrize("through", ["checkpoint", "old checkpoint", "child ended"])
async def test_a_take_over_after_a_child_ended_counts_it_once(
    tmp_path: Path, store: HistoryStore, through: str,
) -> None:
    """A's usage is in the checkpoint (``checkpoint``: as the checkpoint says; ``old checkpoint``: one
    written before checkpoints kept each child's, its journal says) or only in the journal (``child
    ended``); the take-over finds A again, ended, and starts B: A counts once."""
    tasks = write_tasks(tmp_path, parent(FOREACH, extra=AUDIT_BESIDE))
    parent_id = await _left_running(tmp_path, tasks, store, through)

    result = await _resume(tasks, store, parent_id)
    assert result.status.value == "completed", result.error
    started = [e for e in await store.read_journal(parent_id) if e.type == "child:started"]
    assert [e.data["attached"] for e in started][-2:] == [True, False]  # A found again, B started
    assert result.usage.calls == 5  # A's two calls, B's two, the audit's one
    assert result.children_usage.calls == 4
    assert result.usage.errors == 0
