"""Detaching a paused execution for another process, what a takeover reads from the journal (phases
settled after the latest checkpoint are not run or announced again), and the running time
(``duration_ms``) across pauses, detaches and processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.definition.model import RetryPolicy
from quorum.engine.journal import running_time_s
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.errors import InvalidTransitionError
from quorum.events import Event
from quorum.events import EventType as E
from quorum.history.base import HistoryStore
from quorum.ids import AgentId, ExecutionId, PhaseName, TaskName
from quorum.testing import failing_agent, sleeping_agent
from tests.engine.run_helpers import executor_with, phase, prompt, task, tasks_left_running

pytestmark = [pytest.mark.integration, pytest.mark.concurrency]


class Blocking:
    """An agent that answers only once ``release`` is set (``started`` tells that a call is in flight)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls: list[str] = []

    async def __call__(self, request: AgentRequest) -> dict[str, Any]:
        self.calls.append(str(request.key))
        self.started.set()
        await self.release.wait()
        return {"v": request.agent_id}


async def _until(predicate: Any) -> None:
    deadline = time.monotonic() + 5.0
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.005)


def _types(journal: list[Event], prefix: str = "execution:") -> list[str]:
    return [e.type for e in journal if e.type.startswith(prefix)]


async def test_detach_leaves_a_paused_execution_for_another_process(store: HistoryStore) -> None:
    blocking = Blocking()
    t = task(
        phase("A", prompt("a"), agents=("x",)),
        phase("B", prompt("b1"), prompt("b2"), agents=("slow",), depends_on="A", outputs=("v",)),
    )
    ex1 = executor_with({"x": sleeping_agent(0.001, {"v": "x"}), "slow": blocking}, history_store=store)
    handle = await ex1.start(t)
    await blocking.started.wait()
    with pytest.raises(InvalidTransitionError):
        await ex1.detach(handle.id)  # running: only a paused execution can be left
    await ex1.pause_execution(handle.id, "for later")
    blocking.release.set()  # the call in flight finishes (and is recorded) while it pauses
    await _until_recorded(store, handle.id, E.AGENT_RESPONSE, "B")
    left = await ex1.detach(handle.id)
    assert left.status is ExecutionStatus.PAUSED
    assert handle.done
    assert ex1.get_active_executions() == []
    assert await tasks_left_running() == []  # nothing of it runs here any more
    record = await store.get_execution(handle.id)
    assert record is not None
    assert record.status == "paused"
    assert record.owner is None  # the lease is released: anyone may take it over
    journal = await store.read_journal(handle.id)
    assert _types(journal) == [E.EXECUTION_START, E.EXECUTION_PAUSED]  # no abort recorded
    assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
    await ex1.aclose()

    # "Another process": a new executor over the same store takes it over from the journal.
    again = Blocking()
    again.release.set()
    ex2 = executor_with({"x": sleeping_agent(0.001, {"v": "x"}), "slow": again}, history_store=store)
    resumed = await ex2.resume_execution(handle.id)
    result = await resumed.result()
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert result.verdict == {"v": "slow"}
    assert again.calls == ["B/1/slow/0/1"]  # B's first call finished before the detach: not run again
    journal = await store.read_journal(handle.id)
    assert _types(journal) == [E.EXECUTION_START, E.EXECUTION_PAUSED, E.EXECUTION_RESUMED,
                               E.EXECUTION_COMPLETE]


async def test_detach_of_an_execution_that_already_ended_returns_its_result(store: HistoryStore) -> None:
    ex = executor_with({"x": sleeping_agent(0.001, {"v": "x"})}, history_store=store)
    result = await ex.execute(task(phase("A", prompt("a"), agents=("x",))))
    assert (await ex.detach(result.id)).status is ExecutionStatus.COMPLETED


async def _until_recorded(store: HistoryStore, execution_id: str, kind: str, phase_name: str) -> None:
    deadline = time.monotonic() + 5.0
    while not any(e.type == kind and e.phase == phase_name for e in await store.read_journal(execution_id)):
        assert time.monotonic() < deadline, f"{kind} of {phase_name} never recorded"
        await asyncio.sleep(0.005)


async def test_detach_cancels_calls_in_flight_and_they_run_again_on_resume(store: HistoryStore) -> None:
    blocking = Blocking()
    t = task(phase("A", prompt("a"), agents=("slow",), outputs=("v",)))
    ex1 = executor_with({"slow": blocking}, history_store=store)
    handle = await ex1.start(t)
    await blocking.started.wait()
    await handle.pause()
    left = await handle.detach()  # the call is still in flight: it is cancelled, not recorded
    assert left.status is ExecutionStatus.PAUSED
    assert await tasks_left_running() == []
    record = await store.get_execution(handle.id)
    assert record is not None
    assert record.status == "paused"
    again = Blocking()
    again.release.set()
    ex2 = executor_with({"slow": again}, history_store=store)
    result = await (await ex2.resume_execution(handle.id)).result()
    assert result.status is ExecutionStatus.COMPLETED
    assert again.calls == ["A/0/slow/0/1"]


