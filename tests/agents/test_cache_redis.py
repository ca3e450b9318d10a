"""The Redis backend's own behaviour: its keys and their expiry on the server, and outages (a closed
port, a server killed or frozen mid-run) that turn the cache off with one warning, never a failed call.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from quorum.agents.cache import CacheWarning, ResponseCache, cache_key
from quorum.agents.cache_location import open_backend
from quorum.agents.cache_redis import DEFAULT_PREFIX, RedisBackend
from quorum.agents.protocol import AgentResponse
from quorum.errors import ConfigurationError
from quorum.ids import AgentId
from tests.fanout.redis_process import RedisProcess, free_port, unique_prefix
from tests.servers import require_redis

pytestmark = pytest.mark.integration


@pytest.fixture
async def server() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(require_redis())
    try:
        yield client
    finally:
        await client.aclose()


def answer(text: str = "fine") -> AgentResponse:
    return AgentResponse(agent_id=AgentId("a"), text=text)


def a_key() -> str:
    return cache_key("a", "m", {"m": {"prompt": uuid.uuid4().hex}, "p": {}})


async def test_entries_are_namespaced_and_expire_on_the_server(server: aioredis.Redis) -> None:
    cache = ResponseCache(require_redis())
    assert isinstance(cache.backend, RedisBackend)
    ttl_key, record_key = a_key(), a_key()
    names = [DEFAULT_PREFIX + ttl_key, DEFAULT_PREFIX + record_key]
    try:
        await cache.store(ttl_key, answer(), ttl_s=0.3)
        assert 0 < await server.pttl(names[0]) <= 300
        recorder = ResponseCache(require_redis(), mode="record")
        await recorder.store(record_key, answer("recorded"), ttl_s=recorder.ttl_for(60))
        await recorder.aclose()
        assert await server.pttl(names[1]) == -1  # no expiry
        await asyncio.sleep(0.5)
        assert await server.exists(names[0]) == 0  # Redis dropped it
        fresh = ResponseCache(require_redis())
        assert await fresh.lookup(ttl_key) is None
        await fresh.aclose()
    finally:
        await server.delete(*names)
        await cache.aclose()


async def test_two_processes_share_one_cache(server: aioredis.Redis) -> None:
    prefix = unique_prefix("cache")
    first = ResponseCache(RedisBackend(require_redis(), prefix=prefix))
    second = ResponseCache(RedisBackend(require_redis(), prefix=prefix))
    try:
        k = a_key()
        await first.store(k, answer("from the first"), ttl_s=60)
        hit = await second.lookup(k)
        assert hit is not None
        assert hit.text == "from the first"
        assert await second.size() == 1
    finally:
        await first.aclose()
        await second.aclose()
        keys = [k async for k in server.scan_iter(match=prefix + "*")]
        if keys:
            await server.delete(*keys)


def test_bad_redis_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="unknown response cache 'ftp://h/x'"):
        open_backend("ftp://h/x")
    with pytest.raises(ConfigurationError, match="is not a Redis URL") as caught:
        ResponseCache("redis://user:s3cret@127.0.0.1:notaport/0")
    assert "s3cret" not in str(caught.value)


def test_the_sync_api_says_to_await_with_redis() -> None:
    cache = ResponseCache(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(ConfigurationError, match=r"answers asynchronously: await lookup\(\)/store\(\)"):
        cache.get("k")


class Warnings:
    def __init__(self) -> None:
        self.seen: list[CacheWarning] = []

    def __call__(self, warning: CacheWarning) -> None:
        self.seen.append(warning)


async def workload(cache: ResponseCache, calls: int, *, every_s: float = 0.0) -> list[AgentResponse]:
    """What an agent manager does per call: look up, else answer and store."""
    answers = []
    for i in range(calls):
        k = cache_key("a", "m", {"m": {"prompt": f"q{i // 2}"}, "p": {}})  # each asked twice
        hit = await cache.lookup(k)
        if hit is None:
            hit = answer(f"answer {i}")
            await cache.store(k, hit, ttl_s=60)
        answers.append(hit)
        await asyncio.sleep(every_s)
    return answers


async def test_a_closed_port_means_no_cache_and_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    heard = Warnings()
    cache = ResponseCache(f"redis://:hunter22@127.0.0.1:{free_port()}/0", on_warning=heard)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="quorum.agents.cache"):
        answers = await workload(cache, 20)
    assert len(answers) == 20
    assert time.perf_counter() - started < 2.0  # one refused connect, then not tried again
    assert len(heard.seen) == 1
    assert [r.message for r in caplog.records] == [heard.seen[0].message]
    assert "unavailable" in heard.seen[0].message
    assert "hunter22" not in heard.seen[0].message
    assert cache.hits == 0
    await cache.aclose()


async def test_a_server_killed_mid_run_turns_the_cache_off_with_one_warning() -> None:
    proc = RedisProcess()
    heard = Warnings()
    cache = ResponseCache(proc.url, on_warning=heard)
    try:
        run = asyncio.ensure_future(workload(cache, 60, every_s=0.01))
        await asyncio.sleep(0.25)
        assert cache.hits > 0  # the cache served answers while the server lived
        proc.kill()
        answers = await asyncio.wait_for(run, 10)
    finally:
        proc.kill()
        await cache.aclose()
    assert len(answers) == 60
    assert len(heard.seen) == 1
    assert cache.warning is heard.seen[0]


async def test_a_frozen_server_is_a_timeout_then_no_cache() -> None:
    proc = RedisProcess()
    heard = Warnings()
    cache = ResponseCache(RedisBackend(proc.url, timeout_s=0.2), on_warning=heard)
    try:
        await workload(cache, 5)
        proc.freeze()
        started = time.perf_counter()
        answers = await workload(cache, 10)
        waited = time.perf_counter() - started
    finally:
        proc.kill()
        await cache.aclose()
    assert len(answers) == 10
    assert waited < 2.0  # one timed-out read, then the server is not asked again
    assert len(heard.seen) == 1
    assert "Timeout" in heard.seen[0].reason
