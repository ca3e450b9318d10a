"""Where a response cache lives, from how it is written: a path, ``sqlite:///file``, ``memory:`` or a
Redis URL (``redis://host:6379/0``, ``rediss://`` for TLS, ``unix:///run/redis.sock``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from quorum.agents.cache_backend import CacheBackend, MemoryBackend
from quorum.errors import ConfigurationError
from quorum.history._location import redact_url

__all__ = ("is_redis_url", "open_backend")

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):")
"""Two letters at least: ``C:\\cache.db`` is a Windows path, not a URL."""
_REDIS = ("redis", "rediss", "unix")


def is_redis_url(location: str) -> bool:
    match = _SCHEME.match(location)
    return match is not None and match["scheme"].lower() in _REDIS


def open_backend(location: str | os.PathLike[str], *, max_memory_entries: int = 10_000) -> CacheBackend:
    """The backend a cache location names. ConfigurationError (saying which forms exist) otherwise."""
    if isinstance(location, os.PathLike):
        from quorum.agents.cache_sqlite import SQLiteBackend

        return SQLiteBackend(Path(location))
    text = location.strip()
    match = _SCHEME.match(text)
    scheme = match["scheme"].lower() if match else None
    if scheme is None:
        from quorum.agents.cache_sqlite import SQLiteBackend

        return SQLiteBackend(Path(text).expanduser())
    if scheme in _REDIS:
        from quorum.agents.cache_redis import RedisBackend

        return RedisBackend(text)
    if scheme == "sqlite":
        from quorum.agents.cache_sqlite import SQLiteBackend

        path = text.split(":", 1)[1].removeprefix("//")
        if not path:
            raise ConfigurationError(f"cache {text!r}: name the file, as in sqlite:///path/to/cache.db")
        return SQLiteBackend(Path(path).expanduser())
    if scheme == "memory":
        return MemoryBackend(max_entries=max_memory_entries)
    raise ConfigurationError(
        f"unknown response cache {redact_url(text)!r}: use a file path, sqlite:///FILE, memory: "
        "or redis://HOST:6379/0"
    )
