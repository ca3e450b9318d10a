"""ResponseCache: hits, TTL with an injected clock, SQLite persistence, record/replay determinism."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quorum.agents.budget import Budget
from quorum.agents.cache import ReplayMissError, ResponseCache, cache_key, request_material
from quorum.agents.definitions import AgentDefinition
from quorum.agents.manager import AgentManager
from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.agents.providers import ProviderContext, build_agent
from quorum.definition.model import OutputSpec, frozen_mapping
from quorum.errors import AgentError, ConfigurationError
from quorum.ids import AgentId, ExecutionId, PhaseName

from .llm_server import LLMServer, Reply, answer

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def req(prompt: str = "q", *, execution: str = "e1", started: float = 1.0, agent: str = "a") -> AgentRequest:
    return AgentRequest(
        agent_id=AgentId(agent),
        prompt=prompt,
        execution_id=ExecutionId(execution),
        phase=PhaseName("P"),
        context=frozen_mapping(
            {"input": {"ticker": "BTC"}, "execution": {"id": execution, "started_at": started}}
        ),
        outputs=(OutputSpec(name="target_price", type="number"),),
    )


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        self.calls += 1
        return AgentResponse(
            agent_id=request.agent_id,
            text=f"{request.prompt} #{self.calls}",
            tokens_in=5,
            tokens_out=5,
            cost_usd=0.1,
        )


async def test_hits_and_ttl_expiry() -> None:
    clock = Clock()
    cache = ResponseCache(clock=clock)
    manager = AgentManager(cache=cache)
    agent = Counting()
    manager.register("a", agent, policy=AgentPolicy(cache_ttl_s=60))
    first = await manager.query(req())
    again = await manager.query(req(execution="e2", started=99.0))  # a new execution: same question
    assert (first.cached, again.cached) == (False, True)
    assert again.text == first.text
    assert agent.calls == 1
    assert (await manager.query(req("other"))).text == "other #2"  # a different prompt: a miss
    clock.now += 59.9
    assert (await manager.query(req())).cached
    clock.now += 0.1
    expired = await manager.query(req())
    assert not expired.cached
    assert expired.text == "q #3"
    assert cache.hits == 2


async def test_agents_without_ttl_are_not_cached_unless_a_default_is_set() -> None:
    manager = AgentManager(cache=ResponseCache())
    agent = Counting()
    manager.register("a", agent)
    await manager.query(req())
    await manager.query(req())
    assert agent.calls == 2
    manager.cache = ResponseCache(default_ttl_s=10)
    await manager.query(req())
    assert (await manager.query(req())).cached
    assert agent.calls == 3


async def test_failures_are_not_cached() -> None:
    manager = AgentManager(cache=ResponseCache(default_ttl_s=10))
    calls = 0

    def flaky(request: AgentRequest) -> AgentResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("no")
        return AgentResponse(agent_id=request.agent_id, text="fine")

    manager.register("a", flaky)
    with pytest.raises(AgentError):
        await manager.query(req())
    assert not (await manager.query(req())).cached
    assert (await manager.query(req())).cached
    cache = ResponseCache(default_ttl_s=10)
    cache.put("k", AgentResponse(agent_id=AgentId("a"), error="bad"), ttl_s=10)
    assert cache.get("k") is None


async def test_sqlite_cache_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "responses.db"
    clock = Clock()
    first = AgentManager(cache=ResponseCache(path, clock=clock))
    agent = Counting()
    first.register("a", agent, policy=AgentPolicy(cache_ttl_s=3600))
    original = await first.query(req())
    await first.aclose()
    second = AgentManager(cache=ResponseCache(path, clock=clock))
    second.register("a", agent, policy=AgentPolicy(cache_ttl_s=3600))
    restored = await second.query(req())
    assert restored.cached
    assert agent.calls == 1
    assert restored.with_(cached=False) == original
    clock.now += 3600
    assert not (await second.query(req())).cached
    cache = second.cache
    assert cache is not None
    assert len(cache) == 1
    clock.now += 3600
    assert cache.purge_expired() == 1
    assert len(cache) == 0
    await second.aclose()
    rows = sqlite3.connect(path).execute("SELECT agent FROM responses").fetchall()
    assert rows == []


async def test_cached_answers_cost_nothing_but_count_as_calls() -> None:
    manager = AgentManager(cache=ResponseCache(default_ttl_s=60))
    manager.register("a", Counting())
    manager.open_budget("e1", Budget(max_calls=3, max_tokens=10))
    await manager.query(req())
    await manager.query(req())
    usage = manager.budget_usage("e1")
    assert usage is not None
    assert (usage.calls, usage.tokens) == (2, 10)
    assert usage.cost_usd == pytest.approx(0.1)


def test_cache_key_ignores_volatile_context_but_not_the_question() -> None:
    def key(r: AgentRequest, model: str = "m") -> str:
        return cache_key(r.agent_id, model, request_material(r))

    base = key(req())
    assert key(req(execution="zz", started=123.0)) == base
    assert key(req("different")) != base
    assert key(req(agent="b")) != base
    assert key(req(), model="other") != base
    assert len(base) == 64


def test_bad_modes_and_paths_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown cache mode"):
        ResponseCache(mode="sometimes")  # type: ignore[arg-type]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="cannot open the response cache"):
        ResponseCache(tmp_path / "file" / "cache.db")


@pytest.fixture
async def server() -> AsyncIterator[LLMServer]:
    srv = await LLMServer("openai").start()
    try:
        yield srv
    finally:
        await srv.close()


def llm_manager(server: LLMServer, cache: ResponseCache) -> AgentManager:
    manager = AgentManager(cache=cache)
    d = AgentDefinition(id=AgentId("a"), model="openai:m", persona="P", base_url=server.base_url)
    manager.register("a", build_agent(d, ProviderContext(env={})), policy=AgentPolicy(model=d.model))
    return manager


async def test_record_then_replay_is_deterministic_and_offline(tmp_path: Path, server: LLMServer) -> None:
    path = tmp_path / "fixtures.db"
    server.push(
        Reply(content=answer(target_price=1.5)), Reply(content=answer(target_price=2.5, stance="bearish"))
    )
    recorder = llm_manager(server, ResponseCache(path, mode="record"))
    recorded = [await recorder.query(req("one")), await recorder.query(req("two"))]
    await recorder.aclose()
    assert len(server.requests) == 2
    server.default = Reply(status=500, content="the model must not be called in replay mode")
    for _ in range(2):
        replayer = llm_manager(server, ResponseCache(path, mode="replay"))
        replayed = [await replayer.query(req("one")), await replayer.query(req("two"))]
        assert [r.with_(cached=False) for r in replayed] == recorded
        assert all(r.cached for r in replayed)
        assert (replayed[0].data["target_price"], replayed[1].stance) == (1.5, "bearish")
        with pytest.raises(ReplayMissError, match="replay mode: no recorded answer"):
            await replayer.query(req("never recorded"))
        await replayer.aclose()
    assert len(server.requests) == 2


async def test_record_mode_refreshes_entries(tmp_path: Path, server: LLMServer) -> None:
    path = tmp_path / "fixtures.db"
    server.push(Reply(content=answer(target_price=1)), Reply(content=answer(target_price=2)))
    recorder = llm_manager(server, ResponseCache(path, mode="record"))
    await recorder.query(req())
    second = await recorder.query(req())
    assert not second.cached
    assert second.data["target_price"] == 2
    await recorder.aclose()
    replayer = llm_manager(server, ResponseCache(path, mode="replay"))
    assert (await replayer.query(req())).data["target_price"] == 2
    await replayer.aclose()


async def test_off_mode_never_caches() -> None:
    manager = AgentManager(cache=ResponseCache(mode="off", default_ttl_s=60))
    agent = Counting()
    manager.register("a", agent, policy=AgentPolicy(cache_ttl_s=60))
    await manager.query(req())
    await manager.query(req())
    assert agent.calls == 2