async def test_detach_needs_a_history_store() -> None:
    blocking = Blocking()
    ex = executor_with({"slow": blocking})
    handle = await ex.start(task(phase("A", prompt("a"), agents=("slow",))))
    await blocking.started.wait()
    await ex.pause_execution(handle.id)
    with pytest.raises(InvalidTransitionError, match="no history store"):
        await ex.detach(handle.id)
    result = await ex.abort_execution(handle.id)
    assert result.status is ExecutionStatus.ABORTED


async def test_phases_settled_after_the_checkpoint_are_not_run_or_announced_again(
    store: HistoryStore,
) -> None:
    """A checkpoint follows each *completed* phase; a skip and an optional failure after the latest
    one are known only from the journal. A takeover must settle them from it, not run them again."""
    blocking = Blocking()
    broken = failing_agent("broken")
    t = task(
        phase("A", prompt("a"), agents=("x",)),
        phase("Skipped", prompt("s"), agents=("x",), depends_on="A", when="input.deep"),
        phase("Optional", prompt("o"), agents=("broken",), depends_on="A", optional=True,
              retry=RetryPolicy(max_attempts=1)),
        phase("Slow", prompt("w"), agents=("slow",), depends_on="A", outputs=("v",)),
        phase("End", prompt("e"), agents=("x",), depends_on=("Skipped", "Optional", "Slow"),
              outputs=("v",)),
    )
    agents = {"x": sleeping_agent(0.001, {"v": "x"}), "broken": broken, "slow": blocking}
    ex1 = executor_with(agents, history_store=store, max_concurrent_phases=4)
    handle = await ex1.start(t, {"deep": False})
    await blocking.started.wait()
    ctx = handle.context
    await _until(lambda: ctx.phase_status("Skipped") is PhaseStatus.SKIPPED
                 and ctx.phase_status("Optional") is PhaseStatus.FAILED)
    await ex1.pause_execution(handle.id)
    await ex1.detach(handle.id)
    assert broken.calls == 1

    again = Blocking()
    again.release.set()
    ex2 = executor_with({**agents, "slow": again}, history_store=store)
    result = await (await ex2.resume_execution(handle.id)).result()
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert broken.calls == 1  # the failed optional phase was not run again
    assert result.phases["Skipped"].status is PhaseStatus.SKIPPED
    assert result.phases["Skipped"].skipped_reason == "condition false: input.deep"
    assert result.phases["Optional"].status is PhaseStatus.FAILED
    optional_answers = result.phases["Optional"].answers
    assert len(optional_answers) == 1
    assert optional_answers[0].error
    journal = await store.read_journal(handle.id)
    per_phase = [(str(e.type), str(e.phase)) for e in journal if e.type.startswith("phase:")]
    assert per_phase.count((E.PHASE_SKIPPED, "Skipped")) == 1
    assert per_phase.count((E.PHASE_START, "Optional")) == 1
    assert per_phase.count((E.PHASE_FAILED, "Optional")) == 1
    assert per_phase.count((E.PHASE_COMPLETE, "A")) == 1
    assert per_phase.count((E.PHASE_COMPLETE, "End")) == 1
    assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))


# --- running time -----------------------------------------------------------------------------------

def _event(kind: str, sequence: int, at: float, **data: Any) -> Event:
    return Event(type=kind, execution_id=ExecutionId("e"), sequence=sequence, timestamp=at,
                 task=TaskName("t"), data=data)


def test_running_time_counts_neither_pauses_nor_time_without_a_driver() -> None:
    journal = [
        _event(E.EXECUTION_START, 1, 100.0),
        _event(E.AGENT_START, 2, 100.5),
        _event(E.EXECUTION_PAUSED, 3, 102.0),        # ran 2 s
        _event(E.AGENT_RESPONSE, 4, 102.5),          # finished while pausing: paused time
        _event(E.EXECUTION_RESUMED, 5, 110.0),
        _event(E.AGENT_START, 6, 111.0),             # ran 1 s, then its process died
        _event(E.EXECUTION_RESUMED, 7, 500.0, recovered=True),
        _event(E.PHASE_COMPLETE, 8, 502.0),
        _event(E.EXECUTION_COMPLETE, 9, 503.0),      # ran 3 s
    ]
    assert running_time_s(journal) == pytest.approx(6.0)
    assert running_time_s(journal[:6]) == pytest.approx(3.0)  # died running: up to its last event
    assert running_time_s(journal[:4]) == pytest.approx(2.0)  # paused: the pause is not counted
    assert running_time_s([]) == 0.0


async def test_duration_counts_only_running_time_in_one_process() -> None:
    blocking = Blocking()
    ex = executor_with({"slow": blocking})
    handle = await ex.start(task(phase("A", prompt("a"), agents=("slow",))))
    await blocking.started.wait()
    await ex.pause_execution(handle.id)
    await asyncio.sleep(0.4)
    await ex.resume_execution(handle.id)
    blocking.release.set()
    result = await handle.result()
    assert result.status is ExecutionStatus.COMPLETED
    assert result.started_at is not None
    assert result.ended_at is not None
    elapsed_ms = (result.ended_at - result.started_at) * 1000.0
    assert elapsed_ms >= 400.0
    assert result.duration_ms is not None
    assert result.duration_ms <= elapsed_ms - 350.0  # the 0.4 s pause is not running time


