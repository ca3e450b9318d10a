"""The SQLite schema as an ordered list of migrations, versioned by ``PRAGMA user_version``.

``user_version`` = the number of migrations applied. Opening a store applies the missing ones in order,
inside one ``BEGIN IMMEDIATE`` transaction (so two processes opening the same new file do not race).
A migration is never edited once released: a schema change is a new function appended to
:data:`MIGRATIONS`. A database written by a newer quorum (a higher version) is refused, not guessed at.

Tables:

- ``executions``: one row per execution, derived from its journal (status, verdict, lease, ...).
- ``events``: the journal, keyed by ``(execution_id, sequence)``; small payloads inline as JSON.
- ``calls``: completed agent calls, ``(execution_id, call_key)`` -> the sequence of their
  ``agent:response`` event (the response itself is stored once, in that event).
- ``control``: pause/resume/abort requests from other processes, taken by the owner.
- ``executions.task_definition`` (v3): the blob hash of the task definition recorded at creation.
- ``executions.agent_choices`` (v4): the model overrides and base URLs the agents were built with (JSON).
- ``executions.task_version``, ``executions.parent_id`` (v5): the version of the task the execution runs
  ("" for rows recorded before), and the execution that started it as a child (NULL for a top-level one).
- ``blobs``: large values inside event payloads, content-addressed (sha256 of their JSON), stored once
  however many events carry them; compressed when that pays (see ``_sqlite_blobs``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Final

from quorum.errors import StoreError

__all__ = ("MIGRATIONS", "Migration", "migrate", "schema_version")

Migration = Callable[[sqlite3.Connection], None]


def _v1_journal(conn: sqlite3.Connection) -> None:
    """Executions, the journal, completed calls and control requests."""
    conn.execute(
        """CREATE TABLE executions (
            id TEXT PRIMARY KEY,
            task TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            started_at REAL,
            ended_at REAL,
            duration_ms REAL,
            input TEXT NOT NULL DEFAULT '{}',
            task_hash TEXT NOT NULL DEFAULT '',
            phase_hashes TEXT NOT NULL DEFAULT '{}',
            task_source TEXT,
            verdict TEXT,
            error TEXT,
            last_sequence INTEGER NOT NULL DEFAULT 0,
            last_checkpoint INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            epoch INTEGER NOT NULL DEFAULT 0,
            lease_expires_at REAL,
            recovery_attempts INTEGER NOT NULL DEFAULT 0
        )"""
    )
    conn.execute("CREATE INDEX executions_created ON executions (created_at)")
    conn.execute("CREATE INDEX executions_status ON executions (status, created_at)")
    conn.execute("CREATE INDEX executions_task ON executions (task, created_at)")
    # WITHOUT ROWID: the journal is read and written by its natural key, one b-tree instead of two.
    conn.execute(
        """CREATE TABLE events (
            execution_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            type TEXT NOT NULL,
            timestamp REAL NOT NULL,
            task TEXT,
            phase TEXT,
            step INTEGER,
            agent TEXT,
            duration_ms REAL,
            error TEXT,
            data TEXT,
            PRIMARY KEY (execution_id, sequence)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE calls (
            execution_id TEXT NOT NULL,
            call_key TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            PRIMARY KEY (execution_id, call_key)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE control (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            execution_id TEXT NOT NULL,
            action TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            taken_at REAL
        )"""
    )
    conn.execute("CREATE INDEX control_pending ON control (execution_id, taken_at, id)")


def _v2_blobs(conn: sqlite3.Connection) -> None:
    """Large payloads stored once: a content-addressed blob table referenced from the journal."""
    conn.execute(
        """CREATE TABLE blobs (
            hash TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            codec TEXT NOT NULL,
            content BLOB NOT NULL,
            refs TEXT
        )"""
    )
    # The hashes (comma-separated) that an event's inline data refers to; NULL for most events.
    conn.execute("ALTER TABLE events ADD COLUMN blobs TEXT")


def _v3_task_definition(conn: sqlite3.Connection) -> None:
    """The task definition with the execution row: the hash of its blob (one copy per definition)."""
    conn.execute("ALTER TABLE executions ADD COLUMN task_definition TEXT")


def _v4_agent_choices(conn: sqlite3.Connection) -> None:
    """The agent choices (model overrides, base URLs) with the execution row, for resume and recovery."""
    conn.execute("ALTER TABLE executions ADD COLUMN agent_choices TEXT")


def _v5_version_and_parent(conn: sqlite3.Connection) -> None:
    """The task version with the execution row, and the parent of a child execution (task composition)."""
    conn.execute("ALTER TABLE executions ADD COLUMN task_version TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE executions ADD COLUMN parent_id TEXT")
    conn.execute(
        "CREATE INDEX executions_parent ON executions (parent_id, created_at) WHERE parent_id IS NOT NULL"
    )


MIGRATIONS: Final[tuple[Migration, ...]] = (
    _v1_journal, _v2_blobs, _v3_task_definition, _v4_agent_choices, _v5_version_and_parent,
)


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, *, path: str, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the missing migrations in order, in the caller's open transaction; returns the new version."""
    version = schema_version(conn)
    if version > len(migrations):
        raise StoreError(
            f"history database {path} has schema version {version}, newer than this quorum knows "
            f"({len(migrations)}); upgrade quorum, or use another database (--db PATH or QUORUM_DB)"
        )
    for number in range(version + 1, len(migrations) + 1):
        migrations[number - 1](conn)
        # PRAGMA takes no parameters; ``number`` is an int we computed.
        conn.execute(f"PRAGMA user_version = {number:d}")
    return len(migrations)
