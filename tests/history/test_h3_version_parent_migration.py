"""A history written before task versions and parent links were kept (schema v4, SQLite and PostgreSQL)
upgrades in place: its rows read back with no version ("") and no parent, and list as before; new rows
keep both; the filters find them."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest

from quorum.history import _pg_schema
from quorum.history.base import HistoryStore
from quorum.history.migrations import MIGRATIONS, migrate, schema_version
from quorum.history.postgres import PostgresHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from tests.servers import require_postgres

from .helpers import record
from .pg import fresh_schema

pytestmark = pytest.mark.unit


async def _check_upgraded(store: HistoryStore) -> None:
    old = await store.get_execution("old")
    assert old is not None
    assert (old.task, old.status, old.task_version, old.parent_id) == ("committee", "paused", "", None)
    await store.create_execution(record("new", task="committee", task_version="1.1.0", parent_id="old"))
    new = await store.get_execution("new")
    assert new is not None
    assert (new.task_version, new.parent_id) == ("1.1.0", "old")
    assert [r.id for r in await store.list_executions(task="committee")] == ["new", "old"]
    assert [r.id for r in await store.list_executions(task_version="1.1.0")] == ["new"]
    assert [r.id for r in await store.list_executions(task_version="")] == ["old"]
    assert [r.id for r in await store.list_executions(parent_id="old")] == ["new"]


async def test_a_v4_sqlite_history_gains_version_and_parent(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, path=str(path), migrations=MIGRATIONS[:4])
    before = time.time() - 10
    conn.execute("INSERT INTO executions (id, task, status, created_at, updated_at)"
                 " VALUES ('old', 'committee', 'paused', ?, ?)", (before, before))
    conn.execute("COMMIT")
    assert schema_version(conn) == 4
    async with SQLiteHistoryStore(path) as store:
        await _check_upgraded(store)
    assert schema_version(conn) == len(MIGRATIONS)
    conn.close()


async def test_a_v4_postgresql_history_gains_version_and_parent() -> None:
    async with fresh_schema() as url:
        schema = url.rsplit("schema=", 1)[1]
        conn = await asyncpg.connect(require_postgres(), server_settings={"search_path": schema})
        try:
            applied = await _pg_schema.migrate(conn, schema=schema, shown="test",
                                               migrations=_pg_schema.MIGRATIONS[:4])
            assert applied == 4
            before = time.time() - 10
            await conn.execute("INSERT INTO executions (id, task, status, created_at, updated_at)"
                               " VALUES ('old', 'committee', 'paused', $1, $1)", before)
            store = PostgresHistoryStore(url)
            await store.open()
            try:
                assert store.migrations_applied == len(_pg_schema.MIGRATIONS) - 4
                await _check_upgraded(store)
            finally:
                await store.close()
            assert await _pg_schema.schema_version(conn) == len(_pg_schema.MIGRATIONS)
        finally:
            await conn.close()
