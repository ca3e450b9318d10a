"""The response cache's contract, the same for every backend: memory, SQLite and Redis.

Each test gets a ``Place``: the storage one backend keeps (one MemoryBackend, one file, one Redis key
prefix), from which it opens as many caches as it likes, each with an empty memory layer in front, as
a new process would. Redis tests use a prefix of their own and delete it after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.cache import CacheMode, ResponseCache, cache_key
from quorum.agents.cache_backend import CacheBackend, MemoryBackend
from quorum.agents.cache_redis import RedisBackend
from quorum.agents.cache_sqlite import SQLiteBackend
from quorum.agents.protocol import AgentResponse
from quorum.definition.model import frozen_mapping
from quorum.ids import AgentId
from tests.fanout.redis_process import unique_prefix
from tests.servers import require_redis

pytestmark = pytest.mark.integration

KINDS = ("memory", "sqlite", "redis")


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


class Place:
    """Where one backend keeps its entries; ``open`` gives a new cache over them."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.clock = Clock()
        self._path = tmp_path / "cache.db"
        self._memory = MemoryBackend()
        self._url = require_redis() if kind == "redis" else ""
        self._prefix = unique_prefix("cache")
        self._opened: list[ResponseCache] = []

    def backend(self) -> CacheBackend:
        if self.kind == "memory":
            return self._memory
        if self.kind == "sqlite":
            return SQLiteBackend(self._path)
        return RedisBackend(self._url, prefix=self._prefix)

    def open(self, mode: CacheMode = "read_write", **options: float) -> ResponseCache:
        cache = ResponseCache(self.backend(), mode=mode, clock=self.clock, **options)  # type: ignore[arg-type]
        self._opened.append(cache)
        return cache

    async def close(self) -> None:
        if self.kind == "redis":
            cleaner = RedisBackend(self._url, prefix=self._prefix)
            await cleaner.clear()
            await cleaner.aclose()
        for cache in self._opened:
            await cache.aclose()


@pytest.fixture(params=KINDS)
async def place(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Place]:
    where = Place(request.param, tmp_path)
    try:
        yield where
    finally:
        await where.close()


def answer(text: str = "an answer", *, data: Mapping[str, Any] | None = None,
           **changes: Any) -> AgentResponse:
    return AgentResponse(agent_id=AgentId("analyst"), text=text, model="m", tokens_in=3, tokens_out=4,
                         data=frozen_mapping(data or {"target_price": 1.5}), **changes)


def key(agent: str = "analyst", model: str | None = "m", prompt: str = "q", **params: object) -> str:
    return cache_key(agent, model, {"m": {"prompt": prompt}, "p": params})


async def test_a_stored_answer_is_served_until_its_ttl_ends(place: Place) -> None:
    cache = place.open()
    stored = answer()
    await cache.store(key(), stored, ttl_s=60)
    assert await cache.lookup(key()) == stored
    place.clock.now += 59.9
    assert await place.open().lookup(key()) == stored  # from the backend, through a fresh memory layer
    place.clock.now += 0.1
    assert await cache.lookup(key()) is None
    assert await place.open().lookup(key()) is None
    assert (cache.hits, cache.misses) == (1, 1)


async def test_keys_differ_by_agent_model_prompt_and_parameters(place: Place) -> None:
    variants = {
        key(), key(agent="risk"), key(model="other"), key(model=None), key(prompt="q2"),
        key(temperature=0.2), key(temperature=0.3),
    }
    assert len(variants) == 7
    cache = place.open()
    for i, k in enumerate(sorted(variants)):
        await cache.store(k, answer(f"answer {i}"), ttl_s=60)
    fresh = place.open()
    seen = [await fresh.lookup(k) for k in sorted(variants)]
    assert [r.text if r else None for r in seen] == [f"answer {i}" for i in range(7)]
    assert await fresh.lookup(key(prompt="never asked")) is None


async def test_record_stores_without_expiry_and_replay_serves_whatever_the_age(place: Place) -> None:
    recorder = place.open("record")
    assert recorder.ttl_for(60) is None
    await recorder.store(key(), answer("recorded"), ttl_s=recorder.ttl_for(60))
    await recorder.store(key(), answer("recorded again"), ttl_s=None)  # record refreshes
    place.clock.now += 10 * 365 * 86400.0
    replayer = place.open("replay")
    hit = await replayer.lookup(key(), ignore_expiry=True)
    assert hit is not None
    assert hit.text == "recorded again"
    assert await replayer.lookup(key(prompt="not recorded"), ignore_expiry=True) is None
    await replayer.store(key(prompt="new"), answer(), ttl_s=60)  # replay never writes
    assert await place.open().lookup(key(prompt="new")) is None


async def test_failed_answers_are_never_stored(place: Place) -> None:
    cache = place.open(default_ttl_s=60)
    await cache.store(key(), answer(error="the model said no"), ttl_s=60)
    assert await cache.lookup(key()) is None
    assert await place.open().size() == 0


async def test_off_mode_neither_reads_nor_writes(place: Place) -> None:
    off = place.open("off")
    assert not off.applies_to(60)
    await off.store(key(), answer(), ttl_s=60)
    assert await place.open().size() == 0


async def test_only_agents_with_a_ttl_are_cached_unless_a_default_is_set(place: Place) -> None:
    assert not place.open().applies_to(None)
    assert place.open().applies_to(5)
    with_default = place.open(default_ttl_s=30)
    assert with_default.applies_to(None)
    assert with_default.ttl_for(None) == 30


async def test_purge_drops_what_expired(place: Place) -> None:
    cache = place.open()
    await cache.store(key(prompt="short"), answer(), ttl_s=1)
    await cache.store(key(prompt="long"), answer(), ttl_s=3600)
    place.clock.now += 2
    await cache.purge()
    assert await cache.lookup(key(prompt="short")) is None
    assert await cache.lookup(key(prompt="long")) is not None
    if place.kind != "redis":  # Redis drops keys on its own clock (tests/agents/test_cache_redis.py)
        assert await cache.size() == 1


async def test_an_answer_comes_back_whole(place: Place) -> None:
    stored = answer(stance="bullish", confidence=0.75, rationale="because", cost_usd=0.002,
                    data={"target_price": 2.5, "levels": [1, 2], "note": "ünïcode"})
    await place.open().store(key(), stored, ttl_s=60)
    assert await place.open().lookup(key()) == stored
