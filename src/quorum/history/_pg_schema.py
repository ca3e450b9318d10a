"""The PostgreSQL schema as ordered migrations, recorded in a version table, applied under a lock.

``quorum_migrations`` holds one row per migration applied (its number, name and when). Opening a store
applies the missing ones in order, in ONE transaction that first takes a transaction-level advisory
lock keyed by the schema's name (``pg_advisory_xact_lock``): two processes opening a new database at
once migrate it once — the second waits for the first, then finds the schema current. DDL in PostgreSQL
is transactional, so a migration that fails leaves nothing half-done. A migration is never edited once
released; a change is a new entry appended to :data:`MIGRATIONS`. A schema newer than this quorum knows
is refused, not guessed at.

The columns follow the SQLite schema (:mod:`.migrations`) so that rows map to records alike
(:mod:`._rows`); JSON is kept as text (quorum encodes and decodes it; the server never needs to).

Tables: ``executions`` (the row derived from the journal, with the lease: owner, epoch, expiry,
recovery attempts; the task's hash, version, phase hashes and definition; the parent execution of a
child), ``events`` (the journal, primary key
``(execution_id, sequence)``), ``calls`` (completed agent calls, unique on ``(execution_id,
call_key)``), ``checkpoints`` (one row per checkpoint with its parent checkpoint: the lineage a fork
starts from), ``control`` (requests from other processes), ``blobs`` (content-addressed payloads).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from quorum.errors import StoreError

__all__ = ("MIGRATIONS", "Migration", "migrate", "schema_version")


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    statements: tuple[str, ...]


_V1 = Migration("journal", (
    """CREATE TABLE executions (
        id text PRIMARY KEY,
        created_order bigint GENERATED ALWAYS AS IDENTITY,
        task text NOT NULL,
        status text NOT NULL,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        started_at double precision,
        ended_at double precision,
        duration_ms double precision,
        input text NOT NULL DEFAULT '{}',
        task_hash text NOT NULL DEFAULT '',
        phase_hashes text NOT NULL DEFAULT '{}',
        task_source text,
        task_definition text,
        agent_choices text,
        verdict text,
        error text,
        last_sequence bigint NOT NULL DEFAULT 0,
        last_checkpoint bigint NOT NULL DEFAULT 0,
        owner text,
        epoch bigint NOT NULL DEFAULT 0,
        lease_expires_at double precision,
        recovery_attempts integer NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX executions_created ON executions (created_at, created_order)",
    "CREATE INDEX executions_status ON executions (status, created_at)",
    "CREATE INDEX executions_task ON executions (task, created_at)",
    """CREATE TABLE events (
        execution_id text NOT NULL,
        sequence bigint NOT NULL,
        type text NOT NULL,
        timestamp double precision NOT NULL,
        task text,
        phase text,
        step integer,
        agent text,
        duration_ms double precision,
        error text,
        data text,
        blobs text,
        PRIMARY KEY (execution_id, sequence)
    )""",
    """CREATE TABLE calls (
        execution_id text NOT NULL,
        call_key text NOT NULL,
        sequence bigint NOT NULL,
        PRIMARY KEY (execution_id, call_key)
    )""",
    """CREATE TABLE control (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        execution_id text NOT NULL,
        action text NOT NULL,
        reason text NOT NULL DEFAULT '',
        created_at double precision NOT NULL,
        taken_at double precision
    )""",
    "CREATE INDEX control_pending ON control (execution_id, id) WHERE taken_at IS NULL",
))

_V2 = Migration("blobs", (
    """CREATE TABLE blobs (
        hash text PRIMARY KEY,
        size integer NOT NULL,
        codec text NOT NULL,
        content bytea NOT NULL,
        refs text
    )""",
))

_V3 = Migration("checkpoint lineage", (
    """CREATE TABLE checkpoints (
        execution_id text NOT NULL,
        sequence bigint NOT NULL,
        phase text,
        parent bigint,
        PRIMARY KEY (execution_id, sequence)
    )""",
))

_V4 = Migration("append fence", (
    # The one-statement append (``_pg_append``) calls this when its fenced UPDATE matched fewer rows than
    # it checked the rules against: the statement, and all it inserted, is rolled back.
    """CREATE FUNCTION quorum_refuse(message text) RETURNS bigint LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '%', message USING ERRCODE = 'QR001';
    END
    $$""",
))

_V5 = Migration("task version and parent", (
    "ALTER TABLE executions ADD COLUMN task_version text NOT NULL DEFAULT ''",
    "ALTER TABLE executions ADD COLUMN parent_id text",
    "CREATE INDEX executions_parent ON executions (parent_id, created_at) WHERE parent_id IS NOT NULL",
))

MIGRATIONS: Final[tuple[Migration, ...]] = (_V1, _V2, _V3, _V4, _V5)

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS quorum_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at double precision NOT NULL
)"""


async def schema_version(conn: Any) -> int:
    """The number of migrations applied (0 for a schema without quorum's tables)."""
    exists = await conn.fetchval("SELECT to_regclass('quorum_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM quorum_migrations"))


async def migrate(
    conn: Any, *, schema: str, shown: str, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Bring ``schema`` to the current version; returns how many migrations this call applied.

    ``schema`` is a checked identifier (``_pg_url``); ``conn`` has it as its search_path."""
    if await schema_version(conn) == len(migrations):
        return 0  # the common case: no lock taken, no write
    async with conn.transaction():
        lock = f"quorum:migrate:{schema}"
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lock)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(_VERSION_TABLE)
        version = await schema_version(conn)
        if version > len(migrations):
            raise StoreError(
                f"history database {shown} (schema {schema}) has schema version {version}, newer than this "
                f"quorum knows ({len(migrations)}); upgrade quorum, or use another database or schema"
            )
        for number in range(version + 1, len(migrations) + 1):
            migration = migrations[number - 1]
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO quorum_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                number, migration.name, time.time(),
            )
        return len(migrations) - version
