"""A Redis response cache that cannot be reached reaches the user as an engine event: each execution that
meets the outage gets one ``cache:unavailable`` in its journal (and its handlers), with the cache's
location, password masked, and the reason; the runs complete uncached."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.cache import ON_CACHE_WARNING, CacheWarning, ResponseCache
from quorum.agents.manager import AgentManager
from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.engine import calls
from quorum.engine.executor import TaskExecutor
from quorum.events import EVENT_TYPES, Event, EventType
from quorum.history.sqlite import SQLiteHistoryStore
from tests.engine.run_helpers import phase, prompt, task
from tests.fanout.redis_process import RedisProcess

pytestmark = pytest.mark.integration

SECRET = "s3cret-pw"
UNREACHABLE = f"redis://:{SECRET}@127.0.0.1:1/0"
PANEL = ("a", "b", "c", "d")


def committee() -> Any:
    """A parallel phase of four cached agents (they meet the outage at once), then two more phases."""
    return task(phase("Panel", prompt("weigh {{ input.topic }}"), agents=PANEL, parallel=True),
                phase("Chair", prompt("sum up"), agents=("chair",), depends_on="Panel"),
                phase("Scribe", prompt("write"), agents=("scribe",), depends_on="Chair"), name="committee")


class Member:
    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.calls = 0
        self.gate = gate
        self.chair_asked = asyncio.Event()

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        self.calls += 1
        if self.gate is not None and request.phase == "Chair":
            self.chair_asked.set()  # the panel answered, and its answers were stored
            await self.gate.wait()
        return AgentResponse(agent_id=request.agent_id, text=f"{request.agent_id} on {request.prompt}")


def manager(cache: ResponseCache, member: Member, *, uncached: tuple[str, ...] = ()) -> AgentManager:
    m = AgentManager(cache=cache)
    for agent in (*PANEL, "chair", "scribe"):
        m.register(agent, member, policy=None if agent in uncached else AgentPolicy(cache_ttl_s=600))
    return m


def unavailable(journal: list[Event]) -> list[Event]:
    return [e for e in journal if e.type == EventType.CACHE_UNAVAILABLE]


def test_the_event_type_and_the_metadata_key_agree_across_layers() -> None:
    assert "cache:unavailable" in EVENT_TYPES
    assert calls.ON_CACHE_WARNING == ON_CACHE_WARNING


async def test_each_execution_meeting_an_unreachable_redis_journals_one_event_without_the_password(
    tmp_path: Path,
) -> None:
    heard: list[CacheWarning] = []
    member = Member()
    m = manager(ResponseCache(UNREACHABLE, on_warning=heard.append), member)
    store = SQLiteHistoryStore(tmp_path / "h.db")
    seen: list[Event] = []
    executor = TaskExecutor(agent_manager=m, history_store=store, max_execution_time=60.0)
    executor.on(EventType.CACHE_UNAVAILABLE, seen.append)
    async with executor:
        first = await executor.execute(committee(), {"topic": "btc"})
        second = await executor.execute(committee(), {"topic": "eth"})  # the cache is off already
    await m.aclose()
    assert (first.status.value, second.status.value) == ("completed", "completed")
    assert member.calls == 2 * (len(PANEL) + 2)  # every call went to its agent
    assert len(heard) == 1  # the cache itself says so once in its life
    async with SQLiteHistoryStore(tmp_path / "h.db") as reader:
        for result in (first, second):
            journal = await reader.read_journal(result.id)
            events = unavailable(journal)
            assert len(events) == 1, [e.type for e in journal]
            (event,) = events
            assert event.data["location"] == "redis://:***@127.0.0.1:1/0"
            assert "127.0.0.1:1" in event.data["reason"]
            assert event.phase == "Panel"
            assert event.agent in PANEL
            assert SECRET not in json.dumps([e.to_dict() for e in journal], default=str)
    assert [e.execution_id for e in seen] == [first.id, second.id]  # handlers (serve, SSE) see it too


async def test_an_execution_whose_calls_are_not_cached_hears_nothing(tmp_path: Path) -> None:
    m = manager(ResponseCache(UNREACHABLE), Member(), uncached=(*PANEL, "chair", "scribe"))
    store = SQLiteHistoryStore(tmp_path / "h.db")
    async with TaskExecutor(agent_manager=m, history_store=store, max_execution_time=60.0) as executor:
        result = await executor.execute(committee(), {"topic": "btc"})
    await m.aclose()
    assert result.status.value == "completed"
    async with SQLiteHistoryStore(tmp_path / "h.db") as reader:
        assert unavailable(await reader.read_journal(result.id)) == []


async def test_a_server_killed_mid_run_is_one_event_at_the_call_that_met_it(tmp_path: Path) -> None:
    proc = RedisProcess()
    gate = asyncio.Event()
    member = Member(gate)
    try:
        m = manager(ResponseCache(proc.url), member)
        store = SQLiteHistoryStore(tmp_path / "h.db")
        async with TaskExecutor(agent_manager=m, history_store=store, max_execution_time=60.0) as executor:
            handle = await executor.start(committee(), {"topic": "sol"})
            await asyncio.wait_for(member.chair_asked.wait(), 30)
            proc.kill()
            gate.set()
            result = await handle.result()
        await m.aclose()
    finally:
        proc.kill()
    assert result.status.value == "completed"
    async with SQLiteHistoryStore(tmp_path / "h.db") as reader:
        events = unavailable(await reader.read_journal(result.id))
    assert len(events) == 1
    assert events[0].phase == "Chair"  # storing the chair's answer met the dead server
