"""An operator's limits on the executor cap what a task asks for, and bound all executions together."""

from __future__ import annotations

import asyncio

import pytest

from quorum.definition.model import Task
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.events import EventType as E
from quorum.testing import ConcurrencyProbe, EventCapture, make_manager, sleeping_agent
from tests.engine.run_helpers import executor_with, phase, prompt, task

pytestmark = [pytest.mark.integration, pytest.mark.concurrency]

SIX = tuple(f"p{i}" for i in range(6))


def six_parallel_phases(max_concurrent_phases: int) -> Task:
    return task(*(phase(name, prompt("go"), agents=("w",)) for name in SIX),
                max_concurrent_phases=max_concurrent_phases)


async def test_a_task_cannot_ask_for_more_concurrent_phases_than_the_executor_allows() -> None:
    probe = ConcurrencyProbe()
    ex = TaskExecutor(agent_manager=make_manager({"w": sleeping_agent(0.02, probe=probe)}),
                      max_concurrent_phases=2)
    capture = EventCapture()
    ex.on(E.EXECUTION_START, capture)
    result = await ex.execute(six_parallel_phases(max_concurrent_phases=6))
    assert result.status is ExecutionStatus.COMPLETED
    assert probe.max_in_flight == 2
    assert capture.events[0].data["capped"] == {"maxConcurrentPhases": {"asked": 6, "allowed": 2}}


async def test_a_task_may_ask_for_fewer_concurrent_phases_than_the_ceiling() -> None:
    probe = ConcurrencyProbe()
    ex = TaskExecutor(agent_manager=make_manager({"w": sleeping_agent(0.02, probe=probe)}),
                      max_concurrent_phases=4)
    capture = EventCapture()
    ex.on(E.EXECUTION_START, capture)
    await ex.execute(six_parallel_phases(max_concurrent_phases=1))
    assert probe.max_in_flight == 1
    assert "capped" not in capture.events[0].data


async def test_without_an_explicit_limit_the_task_s_own_limit_holds() -> None:
    probe = ConcurrencyProbe()
    ex = TaskExecutor(agent_manager=make_manager({"w": sleeping_agent(0.02, probe=probe)}))
    await ex.execute(six_parallel_phases(max_concurrent_phases=6))
    assert probe.max_in_flight == 6  # the default 4 is a default, not a ceiling


async def test_the_executor_s_time_limit_caps_the_task_s() -> None:
    ex = TaskExecutor(agent_manager=make_manager({"w": sleeping_agent(30.0)}), max_execution_time=0.3)
    result = await ex.execute(task(phase("P", prompt("go"), agents=("w",)), max_execution_time_s=600.0))
    assert result.status is ExecutionStatus.TIMEOUT


async def test_concurrent_agents_are_capped_too() -> None:
    probe = ConcurrencyProbe()
    agents = tuple(f"a{i}" for i in range(8))
    ex = TaskExecutor(agent_manager=make_manager({a: sleeping_agent(0.02, probe=probe) for a in agents}),
                      max_concurrent_agents=3)
    await ex.execute(task(phase("P", prompt("go"), agents=agents, parallel=True), max_concurrent_agents=8))
    assert probe.max_in_flight == 3


async def test_max_concurrent_executions_bounds_all_executions_together() -> None:
    probe = ConcurrencyProbe()
    ex = executor_with({"w": sleeping_agent(0.02, probe=probe)}, max_concurrent_executions=2)
    one = task(phase("P", prompt("go"), agents=("w",)))
    results = await asyncio.gather(*(ex.execute(one) for _ in range(6)))
    assert [r.status for r in results] == [ExecutionStatus.COMPLETED] * 6
    assert probe.max_in_flight == 2


async def test_an_execution_waiting_for_its_turn_is_pending_and_can_be_aborted() -> None:
    release = asyncio.Event()

    async def held(_: object) -> str:
        await release.wait()
        return "done"

    ex = executor_with({"w": held}, max_concurrent_executions=1)
    one = task(phase("P", prompt("go"), agents=("w",)))
    first = await ex.start(one)
    second = await ex.start(one)
    await asyncio.sleep(0.05)
    assert second.status is ExecutionStatus.PENDING
    aborted = await ex.abort_execution(second.id, "not needed")
    assert aborted.status is ExecutionStatus.ABORTED
    assert first.status is ExecutionStatus.RUNNING
    release.set()
    assert (await first.result()).status is ExecutionStatus.COMPLETED


def test_max_concurrent_executions_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        TaskExecutor(agent_manager=make_manager({}), max_concurrent_executions=0)
