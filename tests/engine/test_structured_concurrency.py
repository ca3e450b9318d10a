"""Nothing an execution starts outlives it: phases, agent calls, the journal's flusher, the control
poller and async event handlers are all tasks of its scope, and the executor's scope closes with its
last execution — whether the execution completes, fails, is aborted, times out or is detached."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.definition.model import RetryPolicy, Task
from quorum.engine.status import ExecutionStatus
from quorum.events import Event
from quorum.history.base import HistoryStore
from tests.engine.run_helpers import executor_with, phase, prompt, task, tasks_left_running

pytestmark = [pytest.mark.integration, pytest.mark.concurrency]


class _Gate:
    """Agents that block until released; ``started`` counts the calls in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def __call__(self, request: AgentRequest) -> dict[str, Any]:
        self.started += 1
        await self.release.wait()
        return {"v": request.agent_id}


def _fan_out_task(*, strict: bool = False) -> Task:
    """A parallel phase of three agents, then one; ``strict``: all three must answer, in one attempt."""
    retry = RetryPolicy(max_attempts=1) if strict else None
    return task(
        phase("A", prompt("a"), agents=("x", "y", "z"), parallel=True, retry=retry,
              min_agents=3 if strict else None),
        phase("B", prompt("b"), agents=("x",), depends_on="A", outputs=("v",)),
    )


def _broken(request: AgentRequest) -> dict[str, Any]:
    raise RuntimeError(f"{request.agent_id} is broken")


async def _slow_handler(event: Event) -> None:
    await asyncio.sleep(30)  # outlasts the grace period: cancelled when the execution ends


async def _until_started(gate: _Gate, n: int) -> None:
    for _ in range(1000):
        if gate.started >= n:
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"only {gate.started} of {n} calls started")


@pytest.mark.parametrize("outcome", ["completed", "failed", "aborted", "timeout", "detached"])
async def test_no_task_outlives_an_execution(store: HistoryStore, outcome: str) -> None:
    gate = _Gate()
    agents: dict[str, Any] = {"x": gate, "y": gate, "z": gate}
    if outcome == "failed":
        agents["z"] = _broken
    limits: dict[str, Any] = {"max_execution_time": 0.2} if outcome == "timeout" else {}
    ex = executor_with(agents, history_store=store, control_poll_s=0.01, handler_grace_s=0.05, **limits)
    ex.on("agent:start", _slow_handler)
    handle = await ex.start(_fan_out_task(strict=outcome == "failed"))
    await _until_started(gate, 1 if outcome == "failed" else 2)
    if outcome == "completed" or outcome == "failed":
        gate.release.set()
        result = await handle.result()
    elif outcome == "aborted":
        result = await handle.abort("stop")
    elif outcome == "timeout":
        result = await handle.result()
    else:
        await handle.pause("for later")
        result = await handle.detach()
    expected = ExecutionStatus.PAUSED if outcome == "detached" else ExecutionStatus(outcome)
    assert result.status is expected, result.error
    assert await tasks_left_running() == []
    await ex.aclose()


async def test_closing_the_executor_ends_every_execution_and_leaves_no_task(store: HistoryStore) -> None:
    gate = _Gate()
    ex = executor_with({"x": gate, "y": gate, "z": gate}, history_store=store)
    handles = [await ex.start(_fan_out_task()) for _ in range(3)]
    await _until_started(gate, 9)
    await ex.aclose()
    assert [(await h.result()).status for h in handles] == [ExecutionStatus.ABORTED] * 3
    assert await tasks_left_running() == []
