"""The event stream on its own (no HTTP): what a client of one execution reads, its heartbeats from the
hub's shared beat, and many clients of one journal each getting every event once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from quorum.history.memory import MemoryHistoryStore
from quorum.server.feeds import FeedHub
from quorum.server.sse import execution_stream
from tests.history.helpers import event, record

pytestmark = pytest.mark.unit

EID = "exec-sse-1"


async def _store() -> MemoryHistoryStore:
    store = MemoryHistoryStore()
    await store.open()
    await store.create_execution(record(EID))
    return store


async def _next(stream: AsyncGenerator[bytes, None], within_s: float = 5.0) -> bytes:
    async with asyncio.timeout(within_s):
        return await anext(stream)


async def test_an_idle_stream_gets_heartbeats_from_the_shared_beat_without_timers_of_its_own() -> None:
    store = await _store()
    await store.append([event(EID, 1, "execution:start")])
    hub = FeedHub(store, poll_s=0.01, beat_s=0.02)
    stream = execution_stream(hub, EID, after=0, heartbeat_s=0.1)
    try:
        assert await _next(stream) == b"retry: 1000\n\n"
        assert b"event: execution:start\nid: 1\n" in await _next(stream)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await _next(stream) == b": heartbeat\n\n"
        first = loop.time() - started
        assert await _next(stream) == b": heartbeat\n\n"
        # due after heartbeat_s, and sent by the next beat (beat_s later at most), never before
        assert 0.09 <= first <= 1.0
        await store.append([event(EID, 2, "phase:start"), event(EID, 3, "execution:complete")])
        hub.poke(EID, 3)
        tail = await _next(stream)
        assert b"id: 2\n" in tail
        assert b"id: 3\n" in tail
        with pytest.raises(StopAsyncIteration):
            await _next(stream)  # the final event ends the stream
    finally:
        await stream.aclose()
        await hub.close()
        await store.close()


async def test_two_hundred_clients_of_one_journal_each_read_every_event_once_in_order() -> None:
    store = await _store()
    hub = FeedHub(store, poll_s=0.01, beat_s=60)
    clients = 200

    async def follow() -> list[int]:
        seen: list[int] = []
        async for chunk in execution_stream(hub, EID, after=0, heartbeat_s=60):
            seen.extend(int(line[4:]) for line in chunk.split(b"\n") if line.startswith(b"id: "))
        return seen

    readers = [asyncio.ensure_future(follow()) for _ in range(clients)]
    await asyncio.sleep(0.05)
    total = 120
    for sequence in range(1, total + 1):
        kind = "execution:complete" if sequence == total else "agent:response"
        await store.append([event(EID, sequence, kind)])
        hub.poke(EID, sequence)
        if sequence % 7 == 0:
            await asyncio.sleep(0)  # some arrive one by one, some together
    try:
        async with asyncio.timeout(30):
            results = await asyncio.gather(*readers)
    finally:
        await hub.close()
        await store.close()
    assert all(seen == list(range(1, total + 1)) for seen in results)


async def test_a_postgresql_store_wakes_the_stream_when_another_connection_commits() -> None:
    """The feed polls once a minute here: what reaches the client in time came by LISTEN/NOTIFY."""
    from quorum.history.stores import open_store
    from tests.history.pg import fresh_schema

    async with fresh_schema() as url:
        reader, writer = open_store(url), open_store(url)
        await reader.open()
        await writer.open()
        hub = FeedHub(reader, poll_s=60, beat_s=60)
        try:
            await writer.create_execution(record(EID))
            await writer.append([event(EID, 1, "execution:start")])
            stream = execution_stream(hub, EID, after=0, heartbeat_s=60)
            assert await _next(stream) == b"retry: 1000\n\n"
            assert b"id: 1\n" in await _next(stream)
            await asyncio.sleep(0.2)  # the feed has read and waits (a poll a minute away)
            await writer.append([event(EID, 2, "execution:complete")])
            assert b"id: 2\n" in await _next(stream, within_s=5)
            await stream.aclose()
        finally:
            await hub.close()
            await writer.close()
            await reader.close()
