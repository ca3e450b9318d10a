"""RedisBackend: the response cache on a Redis server (``redis://host:6379/0``, ``rediss://`` for TLS),
shared by every process that reaches it. Needs ``pip install 'quorum[redis]'`` (the official client's
asyncio API).

Each entry is one string key ``quorum:cache:v1:<cache key>`` holding the entry's JSON, written with
``SET ... PX`` so Redis drops it when its TTL ends (record mode writes without expiry). A server that is
refused, gone or slower than ``timeout_s`` raises :class:`CacheUnavailableError` at once: there are no
retries here, because the cache's answer to an outage is to run without it, not to wait.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from quorum.agents.cache_backend import CacheEntry, CacheUnavailableError, decode_entry, encode_entry
from quorum.errors import ConfigurationError
from quorum.history._location import redact_url

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ("DEFAULT_PREFIX", "RedisBackend", "redis_client")

DEFAULT_PREFIX = "quorum:cache:v1:"
_SCAN_BATCH = 1000


def redis_client(url: str, *, timeout_s: float, what: str) -> redis.asyncio.Redis:
    """A client for ``url`` that fails fast (no retries, short socket timeouts). ``what`` names the
    setting in errors (a malformed URL or a missing extra is a configuration error, said plainly)."""
    try:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        raise ConfigurationError(
            f"{what} {redact_url(url)} needs the Redis client: pip install 'quorum[redis]'"
        ) from None
    try:
        return aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"{what} {redact_url(url)} is not a Redis URL ({exc}); use redis://HOST:6379/0"
        ) from None


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """What an unreachable or misbehaving server raises: every client error, timeouts, socket errors."""
    import redis.exceptions

    return (redis.exceptions.RedisError, OSError, TimeoutError)


class RedisBackend:
    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, timeout_s: float = 0.5) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._client = redis_client(url, timeout_s=timeout_s, what="the response cache")
        self._errors = unavailable_errors()
        try:
            self._password = urlsplit(url).password or ""
        except ValueError:
            self._password = ""

    @property
    def location(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"RedisBackend({self.location!r}, prefix={self.prefix!r})"

    async def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        try:
            # the socket timeout bounds each read; this bounds a connect that hangs in DNS or TLS too
            async with asyncio.timeout(self.timeout_s * 2):
                return await getattr(self._client, operation)(*args, **kwargs)
        except self._errors as exc:
            detail = str(exc) or "no answer"
            if self._password:  # whatever the client put in its message, the password is not shown
                detail = detail.replace(self._password, "***")
            raise CacheUnavailableError(
                f"Redis at {self.location}: {type(exc).__name__}: {detail}"
            ) from None

    async def load(self, key: str) -> CacheEntry | None:
        raw = await self._call("get", self.prefix + key)
        if raw is None:
            return None
        try:
            return decode_entry(raw)
        except (ValueError, KeyError, TypeError):
            return None  # not ours or from an incompatible version: a miss, rewritten on the next store

    async def save(self, key: str, entry: CacheEntry, *, ttl_s: float | None) -> None:
        expiry = None if ttl_s is None else max(1, math.ceil(ttl_s * 1000))
        await self._call("set", self.prefix + key, encode_entry(entry), px=expiry)

    async def purge_expired(self, now: float) -> int:
        return 0  # Redis drops expired keys itself

    async def _keys(self) -> list[bytes]:
        keys: list[bytes] = []
        cursor = 0
        while True:
            cursor, batch = await self._call("scan", cursor, match=self.prefix + "*", count=_SCAN_BATCH)
            keys.extend(batch)
            if cursor == 0:
                return keys

    async def count(self) -> int:
        return len(await self._keys())

    async def clear(self) -> int:
        """Delete every entry under this backend's prefix (tests, ``quorum`` maintenance)."""
        keys = await self._keys()
        for start in range(0, len(keys), _SCAN_BATCH):
            await self._call("delete", *keys[start:start + _SCAN_BATCH])
        return len(keys)

    async def aclose(self) -> None:
        await self._client.aclose()
