"""Where :class:`~quorum.agents.cache.ResponseCache` keeps its answers: the backend seam.

A backend stores one :class:`CacheEntry` per key and knows nothing of modes, TTL policy or keys' making
(the cache decides those). Three implementations:

- :class:`MemoryBackend` (here): this process only, least recently used dropped past a bound;
- :class:`~quorum.agents.cache_sqlite.SQLiteBackend`: one file, survives restarts;
- :class:`~quorum.agents.cache_redis.RedisBackend`: shared by every process that reaches the server.

The protocol is async because a network store must not block the event loop. The two local ones
also answer synchronously (:class:`LocalBackend`), so code that calls ``ResponseCache.get``/``put``
without awaiting keeps working with them. A backend that cannot be reached raises
:class:`CacheUnavailableError`; the cache then runs without it (see ``ResponseCache``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from quorum.agents.protocol import AgentResponse

__all__ = (
    "CacheBackend",
    "CacheEntry",
    "CacheUnavailableError",
    "LocalBackend",
    "MemoryBackend",
    "decode_entry",
    "encode_entry",
)


class CacheUnavailableError(Exception):
    """The backend's server cannot be reached (refused, gone, timed out). Never leaves the cache."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    response: AgentResponse
    created_at: float
    expires_at: float | None
    """Wall-clock seconds (the cache's clock); None: never expires (record mode)."""

    def fresh(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


def encode_entry(entry: CacheEntry) -> str:
    return json.dumps(
        {"created_at": entry.created_at, "expires_at": entry.expires_at,
         "response": entry.response.to_dict()},
        separators=(",", ":"),
    )


def decode_entry(text: str | bytes) -> CacheEntry:
    data: dict[str, Any] = json.loads(text)
    return CacheEntry(
        response=AgentResponse.from_dict(data["response"]),
        created_at=float(data["created_at"]),
        expires_at=None if data["expires_at"] is None else float(data["expires_at"]),
    )


@runtime_checkable
class CacheBackend(Protocol):
    """Entries by key. ``ttl_s`` on ``save`` lets a server expire the entry itself (None: never)."""

    @property
    def location(self) -> str:
        """Where it is, as it may be shown (no password)."""
        ...

    async def load(self, key: str) -> CacheEntry | None: ...

    async def save(self, key: str, entry: CacheEntry, *, ttl_s: float | None) -> None: ...

    async def purge_expired(self, now: float) -> int: ...

    async def count(self) -> int: ...

    async def aclose(self) -> None: ...


class LocalBackend(ABC):
    """A backend in this process or on this disk: its synchronous methods are the real ones, the
    async protocol answers through them (a local read never waits on a network)."""

    location: str

    @abstractmethod
    def load_now(self, key: str) -> CacheEntry | None: ...

    @abstractmethod
    def save_now(self, key: str, entry: CacheEntry) -> None: ...

    @abstractmethod
    def purge_now(self, now: float) -> int: ...

    @abstractmethod
    def count_now(self) -> int: ...

    def close_now(self) -> None:
        return None

    async def load(self, key: str) -> CacheEntry | None:
        return self.load_now(key)

    async def save(self, key: str, entry: CacheEntry, *, ttl_s: float | None) -> None:
        self.save_now(key, entry)

    async def purge_expired(self, now: float) -> int:
        return self.purge_now(now)

    async def count(self) -> int:
        return self.count_now()

    async def aclose(self) -> None:
        self.close_now()


class MemoryBackend(LocalBackend):
    """A bounded dict in this process: the least recently used entry goes past ``max_entries``."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self.location = "memory:"
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()

    def load_now(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def save_now(self, key: str, entry: CacheEntry) -> None:
        entries = self._entries
        entries[key] = entry
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    def purge_now(self, now: float) -> int:
        stale = [k for k, e in self._entries.items() if not e.fresh(now)]
        for key in stale:
            del self._entries[key]
        return len(stale)

    def count_now(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
