"""Timeouts, abort and pause — including at awkward moments — and that no asyncio task leaks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.definition.model import RetryPolicy
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.errors import ExecutionInterrupt, ExecutionNotFoundError, InvalidTransitionError
from quorum.events import Event
from quorum.events import EventType as E
from quorum.signals import AbortSignal
from quorum.testing import EventCapture, ScriptedAgent, failing_agent, sleeping_agent
from tests.engine.run_helpers import (
    agent_step,
    custom,
    executor_with,
    phase,
    prompt,
    task,
    tasks_left_running,
)

pytestmark = [pytest.mark.concurrency, pytest.mark.errors]


def waiter(ex: TaskExecutor, event_type: str, count: int = 1, **match: Any) -> asyncio.Event:
    """An asyncio.Event set once ``count`` events of that type (matching fields) were emitted."""
    flag = asyncio.Event()
    seen = [0]

    def handler(event: Event) -> None:
        if all(getattr(event, k) == v for k, v in match.items()):
            seen[0] += 1
            if seen[0] >= count:
                flag.set()

    ex.on(event_type, handler)
    return flag


async def _no_leaks() -> None:
    leftover = await tasks_left_running()
    assert leftover == []


async def test_task_timeout_cancels_in_flight_work_and_keeps_partial_results() -> None:
    slow = sleeping_agent(5.0)
    fast = sleeping_agent(0.001, {"v": "fast"})
    ex = executor_with({"fast": fast, "slow": slow}, max_execution_time=0.15)
    t = task(phase("First", prompt("a"), agents=("fast",), outputs=("v",)),
             phase("Second", prompt("b"), agents=("fast", "slow"), parallel=True, depends_on="First"),
             phase("Third", prompt("c"), agents=("fast",), depends_on="Second"))
    started = time.perf_counter()
    with EventCapture(ex) as events:
        result = await ex.execute(t)
    assert time.perf_counter() - started < 4.0  # below the slow agent's 5 s: cancelled
    assert result.status is ExecutionStatus.TIMEOUT
    assert "0.15s" in (result.error or "")
    assert result.phases["First"].status is PhaseStatus.COMPLETED
    assert result.phases["First"].outputs == {"v": "fast"}
    second = result.phases["Second"]
    assert second.status is PhaseStatus.CANCELLED
    assert [a.agent_id for a in second.answers] == ["fast"]  # the partial answer is kept
    assert "Third" not in result.phases
    assert slow.cancelled == 1
    assert slow.requests[0].abort.aborted
    assert slow.requests[0].abort.kind == "timeout"
    assert events.types()[-1] == E.EXECUTION_TIMEOUT
    assert result.verdict is None
    await _no_leaks()


async def test_the_tasks_own_time_limit_wins() -> None:
    ex = executor_with({"slow": sleeping_agent(5.0)}, max_execution_time=100.0)
    result = await ex.execute(task(phase("P", prompt("x"), agents=("slow",)), max_execution_time_s=0.05))
    assert result.status is ExecutionStatus.TIMEOUT


async def test_phase_timeout_fails_the_attempt_and_retries() -> None:
    agent = ScriptedAgent({"v": 1}, delay=0.2)
    ex = executor_with({"a": agent}, sleep=lambda s: asyncio.sleep(0))
    t = task(phase("P", prompt("x"), agents=("a",), timeout_s=0.03, retry=RetryPolicy(max_attempts=2)))
    with EventCapture(ex) as events:
        result = await ex.execute(t)
    assert result.status is ExecutionStatus.FAILED
    assert "timed out after 0.03s" in (result.error or "")
    assert len(events.of(E.PHASE_FAILED)) == 2
    assert agent.cancelled == 2


async def test_agent_timeout_is_one_failed_answer() -> None:
    ex = executor_with({"slow": sleeping_agent(1.0), "ok": ScriptedAgent({"v": 1})}, agent_timeout=0.03)
    result = await ex.execute(task(phase("P", prompt("x"), agents=("slow", "ok"), parallel=True)))
    assert result.status is ExecutionStatus.COMPLETED
    assert "0.03s" in (result.phases["P"].responses["slow"].error or "")
    assert result.phases["P"].outputs == {"ok": {"v": 1}}


async def test_abort_cancels_everything_in_flight_at_once() -> None:
    agents = {f"a{i}": sleeping_agent(10.0) for i in range(4)}
    ex = executor_with(agents)
    started_all = waiter(ex, E.AGENT_START, count=4)
    handle = await ex.start(task(phase("P", prompt("x"), agents=tuple(agents), parallel=True)))
    await started_all.wait()
    signal: AbortSignal = agents["a0"].requests[0].abort
    fired: list[str] = []
    signal.add_callback(lambda s: fired.append(s.reason or ""))
    t0 = time.perf_counter()
    with EventCapture(ex) as events:
        result = await ex.abort_execution(handle.id, "stop it")
    assert time.perf_counter() - t0 < 5.0  # below the agents' 10 s: cancelled
    assert result.status is ExecutionStatus.ABORTED
    assert result.error == "aborted: stop it"
    assert all(a.cancelled == 1 for a in agents.values())
    assert signal.aborted
    assert fired == ["stop it"]
    assert result.phases["P"].status is PhaseStatus.CANCELLED
    assert events.types()[-1] == E.EXECUTION_ABORTED
    assert events.events[-1].data["reason"] == "stop it"
    assert ex.get_active_executions() == []
    await _no_leaks()


async def test_abort_during_the_backoff_between_retries() -> None:
    ex = executor_with({"bad": failing_agent()})
    retrying = waiter(ex, E.PHASE_RETRY)
    t = task(phase("P", prompt("x"), agents=("bad",), retry=RetryPolicy(max_attempts=5, backoff_ms=10_000)))
    handle = await ex.start(t)
    await retrying.wait()
    t0 = time.perf_counter()
    result = await handle.abort("enough")
    assert time.perf_counter() - t0 < 5.0  # well below the backoff: the wait was cancelled
    assert result.status is ExecutionStatus.ABORTED
    assert result.phases["P"].attempts == 1
    await _no_leaks()


async def test_abort_during_a_round_table() -> None:
    agents = {a: sleeping_agent(0.03, {"a": a}) for a in ("r1", "r2", "r3", "r4")}
    ex = executor_with(agents)
    second = waiter(ex, E.AGENT_RESPONSE, agent="r2")
    handle = await ex.start(task(phase("RT", prompt("x"), agents=tuple(agents))))
    await second.wait()
    result = await handle.abort("mid-table")
    assert result.status is ExecutionStatus.ABORTED
    answered = [a.agent_id for a in result.phases["RT"].answers]
    assert answered == ["r1", "r2"]
    assert agents["r4"].calls == 0


async def test_pause_waits_for_calls_in_flight_then_holds_the_next_step() -> None:
    agent = sleeping_agent(0.05, {"v": 1})
    after = ScriptedAgent({"w": 2})
    ex = executor_with({"a": agent, "b": after})
    in_flight = waiter(ex, E.AGENT_START, agent="a")
    t = task(phase("P", prompt("first"), agent_step("b", "second"), agents=("a",)))
    with EventCapture(ex) as events:
        handle = await ex.start(t)
        await in_flight.wait()
        await ex.pause_execution(handle.id, "hold on")
        assert handle.status is ExecutionStatus.PAUSED
        await asyncio.sleep(0.15)
        assert agent.completed == 1  # the call in flight finished and was recorded
        assert after.calls == 0  # but the next step did not start
        assert [a.id for a in ex.get_active_executions()] == [handle.id]
        assert ex.get_active_executions()[0].status is ExecutionStatus.PAUSED
        assert ex.get_active_executions()[0].current_phases == ("P",)
        await ex.resume_execution(handle.id)
        result = await handle.result()
    assert result.status is ExecutionStatus.COMPLETED
    kinds = events.types()
    paused, resumed = kinds.index(E.EXECUTION_PAUSED), kinds.index(E.EXECUTION_RESUMED)
    assert paused < kinds.index(E.AGENT_RESPONSE) < resumed
    second_step = next(i for i, e in enumerate(events.events) if e.type == E.STEP_START and e.step == 1)
    assert second_step > resumed
    assert events.events[paused].data["reason"] == "hold on"
    assert events.events[resumed].data["paused_ms"] >= 100


async def test_paused_time_does_not_count_against_the_time_limit() -> None:
    ex = executor_with({"a": sleeping_agent(0.05)}, max_execution_time=0.3)
    first = waiter(ex, E.AGENT_START)
    handle = await ex.start(task(phase("P", prompt("x"), agents=("a",)),
                                 phase("Q", prompt("y"), agents=("a",), depends_on="P")))
    await first.wait()
    await handle.pause("long pause")
    await asyncio.sleep(0.45)
    assert handle.status is ExecutionStatus.PAUSED  # no timeout while paused
    await handle.resume()
    result = await handle.result()
    assert result.status is ExecutionStatus.COMPLETED


async def test_paused_time_does_not_count_against_a_phase_timeout() -> None:
    ex = executor_with({"a": sleeping_agent(0.05)})
    first = waiter(ex, E.AGENT_RESPONSE)
    t = task(phase("P", prompt("x"), prompt("y"), prompt("z"), agents=("a",), timeout_s=0.25))
    handle = await ex.start(t)
    await first.wait()
    await handle.pause()
    await asyncio.sleep(0.35)
    await handle.resume()
    assert (await handle.result()).status is ExecutionStatus.COMPLETED


async def test_pause_during_a_round_table_holds_the_next_turn() -> None:
    agents = {a: sleeping_agent(0.02) for a in ("r1", "r2", "r3")}
    ex = executor_with(agents)
    first = waiter(ex, E.AGENT_START, agent="r1")
    handle = await ex.start(task(phase("RT", prompt("x"), agents=tuple(agents))))
    await first.wait()
    await handle.pause()
    await asyncio.sleep(0.1)
    assert agents["r1"].completed == 1
    assert agents["r2"].calls == 0
    await handle.resume()
    assert (await handle.result()).status is ExecutionStatus.COMPLETED
    assert agents["r3"].completed == 1


async def test_abort_while_paused() -> None:
    ex = executor_with({"a": sleeping_agent(0.02)})
    first = waiter(ex, E.AGENT_START)
    handle = await ex.start(task(phase("P", prompt("x"), prompt("y"), agents=("a",))))
    await first.wait()
    await handle.pause()
    await asyncio.sleep(0.05)
    result = await ex.abort_execution(handle.id, "never mind")
    assert result.status is ExecutionStatus.ABORTED
    await _no_leaks()


async def test_pause_before_the_first_step_and_illegal_control() -> None:
    a = sleeping_agent(0.01)
    ex = executor_with({"a": a})
    handle = await ex.start(task(phase("P", prompt("x"), agents=("a",))))
    await handle.pause("right away")  # before it even ran
    await asyncio.sleep(0.05)
    assert handle.status is ExecutionStatus.PAUSED
    assert a.calls == 0
    with pytest.raises(InvalidTransitionError):
        await handle.pause()
    await handle.resume()
    with pytest.raises(InvalidTransitionError):
        await handle.resume()
    result = await handle.result()
    assert result.status is ExecutionStatus.COMPLETED
    with pytest.raises(ExecutionNotFoundError):
        await ex.pause_execution(handle.id)
    with pytest.raises(ExecutionNotFoundError):
        await ex.abort_execution("nope")


async def test_cancelling_the_caller_aborts_the_execution() -> None:
    agent = sleeping_agent(10.0)
    ex = executor_with({"a": agent})
    started = waiter(ex, E.AGENT_START)
    caller = asyncio.create_task(ex.execute(task(phase("P", prompt("x"), agents=("a",)))))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert agent.cancelled == 1
    history = await ex.get_execution_history()
    assert history[0].status == "aborted"
    await _no_leaks()


async def test_strategies_receive_the_abort_as_cancellation_and_signal() -> None:
    seen: dict[str, Any] = {}

    async def long_strategy(step: Any, ph: Any, context: Any) -> None:
        seen["signal"] = context.abort
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen["cancelled"] = True
            raise

    ex = executor_with({})
    ex.register_step_strategy("long", long_strategy)
    started = waiter(ex, E.STEP_START)
    handle = await ex.start(task(phase("P", custom("long"))))
    await started.wait()
    await asyncio.sleep(0.01)
    result = await handle.abort("bye")
    assert result.status is ExecutionStatus.ABORTED
    assert seen["cancelled"]
    assert seen["signal"].aborted


async def test_an_interrupt_raised_by_user_code_is_not_swallowed() -> None:
    def polling(request: AgentRequest) -> dict[str, Any]:
        raise ExecutionInterrupt("agent saw the end", kind="abort")

    ex = executor_with({"a": polling})
    result = await ex.execute(task(phase("P", prompt("x"), agents=("a",))))
    assert result.status is ExecutionStatus.ABORTED
    assert "agent saw the end" in (result.error or "")


async def test_agents_polling_the_signal_stop_early() -> None:
    agent = ScriptedAgent(delay=5.0, poll_abort=True)
    ex = executor_with({"a": agent}, max_execution_time=0.05)
    result = await ex.execute(task(phase("P", prompt("x"), agents=("a",))))
    assert result.status is ExecutionStatus.TIMEOUT
    assert agent.completed == 0


async def test_no_task_outlives_its_execution_after_many_aborts_and_timeouts() -> None:
    agents = {f"a{i}": sleeping_agent(0.5) for i in range(5)}
    agents["quick"] = sleeping_agent(0.001)
    ex = executor_with(agents, max_concurrent_agents=3)
    t = task(phase("A", prompt("x"), agents=("quick",)),
             phase("B", prompt("y"), agents=tuple(f"a{i}" for i in range(5)), parallel=True, depends_on="A"),
             phase("C", prompt("z"), agents=tuple(f"a{i}" for i in range(5)), depends_on="A",
                   retry=RetryPolicy(max_attempts=3, backoff_ms=1000)))
    handles = [await ex.start(t) for _ in range(20)]
    await asyncio.sleep(0.02)
    for i, handle in enumerate(handles):
        if i % 3 == 0:
            await handle.pause()
        if i % 2 == 0:
            await ex.abort_execution(handle.id, "mass abort")
    timed = [ex.execute(task(*t.phases, max_execution_time_s=0.03)) for _ in range(20)]
    results = await asyncio.gather(*timed)
    assert {r.status for r in results} == {ExecutionStatus.TIMEOUT}
    for handle in handles[1::2]:
        await ex.abort_execution(handle.id, "the rest")
    await ex.aclose()
    assert ex.get_active_executions() == []
    await _no_leaks()
