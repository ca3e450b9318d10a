"""Whole executions over a Redis response cache: a second run is answered from Redis, and a server that
is closed, or killed mid-run, costs the run its cache (one warning) but never the run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from quorum.agents.cache import CacheWarning, ResponseCache
from quorum.agents.manager import AgentManager
from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.engine.executor import TaskExecutor
from quorum.events import Event
from quorum.ids import AgentId
from tests.engine.run_helpers import phase, prompt, task
from tests.fanout.redis_process import RedisProcess, free_port

pytestmark = pytest.mark.integration

PHASES = 12


def chain() -> Any:
    return task(*(phase(f"P{i}", prompt(f"step {i} of {{{{ input.topic }}}}"), agents=("analyst",),
                        depends_on=() if i == 0 else f"P{i - 1}") for i in range(PHASES)), name="chain")


class Analyst:
    def __init__(self, delay_s: float) -> None:
        self.calls = 0
        self.delay_s = delay_s

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        return AgentResponse(agent_id=request.agent_id, text=f"answer to {request.prompt}")


def manager(cache: ResponseCache, agent: Analyst) -> AgentManager:
    m = AgentManager(cache=cache)
    m.register("analyst", agent, policy=AgentPolicy(cache_ttl_s=600))
    return m


async def run(m: AgentManager, topic: str, on_event: Any = None) -> tuple[str, list[AgentResponse]]:
    executor = TaskExecutor(agent_manager=m, max_execution_time=60.0)
    answers: list[AgentResponse] = []

    def keep(event: Event) -> None:
        if event.type == "agent:response":
            answers.append(AgentResponse.from_dict(event.data["response"]))
        if on_event is not None:
            on_event(event)

    executor.on("*", keep)
    async with executor:
        result = await executor.execute(chain(), {"topic": topic})
    return result.status.value, answers


async def test_a_second_run_is_answered_from_redis() -> None:
    proc = RedisProcess()
    try:
        agent = Analyst(0.0)
        first = manager(ResponseCache(proc.url), agent)
        status, _ = await run(first, "btc")
        await first.aclose()
        second = manager(ResponseCache(proc.url), agent)  # a new process: an empty memory layer
        status2, answers = await run(second, "btc")
        await second.aclose()
    finally:
        proc.kill()
    assert (status, status2) == ("completed", "completed")
    assert agent.calls == PHASES
    assert all(a.cached for a in answers)


async def test_a_closed_port_runs_uncached_with_one_warning() -> None:
    heard: list[CacheWarning] = []
    agent = Analyst(0.0)
    m = manager(ResponseCache(f"redis://127.0.0.1:{free_port()}/0", on_warning=heard.append), agent)
    status, answers = await run(m, "eth")
    await m.aclose()
    assert status == "completed"
    assert agent.calls == PHASES
    assert not any(a.cached for a in answers)
    assert len(heard) == 1


async def test_a_server_killed_mid_run_does_not_fail_the_run() -> None:
    proc = RedisProcess()
    heard: list[CacheWarning] = []
    agent = Analyst(0.02)
    try:
        warm = manager(ResponseCache(proc.url), Analyst(0.0))
        await run(warm, "sol")  # the first phases' answers are in Redis
        await warm.aclose()
        m = manager(ResponseCache(proc.url, on_warning=heard.append), agent)
        responses = 0

        def kill_after_three(event: Event) -> None:
            nonlocal responses
            if event.type == "agent:response":
                responses += 1
                if responses == 3:
                    proc.kill()

        status, answers = await run(m, "sol", kill_after_three)
        await m.aclose()
    finally:
        proc.kill()
    assert status == "completed"
    assert len(answers) == PHASES
    assert [a.cached for a in answers[:3]] == [True, True, True]  # served by Redis while it lived
    assert not any(a.cached for a in answers[3:])
    assert agent.calls == PHASES - 3
    assert len(heard) == 1
    assert all(a.agent_id == AgentId("analyst") for a in answers)
