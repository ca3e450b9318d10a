"""ResponseCache: answers keyed by (agent, model, full prompt, parameters), in memory and in SQLite.

Modes:

- ``read_write``: serve unexpired answers, store new ones with the agent's TTL (agents without a TTL,
  and no ``default_ttl_s``, are not cached).
- ``record``: always call the agent and store its answer without expiry (recording fixtures).
- ``replay``: only serve stored answers, whatever their age; a miss is an error (:class:`ReplayMissError`),
  so tests and demos are deterministic and never reach a model.
- ``off``: nothing is read or written.

Failed answers are never stored. The SQLite file (stdlib ``sqlite3``) makes a re-run cost nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import json_default
from quorum.errors import AgentError, ConfigurationError

if TYPE_CHECKING:
    import sqlite3

__all__ = ("CacheMode", "ReplayMissError", "ResponseCache", "cache_key", "request_material")

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


class ResponseCache:
    """Memory in front of an optional SQLite file. ``clock`` is wall time (seconds; injectable)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        mode: CacheMode = "read_write",
        default_ttl_s: float | None = None,
        max_memory_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in _MODES:
            raise ConfigurationError(f"unknown cache mode {mode!r}; use one of {', '.join(_MODES)}")
        self.mode: CacheMode = mode
        self.default_ttl_s = default_ttl_s
        self.max_memory_entries = max_memory_entries
        self.clock = clock
        self.path = Path(path) if path is not None else None
        self._memory: OrderedDict[str, tuple[float | None, AgentResponse]] = OrderedDict()
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0
        if self.path is not None:
            self._db = self._open(self.path)

    def __repr__(self) -> str:
        return f"ResponseCache(path={self.path!s}, mode={self.mode!r}, entries={len(self._memory)})"

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        import sqlite3  # only when a cache file is used: the manager is on the engine's import path

        db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, agent TEXT NOT NULL, model TEXT,"
                " created_at REAL NOT NULL, expires_at REAL, response TEXT NOT NULL)"
            )
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            raise ConfigurationError(f"cannot open the response cache {path}: {exc}") from exc
        return db

    def applies_to(self, ttl_s: float | None) -> bool:
        """Whether an agent with this TTL is cached at all in the current mode."""
        if self.mode == "off":
            return False
        if self.mode in ("record", "replay"):
            return True
        return (ttl_s if ttl_s is not None else self.default_ttl_s) is not None

    def get(self, key: str, *, ignore_expiry: bool = False) -> AgentResponse | None:
        now = self.clock()
        entry = self._memory.get(key)
        if entry is None and self._db is not None:
            row = self._db.execute(
                "SELECT expires_at, response FROM responses WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                entry = (row[0], AgentResponse.from_dict(json.loads(row[1])))
                self._remember(key, entry)
        if entry is None or (not ignore_expiry and entry[0] is not None and entry[0] <= now):
            self.misses += 1
            return None
        self.hits += 1
        return entry[1]

    def put(self, key: str, response: AgentResponse, *, ttl_s: float | None) -> None:
        if response.error is not None or self.mode in ("off", "replay"):
            return
        now = self.clock()
        expires = None if ttl_s is None else now + ttl_s
        self._remember(key, (expires, response))
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, agent, model, created_at, expires_at, response)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, response.agent_id, response.model, now, expires, json.dumps(response.to_dict())),
            )

    def _remember(self, key: str, entry: tuple[float | None, AgentResponse]) -> None:
        self._memory[key] = entry
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_memory_entries:
            self._memory.popitem(last=False)

    def ttl_for(self, ttl_s: float | None) -> float | None:
        if self.mode == "record":
            return None
        return ttl_s if ttl_s is not None else self.default_ttl_s

    def purge_expired(self) -> int:
        """Drop expired entries (memory and file); the number removed from the file."""
        now = self.clock()
        for key in [k for k, (exp, _) in self._memory.items() if exp is not None and exp <= now]:
            del self._memory[key]
        if self._db is None:
            return 0
        cursor = self._db.execute(
            "DELETE FROM responses WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        )
        return cursor.rowcount

    def __len__(self) -> int:
        if self._db is not None:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
        return len(self._memory)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
