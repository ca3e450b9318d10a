"""Pause, resume, abort, time limits and detach reach a parent's child executions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quorum.engine.children import child_execution_id
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.testing import ScriptedAgent, make_manager

from .helpers import Gate, decider_answer, parent, reviewer_answer, write_tasks

_S = ExecutionStatus


async def _settle() -> None:
    """Let the loop run everything that is ready (a paused execution must still not move)."""
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_parent_pause_pauses_its_running_child_and_its_resume_resumes_it(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review input.ticker=A"))
    gate, decider = Gate(reviewer_answer), ScriptedAgent(decider_answer)
    store = MemoryHistoryStore()
    async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(reviewer=gate, decider=decider),
                            history_store=store) as executor:
        handle = await executor.start("book", {})
        await gate.entered.wait()
        child_id = child_execution_id(handle.id, "Children", 0, 0, 1)
        child = executor.live_execution(child_id)
        assert child is not None
        looked = executor.events(execution_id=child_id, types={"phase:complete"})
        await executor.pause_execution(handle.id, "lunch")
        assert handle.status is _S.PAUSED
        assert child.ctx.status is _S.PAUSED  # at once: the parent's pause reached it
        gate.released.set()  # the call in flight finishes and is recorded ...
        assert (await anext(looked)).phase == "Look"
        await _settle()
        assert decider.calls == 0  # ... but the child waits at its next boundary
        assert child.ctx.status is _S.PAUSED
        await executor.resume_execution(handle.id)
        result = await handle.result()
    assert result.status is _S.COMPLETED, result.error
    journal = await store.read_journal(child_id)
    paused = [e for e in journal if e.type == "execution:paused"]
    assert [e.data["reason"] for e in paused] == [f"parent {handle.id} paused: lunch"]
    assert [e.type for e in journal].count("execution:resumed") == 1
    assert decider.calls == 1
    assert gate.calls == 1


async def test_a_parent_abort_aborts_its_child_and_waits_for_it(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review foreach=input.tickers input.ticker={{ item }}",
                                         phase_options="parallel: true"))
    gate = Gate(reviewer_answer)
    async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(reviewer=gate,
                            decider=ScriptedAgent(decider_answer))) as executor:
        handle = await executor.start("book", {"tickers": ["A", "B"]})
        await gate.until_calls(2)
        result = await executor.abort_execution(handle.id, "stop it")
        children = [executor.get_result(child_execution_id(handle.id, "Children", 0, i, 1)) for i in (0, 1)]
        assert executor.get_active_executions() == []  # nothing outlives the parent
    assert result.status is _S.ABORTED
    assert [c.status for c in children] == [_S.ABORTED, _S.ABORTED]
    assert all(f"parent {handle.id}: stop it" in str(c.error) for c in children)
    assert gate.cancelled == 2


async def test_the_parents_time_limit_aborts_its_child(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review input.ticker=A", metadata="maxExecutionTime: 150ms"))
    gate = Gate(reviewer_answer)  # never released: only the parent's time limit ends it
    async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(reviewer=gate,
                            decider=ScriptedAgent(decider_answer))) as executor:
        result = await executor.execute("book", {})
        child = executor.get_result(child_execution_id(result.id, "Children", 0, 0, 1))
    assert result.status is _S.TIMEOUT
    assert child.status is _S.ABORTED
    assert "time limit" in str(child.error)
    assert f"parent {result.id}" in str(child.error)


async def test_the_phase_timeout_aborts_the_child_and_fails_the_phase(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review input.ticker=A", phase_options="timeout: 100ms"))
    gate = Gate(reviewer_answer)
    async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(reviewer=gate,
                            decider=ScriptedAgent(decider_answer))) as executor:
        result = await executor.execute("book", {})
        child = executor.get_result(child_execution_id(result.id, "Children", 0, 0, 1))
    assert result.status is _S.FAILED
    assert "timed out after 0.1s" in str(result.error)
    assert child.status is _S.ABORTED


async def test_a_detached_parent_leaves_its_paused_child_and_its_next_driver_takes_both_on(
    tmp_path: Path,
) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review input.ticker=A"))
    store = SQLiteHistoryStore(tmp_path / "h.db")
    await store.open()
    try:
        gate, decider = Gate(reviewer_answer), ScriptedAgent(decider_answer)
        async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(reviewer=gate, decider=decider),
                                history_store=store) as first:
            handle = await first.start("book", {})
            await gate.entered.wait()
            child_id = child_execution_id(handle.id, "Children", 0, 0, 1)
            looked = first.events(execution_id=child_id, types={"phase:complete"})
            await first.pause_execution(handle.id)
            gate.released.set()
            assert (await anext(looked)).phase == "Look"
            left = await first.detach(handle.id)
            assert left.status is _S.PAUSED
            assert first.live_execution(child_id) is None  # detached with its parent
        child_record = await store.get_execution(child_id)
        assert child_record is not None
        assert child_record.status == "paused"
        assert child_record.owner is None

        reviewer2, decider2 = ScriptedAgent(reviewer_answer), ScriptedAgent(decider_answer)
        manager = make_manager(reviewer=reviewer2, decider=decider2)
        async with TaskExecutor(tasks_dir=tasks, agent_manager=manager, history_store=store) as second:
            resumed = await second.resume_execution(handle.id)
            result = await resumed.result()
        assert result.status is _S.COMPLETED, result.error
        child_record = await store.get_execution(child_id)
        assert child_record is not None
        assert child_record.status == "completed"
        assert reviewer2.calls == 0  # its answer was recorded before the detach
        assert gate.calls == 1
        assert decider.calls + decider2.calls == 1
        started = [e for e in await store.read_journal(handle.id) if e.type == "child:started"]
        assert [e.data["attached"] for e in started] == [False, True]
        assert {e.data["child_id"] for e in started} == {child_id}
    finally:
        await store.close()
