"""ResponseCache: answers keyed by (agent, model, full prompt, parameters), in memory, in a SQLite file
or on a Redis server (the backends of :mod:`quorum.agents.cache_backend`).

Modes:

- ``read_write``: serve unexpired answers, store new ones with the agent's TTL (agents without a TTL,
  and no ``default_ttl_s``, are not cached).
- ``record``: always call the agent and store its answer without expiry (recording fixtures).
- ``replay``: only serve stored answers, whatever their age; a miss is an error (:class:`ReplayMissError`),
  so tests and demos are deterministic and never reach a model.
- ``off``: nothing is read or written.

Failed answers are never stored. The location says the backend (:func:`~quorum.agents.cache_location.
open_backend`): none (this process's memory), a path or ``sqlite:///FILE``, ``memory:``, or
``redis://HOST:6379/0``. An in-process memory layer sits in front of a file or server.

A backend that cannot be reached (:class:`~quorum.agents.cache_backend.CacheUnavailableError`: a Redis
server refused, gone, or too slow) never fails a call: the cache turns itself off for the rest of its
life, says so once (a :class:`CacheWarning` to ``on_warning``, and the ``quorum.agents.cache`` log), and
every call goes to its agent as without a cache. Each execution hears of it too: the agent manager calls
the request's ``metadata[ON_CACHE_WARNING]`` (``hook(request, location, reason)``) for every cached call
made while the cache is off, and the engine turns the first of an execution into its
``cache:unavailable`` event.

``lookup``/``store`` are the async API every backend answers; ``get``/``put`` answer synchronously for
the local backends (memory, SQLite) only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from quorum.agents.cache_backend import (
    CacheBackend,
    CacheEntry,
    CacheUnavailableError,
    LocalBackend,
    MemoryBackend,
)
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import json_default
from quorum.errors import AgentError, ConfigurationError

__all__ = (
    "ON_CACHE_WARNING",
    "CacheMode",
    "CacheWarning",
    "ReplayMissError",
    "ResponseCache",
    "cache_key",
    "request_material",
)

ON_CACHE_WARNING = "on_cache_warning"
"""The request metadata key of the engine's callback told that the cache is unavailable
(``quorum.engine.calls.ON_CACHE_WARNING``): ``hook(request, location, reason)``."""

CacheMode = Literal["read_write", "record", "replay", "off"]
_MODES = ("read_write", "record", "replay", "off")
_SCHEMA_VERSION = 1


class ReplayMissError(AgentError):
    def __init__(self, agent_id: str, key: str) -> None:
        super().__init__(
            agent_id,
            f"replay mode: no recorded answer for this call (cache key {key[:16]}); "
            "record it first (cache mode 'record')",
        )
        self.key = key


def request_material(request: AgentRequest) -> dict[str, Any]:
    """What a non-LLM agent's answer may depend on. Volatile parts (execution id, start time, latencies)
    are left out, so the same question in a new execution hits the cache."""
    context = request.context
    phases = context.get("phases")
    task = context.get("task")
    return {
        "prompt": request.prompt,
        "input": context.get("input"),
        "task": {k: task.get(k) for k in ("name", "version")} if isinstance(task, Mapping) else None,
        "phases": (
            {name: info.get("outputs") for name, info in phases.items() if isinstance(info, Mapping)}
            if isinstance(phases, Mapping)
            else None
        ),
        "phase": request.phase,
        "round": request.round,
        "peers": [(p.agent_id, p.text, p.data, p.error) for p in request.peers],
        "outputs": [(s.name, s.type) for s in request.outputs],
    }


def cache_key(agent_id: str, model: str | None, material: Mapping[str, Any]) -> str:
    payload = json.dumps(
        {"v": _SCHEMA_VERSION, "agent": agent_id, "model": model, "material": material},
        sort_keys=True,
        ensure_ascii=False,
        default=json_default,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheWarning:
    """The cache's backend could not be reached: from now on it is not used."""

    location: str
    """Where the backend is, as it may be shown (no password)."""
    reason: str

    @property
    def message(self) -> str:
        return f"the response cache at {self.location} is unavailable ({self.reason}); running without it"


WarningHook = Callable[[CacheWarning], None]
_log = logging.getLogger("quorum.agents.cache")


