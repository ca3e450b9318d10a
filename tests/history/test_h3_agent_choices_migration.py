"""A history written before agent choices were kept (schema v3) opens, gains the column, and its rows
read back without choices; new rows keep theirs."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from quorum.definition.model import thaw
from quorum.history.migrations import MIGRATIONS, migrate, schema_version
from quorum.history.sqlite import SQLiteHistoryStore

from .helpers import record

pytestmark = pytest.mark.unit


async def test_a_v3_history_gains_agent_choices(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, path=str(path), migrations=MIGRATIONS[:3])
    now = time.time()
    conn.execute("INSERT INTO executions (id, task, status, created_at, updated_at)"
                 " VALUES ('old', 't', 'paused', ?, ?)", (now, now))
    conn.execute("COMMIT")
    assert schema_version(conn) == 3
    async with SQLiteHistoryStore(path) as store:
        old = await store.get_execution("old")
        assert old is not None
        assert old.agent_choices is None
        chosen = {"models": ["openai:gpt-4.1-mini"], "endpoints": {}, "base_urls": {}}
        await store.create_execution(record("new", agent_choices=chosen))
        new = await store.get_execution("new")
        assert new is not None
        assert thaw(new.agent_choices) == chosen
    assert schema_version(conn) == len(MIGRATIONS)
    conn.close()