async def test_duration_across_a_detach_and_a_takeover(store: HistoryStore) -> None:
    t = task(
        phase("A", prompt("a"), agents=("x",)),
        phase("B", prompt("b"), agents=("gate",), depends_on="A", outputs=("v",)),
    )
    gate = Blocking()
    ex1 = executor_with({"x": sleeping_agent(0.05, {"v": "x"}), "gate": gate}, history_store=store)
    handle = await ex1.start(t)
    await gate.started.wait()
    await ex1.pause_execution(handle.id)
    gate.release.set()
    await _until(lambda: handle.context.phase_status("B") is not PhaseStatus.RUNNING
                 or len(gate.calls) == 1)
    await ex1.detach(handle.id)
    await asyncio.sleep(0.5)  # nobody drives it: not running time
    ex2 = executor_with({"x": sleeping_agent(0.05, {"v": "x"}), "gate": sleeping_agent(0.05, {"v": 1})},
                        history_store=store)
    result = await (await ex2.resume_execution(handle.id)).result()
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert result.started_at is not None
    assert result.ended_at is not None
    assert (result.ended_at - result.started_at) >= 0.5
    assert result.duration_ms is not None
    assert 40.0 <= result.duration_ms < 400.0  # A's 50 ms call ran; the 0.5 s without a driver did not
    record = await store.get_execution(handle.id)
    assert record is not None
    assert record.duration_ms == pytest.approx(result.duration_ms)
    journal = await store.read_journal(handle.id)
    assert running_time_s(journal) * 1000.0 == pytest.approx(result.duration_ms, abs=50.0)


def test_settle_from_journal_reads_phases_settled_after_the_checkpoint() -> None:
    from quorum.engine.context import ExecutionContext
    from quorum.engine.journal import settle_from_journal

    t = task(
        phase("Done", prompt("d"), agents=("x",)),
        phase("Late", prompt("l"), agents=("x",), outputs=("v",)),
        phase("Retried", prompt("r"), agents=("x",), outputs=("v",)),
        phase("Running", prompt("u"), agents=("x",)),
    )
    ctx = ExecutionContext(t, {})
    ctx.start_phase("Done")
    done = ctx.complete_phase("Done", {"v": 0})

    def response(agent: str, v: int) -> dict[str, Any]:
        return {"agent_id": agent, "data": {"v": v}, "text": str(v)}

    journal = [
        _event(E.PHASE_START, 10, 1.0, attempt=1),
        _event(E.PHASE_COMPLETE, 11, 1.5, attempt=1, outputs={"v": -1}),  # before the snapshot: kept
        _event(E.PHASE_START, 12, 2.0, attempt=1),
        _event(E.AGENT_RESPONSE, 13, 2.2, call_key="Late/0/x/0/1", response=response("x", 1)),
        _event(E.PHASE_COMPLETE, 14, 2.5, attempt=1, outputs={"v": 1}, warnings=["w"]),
        _event(E.PHASE_START, 15, 3.0, attempt=1),
        _event(E.AGENT_ERROR, 16, 3.1),
        _event(E.PHASE_FAILED, 17, 3.2, attempt=1, will_retry=True),
        _event(E.PHASE_START, 18, 3.5, attempt=2),
        _event(E.AGENT_RESPONSE, 19, 3.6, call_key="Retried/0/x/0/2", response=response("x", 2)),
        _event(E.PHASE_COMPLETE, 20, 3.9, attempt=2, outputs={"v": 2}),
        _event(E.PHASE_START, 21, 4.0, attempt=1),                          # in flight: not settled
    ]
    phases = ["Done", "Done", "Late", "Late", "Late", "Retried", "Retried", "Retried", "Retried", "Retried",
              "Retried", "Running"]
    journal = [
        Event(type=e.type, execution_id=e.execution_id, sequence=e.sequence, timestamp=e.timestamp,
              task=e.task, phase=PhaseName(p), agent=AgentId("x") if e.type.startswith("agent:") else None,
              error="down" if e.type == E.AGENT_ERROR else None, data=e.data)
        for e, p in zip(journal, phases, strict=True)
    ]
    assert settle_from_journal(ctx, journal) == ("Late", "Retried")
    assert ctx.phases[PhaseName("Done")] is done  # what the snapshot had stays as it was
    late = ctx.phases[PhaseName("Late")]
    assert late.status is PhaseStatus.COMPLETED
    assert dict(late.outputs) == {"v": 1}
    assert late.warnings == ("w",)
    assert [a.text for a in late.answers] == ["1"]
    retried = ctx.phases[PhaseName("Retried")]
    assert retried.attempts == 2
    assert [a.text for a in retried.answers] == ["2"]  # only the attempt that completed
    assert retried.started_at == 3.0
    assert "Running" not in ctx.phases
    assert ctx.usage.calls == 2
    assert ctx.phase_views()[PhaseName("Late")]["outputs"] == {"v": 1}  # templates of later phases see it
