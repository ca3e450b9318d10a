"""Recording to a history store: the record, the journal, completed calls, checkpoints, history
queries, cross-process control, and resuming an execution from the store (real SQLite file)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.engine.status import ExecutionStatus
from quorum.errors import ExecutionNotFoundError, ResumeRefusedError
from quorum.events import EventType as E
from quorum.history.base import HistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.testing import ScriptedAgent, sleeping_agent
from tests.engine.run_helpers import crash, executor_with, phase, prompt, task, tasks_left_running

pytestmark = pytest.mark.integration

T = task(
    phase("A", prompt("a"), agents=("x", "y"), parallel=True),
    phase("B", prompt("b"), agents=("x", "y"), depends_on="A", outputs=("v",)),
)


def _agents(delay: float = 0.001) -> dict[str, Any]:
    return {"x": sleeping_agent(delay, {"v": "x"}), "y": sleeping_agent(delay, {"v": "y"})}


async def test_every_event_is_journaled_with_calls_and_checkpoints(store: HistoryStore) -> None:
    ex = executor_with(_agents(), history_store=store)
    result = await ex.execute(T, {"n": 1})
    assert result.status is ExecutionStatus.COMPLETED
    record = await store.get_execution(result.id)
    assert record is not None
    assert record.status == "completed"
    assert record.task == "t"
    assert dict(record.input) == {"n": 1}
    assert set(record.phase_hashes) == {"A", "B"}
    journal = await store.read_journal(result.id)
    assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
    assert journal[0].type == E.EXECUTION_START
    assert journal[-1].type == E.EXECUTION_COMPLETE
    assert record.last_sequence == len(journal)
    calls = await store.completed_calls(result.id)
    assert set(calls) == {"A/0/x/0/1", "A/0/y/0/1", "B/0/x/0/1", "B/0/y/0/1"}
    assert calls["A/0/x/0/1"]["data"] == {"v": "x"}
    checkpoint = await store.latest_checkpoint(result.id)
    assert checkpoint is not None
    assert checkpoint.data["label"] == "after:B"
    assert set(checkpoint.data["snapshot"]["phases"]) == {"A", "B"}


async def test_history_comes_from_the_store_or_from_memory(store: HistoryStore) -> None:
    ex = executor_with({"x": ScriptedAgent(), "y": ScriptedAgent(always_fail=True)}, history_store=store)
    ok = await ex.execute(task(phase("A", prompt("a"), agents=("x",)), name="good"))
    bad = await ex.execute(task(phase("A", prompt("a"), agents=("y",)), name="bad"))
    rows = await ex.get_execution_history(limit=10)
    assert [r.id for r in rows] == [bad.id, ok.id]
    assert [r.id for r in await ex.get_execution_history(limit=10, status="failed")] == [bad.id]
    assert [r.id for r in await ex.get_execution_history(limit=10, task="good")] == [ok.id]
    plain = executor_with({"x": ScriptedAgent(), "y": ScriptedAgent(always_fail=True)})
    first = await plain.execute(task(phase("A", prompt("a"), agents=("x",)), name="good"))
    second = await plain.execute(task(phase("A", prompt("a"), agents=("y",)), name="bad"))
    rows = await plain.get_execution_history(limit=1)
    assert [r.id for r in rows] == [second.id]
    assert [r.status for r in await plain.get_execution_history(status="completed")] == ["completed"]
    assert (await plain.get_execution_history(task="good"))[0].id == first.id
    assert plain.get_result(first.id).status is ExecutionStatus.COMPLETED
    with pytest.raises(ExecutionNotFoundError):
        plain.get_result("missing")


async def test_control_requests_from_another_process_are_honoured(store: HistoryStore) -> None:
    ex = executor_with(_agents(0.05), history_store=store, control_poll_s=0.01)
    long_task = task(*(phase(f"P{i}", prompt("x"), agents=("x",), depends_on=(f"P{i-1}",) if i else ())
                       for i in range(8)))
    handle = await ex.start(long_task)
    await asyncio.sleep(0.02)
    await store.request_control(handle.id, "pause", "from the CLI")
    for _ in range(100):
        if handle.status is ExecutionStatus.PAUSED:
            break
        await asyncio.sleep(0.01)
    assert handle.status is ExecutionStatus.PAUSED
    await store.request_control(handle.id, "resume")
    await asyncio.sleep(0.05)
    await store.request_control(handle.id, "abort", "stop from the CLI")
    result = await handle.result()
    assert result.status is ExecutionStatus.ABORTED
    assert "stop from the CLI" in (result.error or "")
    record = await store.get_execution(handle.id)
    assert record is not None
    assert record.status == "aborted"
    types = [e.type for e in await store.read_journal(handle.id)]
    assert E.EXECUTION_PAUSED in types
    assert E.EXECUTION_RESUMED in types


async def test_resume_from_the_store_reuses_completed_calls(tmp_path: Path) -> None:
    """A first process dies mid-run; a second one resumes from the journal without redoing calls."""
    db = tmp_path / "crash.db"
    calls: list[str] = []

    def counting(request: AgentRequest) -> dict[str, str]:
        calls.append(str(request.key))
        return {"v": request.agent_id}

    gate = asyncio.Event()
    in_flight = asyncio.Event()

    async def stuck(request: AgentRequest) -> dict[str, str]:
        calls.append(str(request.key))
        in_flight.set()
        await gate.wait()  # never set: the "crash" happens while this call is in flight
        return {"v": "stuck"}

    t = task(
        phase("A", prompt("a"), agents=("x", "y"), parallel=True),
        phase("B", prompt("b"), agents=("x", "z"), depends_on="A"),
        phase("C", prompt("c"), agents=("x",), depends_on="B", outputs=("v",)),
    )
    first_store = SQLiteHistoryStore(db)
    await first_store.open()
    ex1 = executor_with({"x": counting, "y": counting, "z": stuck}, history_store=first_store)
    handle = await ex1.start(t)
    await in_flight.wait()
    await asyncio.sleep(0.05)  # let the journal catch up with B/0/x
    execution_id = handle.id
    # Simulate the crash: the first owner disappears without writing an outcome or releasing the lease.
    # (Same process, so the lease is "already ours" for the second executor.)
    await crash(ex1, execution_id)
    await first_store.close()

    second_store = SQLiteHistoryStore(db)
    await second_store.open()
    calls.clear()

    def finishing(request: AgentRequest) -> dict[str, str]:
        calls.append(str(request.key))
        return {"v": request.agent_id}

    ex2 = executor_with({"x": finishing, "y": finishing, "z": finishing}, history_store=second_store)
    resumed = await ex2.resume_execution(execution_id)
    result = await resumed.result()
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert calls == ["B/0/z/0/1", "C/0/x/0/1"]  # A's calls and B/0/x were not run again
    assert result.phases["A"].status.value == "completed"
    assert result.verdict == {"v": "x"}
    journal = await second_store.read_journal(execution_id)
    assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
    assert any(e.type == E.EXECUTION_RESUMED and e.data.get("recovered") for e in journal)
    with pytest.raises(ResumeRefusedError):
        await ex2.resume_execution(execution_id)  # already ended
    await second_store.close()


async def test_resume_of_an_unknown_execution(store: HistoryStore) -> None:
    ex = executor_with({}, history_store=store)
    with pytest.raises(ExecutionNotFoundError):
        await ex.resume_execution("nope")


async def _crashed_run(store: HistoryStore, *, pause: bool = False) -> tuple[str, list[str]]:
    """Start a 3-phase run, let phase A finish, then make its owner vanish mid-phase B."""
    calls: list[str] = []
    in_flight = asyncio.Event()

    async def agent(request: AgentRequest) -> dict[str, str]:
        calls.append(str(request.key))
        if request.phase == "B":
            in_flight.set()
            await asyncio.Event().wait()  # the process "dies" during this call
        return {"v": request.agent_id}

    t = task(phase("A", prompt("a"), agents=("x",)), phase("B", prompt("b"), agents=("x",), depends_on="A"),
             phase("C", prompt("c"), agents=("x",), depends_on="B", outputs=("v",)))
    ex = executor_with({"x": agent}, history_store=store, lease_ttl_s=0.05)
    handle = await ex.start(t)
    await in_flight.wait()
    if pause:
        await handle.pause("paused before the crash")
    await asyncio.sleep(0.05)
    await crash(ex, handle.id)
    await asyncio.sleep(0.06)  # the lease expires: the execution is now an orphan
    return handle.id, calls


async def test_recover_resumes_orphans_in_the_foreground(store: HistoryStore) -> None:
    execution_id, calls = await _crashed_run(store)
    calls.clear()
    def again(request: AgentRequest) -> dict[str, str]:
        calls.append(str(request.key))
        return {"v": "again"}

    ex = executor_with({"x": again}, history_store=store)
    handles = await ex.recover()
    assert [h.id for h in handles] == [execution_id]
    result = await handles[0].result()
    assert result.status is ExecutionStatus.COMPLETED
    assert calls == ["B/0/x/0/1", "C/0/x/0/1"]
    record = await store.get_execution(execution_id)
    assert record is not None
    assert record.status == "completed"
    assert await ex.recover() == []


async def test_recover_leaves_a_paused_execution_parked_for_resume(store: HistoryStore) -> None:
    execution_id, _ = await _crashed_run(store, pause=True)
    ex = executor_with({"x": ScriptedAgent({"v": "x"})}, history_store=store)
    assert await asyncio.wait_for(ex.recover(), 5) == []
    record = await store.get_execution(execution_id)
    assert record is not None
    assert record.status == "paused"
    handle = await ex.resume_execution(execution_id)
    assert (await handle.result()).status is ExecutionStatus.COMPLETED


async def test_recover_in_the_foreground_returns_when_a_pending_pause_takes_effect(
    store: HistoryStore,
) -> None:
    execution_id, _ = await _crashed_run(store)
    await store.request_control(execution_id, "pause", "asked while it was down")
    ex = executor_with({"x": ScriptedAgent({"v": "x"})}, history_store=store)
    handles = await asyncio.wait_for(ex.recover(), 5)  # must not wait for a resume that never comes
    assert [h.id for h in handles] == [execution_id]
    record = await store.get_execution(execution_id)
    assert record is not None
    assert (record.status, record.owner) == ("paused", None)  # detached: another process may resume it
    again = executor_with({"x": ScriptedAgent({"v": "x"})}, history_store=store)
    handle = await again.resume_execution(execution_id)
    assert (await handle.result()).status is ExecutionStatus.COMPLETED


async def test_recovery_that_keeps_crashing_is_abandoned(store: HistoryStore) -> None:
    execution_id, _ = await _crashed_run(store)
    for owner in ("h1:1:a", "h2:1:b", "h3:1:c"):
        lease = await store.acquire_lease(execution_id, owner, ttl_s=0.0)
        assert lease is not None
    record = await store.get_execution(execution_id)
    assert record is not None
    assert record.recovery_attempts >= 3
    ex = executor_with({"x": ScriptedAgent()}, history_store=store)
    assert await ex.recover() == []
    record = await store.get_execution(execution_id)
    assert record is not None
    assert record.status == "failed"
    assert "recovery abandoned" in (record.error or "")


async def test_abort_requested_before_a_crash_is_honoured_on_resume(store: HistoryStore) -> None:
    execution_id, _calls = await _crashed_run(store)
    await store.request_control(execution_id, "abort", "asked while it was down")
    ex = executor_with({"x": ScriptedAgent({"v": 1})}, history_store=store, control_poll_s=30)
    handle = await ex.resume_execution(execution_id)
    result = await handle.result()
    assert result.status is ExecutionStatus.ABORTED
    assert "asked while it was down" in (result.error or "")


async def test_a_fork_is_a_new_recorded_execution(store: HistoryStore) -> None:
    ex = executor_with(_agents(), history_store=store)
    first = await ex.execute(T, {"n": 1})
    forked = await (await ex.fork(first.id, first.checkpoints[0])).result()
    assert forked.status is ExecutionStatus.COMPLETED
    assert forked.id != first.id
    journal = await store.read_journal(forked.id)
    assert journal[0].sequence == 1
    assert journal[0].type == E.EXECUTION_START
    assert not any(e.type == E.PHASE_START and e.phase == "A" for e in journal)  # A came from the fork
    again = ex._context_of(first.id)
    with pytest.raises(ResumeRefusedError):
        await ex.run_context(again)


async def test_no_task_outlives_a_recorded_execution(store: HistoryStore) -> None:
    ex = executor_with(_agents(), history_store=store)
    result = await ex.execute(T, {"n": 1})
    assert result.status is ExecutionStatus.COMPLETED
    assert await tasks_left_running() == []
    record = await store.get_execution(result.id)
    assert record is not None
    assert record.owner is None  # the lease was released before the result was delivered


async def test_a_finished_execution_is_freed_without_the_garbage_collector(store: HistoryStore) -> None:
    # Polls of control requests are in flight when the execution ends (a poll every millisecond): the
    # cancelled poll must not keep the execution alive in a reference cycle.
    import gc

    from quorum.engine.live import LiveExecution

    ex = executor_with(_agents(0.02), history_store=store, control_poll_s=0.001)
    await ex.execute(T, {"n": 1})  # warm-up: lazily created, long-lived objects
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            result = await ex.execute(T, {"n": 1})
            assert result.status is ExecutionStatus.COMPLETED
        await asyncio.sleep(0.01)
        alive = [o for o in gc.get_objects() if isinstance(o, LiveExecution)]
        assert alive == []
    finally:
        gc.enable()
