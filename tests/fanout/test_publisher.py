"""EventPublisher: an executor's events reach a subscriber on Redis in order, and a server that is
closed, frozen or slow never blocks nor fails the run (what could not go out is counted)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from quorum.engine.executor import TaskExecutor
from quorum.events import Event, EventType
from quorum.fanout import ALL_CHANNEL, attach, channel_for, decode_event, watch
from quorum.testing import make_manager, sleeping_agent
from tests.engine.run_helpers import phase, prompt, task
from tests.fanout.redis_process import RedisProcess, free_port

pytestmark = pytest.mark.integration


def chain(n: int = 6) -> Any:
    return task(*(phase(f"P{i}", prompt("go"), agents=("a", "b"), parallel=True,
                        depends_on=() if i == 0 else f"P{i - 1}") for i in range(n)), name="chain")


def executor(delay_s: float = 0.0) -> TaskExecutor:
    return TaskExecutor(agent_manager=make_manager({"a": sleeping_agent(delay_s, {"x": 1}),
                                                    "b": sleeping_agent(delay_s, {"y": 2})}),
                        max_execution_time=60.0)


class Received:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if event.type == EventType.EXECUTION_COMPLETE:
            self.ended.set()

    def on_connect(self) -> None:
        self.connected.set()


async def test_every_event_reaches_a_subscriber_in_order() -> None:
    proc = RedisProcess()
    received = Received()
    follower = asyncio.ensure_future(watch(proc.url, received, on_connect=received.on_connect))
    ex = executor()
    journal: list[Event] = []
    ex.on("*", journal.append)
    publisher = attach(ex, proc.url)
    try:
        await asyncio.wait_for(received.connected.wait(), 5)
        async with ex:
            result = await ex.execute(chain(), {})
        await asyncio.wait_for(received.ended.wait(), 5)
    finally:
        await publisher.aclose()
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        proc.kill()
    assert result.status.value == "completed"
    sent = [e for e in journal if e.type != EventType.AGENT_CHUNK]
    assert [e.sequence for e in received.events] == list(range(1, len(sent) + 1))
    assert [(e.execution_id, e.type) for e in received.events] == [(e.execution_id, e.type) for e in sent]
    assert received.events[-1].data["status"] == "completed"
    stats = publisher.stats()
    assert (stats.published, stats.dropped, stats.failed) == (len(sent), 0, 0)


async def test_events_go_to_the_executions_own_channel_too() -> None:
    proc = RedisProcess()
    client = aioredis.Redis.from_url(proc.url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    ex = executor()
    publisher = attach(ex, proc.url)
    try:
        await pubsub.psubscribe(ALL_CHANNEL + ":*")
        async with ex:
            result = await ex.execute(chain(2), {})
        await publisher.flush()
        channels: set[str] = set()
        types: list[str] = []
        deadline = time.monotonic() + 5
        while "execution:complete" not in types and time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=0.2)
            if message is not None:  # None: nothing yet, or the subscription's own confirmation
                channels.add(message["channel"].decode())
                event = decode_event(message["data"])
                assert event is not None
                types.append(event.type)
    finally:
        await publisher.aclose()
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        await client.aclose()
        proc.kill()
    assert channels == {channel_for(result.id)}
    assert types[0] == "execution:start"


async def test_a_closed_port_neither_blocks_nor_fails_the_run(caplog: pytest.LogCaptureFixture) -> None:
    ex = executor()
    publisher = attach(ex, f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    started = time.perf_counter()
    async with ex:
        result = await ex.execute(chain(), {})
    elapsed = time.perf_counter() - started
    await publisher.aclose(flush_s=0.5)
    assert result.status.value == "completed"
    assert elapsed < 5
    stats = publisher.stats()
    assert stats.published == 0
    assert stats.failed > 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "quorum.fanout"]
    assert len(warnings) == 1
    assert "unavailable" in warnings[0]
    assert "s3cret" not in warnings[0]


async def test_a_frozen_server_fills_the_buffer_and_the_overflow_is_counted() -> None:
    proc = RedisProcess()
    ex = executor()
    publisher = attach(ex, proc.url, max_buffer=5, timeout_s=0.3)
    try:
        proc.freeze()
        started = time.perf_counter()
        async with ex:
            result = await ex.execute(chain(), {})
        elapsed = time.perf_counter() - started
        await publisher.aclose(flush_s=0.5)
    finally:
        proc.kill()
    assert result.status.value == "completed"
    assert elapsed < 5  # the run did not wait for the server
    stats = publisher.stats()
    assert stats.dropped > 0
    assert stats.published == 0