class ResponseCache:
    """Answers by cache key, in a backend, with modes and TTL. ``clock`` is wall time (seconds;
    injectable); ``on_warning`` hears once that the backend became unreachable."""

    def __init__(
        self,
        location: str | os.PathLike[str] | CacheBackend | None = None,
        *,
        mode: CacheMode = "read_write",
        default_ttl_s: float | None = None,
        max_memory_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
        on_warning: WarningHook | None = None,
    ) -> None:
        if mode not in _MODES:
            raise ConfigurationError(f"unknown cache mode {mode!r}; use one of {', '.join(_MODES)}")
        self.mode: CacheMode = mode
        self.default_ttl_s = default_ttl_s
        self.max_memory_entries = max_memory_entries
        self.clock = clock
        self.on_warning = on_warning
        self.warning: CacheWarning | None = None
        """Set when the backend became unreachable (the cache is off since)."""
        self.hits = 0
        self.misses = 0
        self._memory = MemoryBackend(max_entries=max_memory_entries)
        backend: CacheBackend | None
        if location is None:
            backend = None
        elif isinstance(location, str | os.PathLike):
            from quorum.agents.cache_location import open_backend

            backend = open_backend(location, max_memory_entries=max_memory_entries)
        else:
            backend = location
        if isinstance(backend, MemoryBackend):
            self._memory, backend = backend, None
        self.backend: CacheBackend | None = backend

    @property
    def path(self) -> Path | None:
        """The SQLite file, when the backend is one."""
        path = getattr(self.backend, "path", None)
        return path if isinstance(path, Path) else None

    @property
    def location(self) -> str:
        return self._memory.location if self.backend is None else self.backend.location

    def __repr__(self) -> str:
        return f"ResponseCache({self.location}, mode={self.mode!r}, entries={self._memory.count_now()})"

    def applies_to(self, ttl_s: float | None) -> bool:
        """Whether an agent with this TTL is cached at all in the current mode."""
        if self.mode == "off":
            return False
        if self.mode in ("record", "replay"):
            return True
        return (ttl_s if ttl_s is not None else self.default_ttl_s) is not None

    def ttl_for(self, ttl_s: float | None) -> float | None:
        if self.mode == "record":
            return None
        return ttl_s if ttl_s is not None else self.default_ttl_s

    # --- the async API: every backend ---------------------------------------------------------------

    async def lookup(self, key: str, *, ignore_expiry: bool = False) -> AgentResponse | None:
        """The stored answer for ``key`` (None: a miss). Never raises for an unreachable backend."""
        if self.warning is not None:
            self.misses += 1
            return None
        entry = self._memory.load_now(key)
        if entry is None and self.backend is not None:
            try:
                entry = await self.backend.load(key)
            except CacheUnavailableError as exc:
                self._unavailable(exc)
            else:
                if entry is not None:
                    self._memory.save_now(key, entry)
        return self._served(entry, ignore_expiry)

    async def store(self, key: str, response: AgentResponse, *, ttl_s: float | None) -> None:
        """Keep ``response`` under ``key`` (not a failed one, nor in off/replay mode)."""
        entry = self._entry(response, ttl_s)
        if entry is None or self.warning is not None:
            return
        self._memory.save_now(key, entry)
        if self.backend is not None:
            try:
                await self.backend.save(key, entry, ttl_s=ttl_s)
            except CacheUnavailableError as exc:
                self._unavailable(exc)

    async def purge(self) -> int:
        """Drop expired entries; the number the backend removed (a server that expires keys: 0)."""
        now = self.clock()
        removed = self._memory.purge_now(now)
        if self.backend is None:
            return removed
        try:
            return await self.backend.purge_expired(now)
        except CacheUnavailableError as exc:
            self._unavailable(exc)
            return 0

    async def size(self) -> int:
        if self.backend is None:
            return self._memory.count_now()
        return await self.backend.count()

    async def aclose(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            await backend.aclose()

    # --- the sync API: local backends only ----------------------------------------------------------

    def get(self, key: str, *, ignore_expiry: bool = False) -> AgentResponse | None:
        entry = self._memory.load_now(key)
        if entry is None and self.backend is not None:
            entry = self._local().load_now(key)
            if entry is not None:
                self._memory.save_now(key, entry)
        return self._served(entry, ignore_expiry)

    def put(self, key: str, response: AgentResponse, *, ttl_s: float | None) -> None:
        entry = self._entry(response, ttl_s)
        if entry is None:
            return
        self._memory.save_now(key, entry)
        if self.backend is not None:
            self._local().save_now(key, entry)

    def purge_expired(self) -> int:
        """Drop expired entries (memory and file); the number removed from the file."""
        now = self.clock()
        removed = self._memory.purge_now(now)
        return removed if self.backend is None else self._local().purge_now(now)

    def __len__(self) -> int:
        return self._memory.count_now() if self.backend is None else self._local().count_now()

    def close(self) -> None:
        """Close a local backend (a server's connections need ``await aclose()``)."""
        if isinstance(self.backend, LocalBackend):
            self.backend.close_now()
            self.backend = None

    # --- shared -------------------------------------------------------------------------------------

    def _local(self) -> LocalBackend:
        backend = self.backend
        if not isinstance(backend, LocalBackend):
            raise ConfigurationError(
                f"the response cache at {self.location} answers asynchronously: await lookup()/store() "
                "instead of get()/put()"
            )
        return backend

    def _served(self, entry: CacheEntry | None, ignore_expiry: bool) -> AgentResponse | None:
        if entry is None or (not ignore_expiry and not entry.fresh(self.clock())):
            self.misses += 1
            return None
        self.hits += 1
        return entry.response

    def _entry(self, response: AgentResponse, ttl_s: float | None) -> CacheEntry | None:
        if response.error is not None or self.mode in ("off", "replay"):
            return None
        now = self.clock()
        expires = None if ttl_s is None else now + ttl_s
        return CacheEntry(response=response, created_at=now, expires_at=expires)

    def _unavailable(self, exc: CacheUnavailableError) -> None:
        if self.warning is not None:
            return
        self.warning = warning = CacheWarning(location=self.location, reason=str(exc))
        _log.warning("%s", warning.message)
        if self.on_warning is not None:
            try:
                self.on_warning(warning)
            except Exception:  # a listener's failure must not turn an outage into a failed call
                _log.exception("the response cache's warning listener failed")
