"""SQLiteBackend: the response cache in one SQLite file (stdlib ``sqlite3``), so a re-run costs nothing.

The table is the one earlier versions wrote (``responses``), so existing cache and ``--record`` files
keep working.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from quorum.agents.cache_backend import CacheEntry, LocalBackend
from quorum.agents.protocol import AgentResponse
from quorum.errors import ConfigurationError

__all__ = ("SQLiteBackend",)


class SQLiteBackend(LocalBackend):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._db: sqlite3.Connection | None = _open(self.path)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise ConfigurationError(f"the response cache {self.path} is closed")
        return self._db

    def load_now(self, key: str) -> CacheEntry | None:
        row = self._conn().execute(
            "SELECT created_at, expires_at, response FROM responses WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return CacheEntry(response=AgentResponse.from_dict(json.loads(row[2])), created_at=row[0],
                          expires_at=row[1])

    def save_now(self, key: str, entry: CacheEntry) -> None:
        response = entry.response
        self._conn().execute(
            "INSERT OR REPLACE INTO responses (key, agent, model, created_at, expires_at, response)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key, response.agent_id, response.model, entry.created_at, entry.expires_at,
             json.dumps(response.to_dict())),
        )

    def purge_now(self, now: float) -> int:
        cursor = self._conn().execute(
            "DELETE FROM responses WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        )
        return cursor.rowcount

    def count_now(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close_now(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _open(path: Path) -> sqlite3.Connection:
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
