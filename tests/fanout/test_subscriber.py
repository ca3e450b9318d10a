"""watch(): a killed connection or a server that stops answering is noticed, and the follower
subscribes again (``on_connect`` each time) and goes on receiving."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from quorum.events import Event
from quorum.fanout import ALL_CHANNEL, encode_event, watch
from quorum.ids import ExecutionId
from tests.fanout.redis_process import RedisProcess

pytestmark = pytest.mark.integration


class Follower:
    def __init__(self) -> None:
        self.connects = 0
        self.events: list[Event] = []
        self.changed = asyncio.Event()

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    def on_connect(self) -> None:
        self.connects += 1
        self.changed.set()

    async def until(self, condition: object, within_s: float = 10.0) -> None:
        deadline = time.monotonic() + within_s
        while not condition():  # type: ignore[operator]
            self.changed.clear()
            left = deadline - time.monotonic()
            assert left > 0, "timed out"
            await asyncio.wait_for(self.changed.wait(), left)


def event(sequence: int) -> bytes:
    return encode_event(Event(type="phase:start", execution_id=ExecutionId("e1"), sequence=sequence,
                              timestamp=time.time()))


async def test_a_killed_connection_is_subscribed_again() -> None:
    proc = RedisProcess()
    admin = aioredis.Redis.from_url(proc.url)
    f = Follower()
    task = asyncio.ensure_future(watch(proc.url, f.on_event, on_connect=f.on_connect))
    try:
        await f.until(lambda: f.connects == 1)
        await admin.publish(ALL_CHANNEL, event(1))
        await f.until(lambda: len(f.events) == 1)
        assert await admin.client_kill_filter(_type="pubsub") == 1
        await f.until(lambda: f.connects == 2)
        await admin.publish(ALL_CHANNEL, b"not an event")  # ignored
        await admin.publish(ALL_CHANNEL, event(2))
        await f.until(lambda: len(f.events) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await admin.aclose()
        proc.kill()
    assert [e.sequence for e in f.events] == [1, 2]


async def test_a_server_that_stops_answering_is_noticed_by_a_ping() -> None:
    proc = RedisProcess()
    f = Follower()
    task = asyncio.ensure_future(watch(proc.url, f.on_event, on_connect=f.on_connect, ping_s=0.3,
                                       timeout_s=0.3, max_wait_s=0.2))
    try:
        await f.until(lambda: f.connects == 1)
        proc.freeze()
        await asyncio.sleep(1.5)  # a ping goes unanswered: the connection counts as lost
        proc.thaw()
        await f.until(lambda: f.connects == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        proc.kill()
