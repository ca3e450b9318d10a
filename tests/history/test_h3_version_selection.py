"""Executions chosen by a task selector (``committee@1.1``, ``@^1``, ``@1.2.0``): ``find_executions``
over the stores, and ``quorum history --task`` / ``quorum show`` printing each run's version and hash."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quorum.definition.versions import VersionSyntaxError
from quorum.history.base import HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.queries import find_executions
from quorum.history.sqlite import SQLiteHistoryStore
from tests.cli.helpers import Cli

from .helpers import record
from .pg import fresh_schema

pytestmark = pytest.mark.integration

RUNS = [  # id, task, version, hash
    ("r0", "committee", "1.0.3", "a" * 64), ("r1", "committee", "1.1.0", "b" * 64),
    ("r2", "other", "1.1.0", "c" * 64), ("r3", "committee", "1.1.4", "d" * 64),
    ("r4", "committee", "", "e" * 64), ("r5", "committee", "2.0.0", "f" * 64),
    ("r6", "committee", "1.1.4", "d" * 64),
]


async def _fill(store: HistoryStore) -> None:
    t0 = time.time() - 100
    for i, (eid, task, version, digest) in enumerate(RUNS):
        await store.create_execution(record(eid, task=task, task_version=version, task_hash=digest,
                                            created_at=t0 + i, parent_id="r0" if eid == "r3" else None))


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    if request.param == "postgresql":
        from quorum.history.postgres import PostgresHistoryStore

        async with fresh_schema() as url, PostgresHistoryStore(url) as pg:
            yield pg
        return
    backend = MemoryHistoryStore() if request.param == "memory" else SQLiteHistoryStore(tmp_path / "h.db")
    async with backend:
        yield backend


async def test_selectors_pick_versions_newest_first(store: HistoryStore) -> None:
    await _fill(store)

    async def ids(task: str | None, limit: int = 10, **kw: str) -> list[str]:
        return [r.id for r in await find_executions(store, task=task, limit=limit, **kw)]

    assert await ids("committee") == ["r6", "r5", "r4", "r3", "r1", "r0"]  # unversioned r4 too
    assert await ids("committee@1.1") == ["r6", "r3", "r1"]
    assert await ids("committee@1.1.4") == ["r6", "r3"]
    assert await ids("committee@^1") == ["r6", "r3", "r1", "r0"]
    assert await ids("committee@^1.1") == ["r6", "r3", "r1"]
    assert await ids("committee@2") == ["r5"]
    assert await ids("committee@1.1", limit=1) == ["r6"]  # pages: the limit counts matches, not rows read
    assert await ids("committee@1.1", limit=2) == ["r6", "r3"]
    assert await ids("committee@1.1", parent_id="r0") == ["r3"]
    assert await ids("committee@1.1", status="running") == []
    assert await ids("other@1.1") == ["r2"]
    assert await ids("committee@3") == []
    assert await ids(None, limit=3) == ["r6", "r5", "r4"]
    with pytest.raises(VersionSyntaxError, match="not a version selector"):
        await find_executions(store, task="committee@1.x")


def test_history_and_show_print_versions_and_hashes(tmp_path: Path) -> None:
    cli = Cli.in_folder(tmp_path)

    async def write() -> None:
        async with SQLiteHistoryStore(cli.db) as store:
            await _fill(store)

    asyncio.run(write())
    rows = cli("history", "--task", "committee@1.1", "--json")
    assert rows.code == 0, rows
    assert [(r["id"], r["task_version"], r["task_hash"]) for r in rows.json()] == [
        ("r6", "1.1.4", "d" * 64), ("r3", "1.1.4", "d" * 64), ("r1", "1.1.0", "b" * 64)]
    assert [r["parent_id"] for r in rows.json()] == [None, "r0", None]
    table = cli("history", "--task", "committee@^1")
    assert table.code == 0, table
    lines = {line.split()[0]: line.split() for line in table.out.splitlines() if line.startswith("r")}
    assert set(lines) == {"r6", "r3", "r1", "r0"}
    assert lines["r1"][1] == "committee@1.1.0"
    assert "b" * 12 in lines["r1"]
    plain = cli("history", "--task", "committee")
    assert [ln.split()[1] for ln in plain.out.splitlines() if ln.startswith("r4")] == ["committee"]
    bad = cli("history", "--task", "committee@1.x")
    assert bad.code == 2, bad
    assert "not a version selector" in bad.err
    assert "committee@1.2.0" in bad.err  # says what to write
    shown = cli("show", "r3")
    assert shown.code == 0, shown
    head = {ln.split()[0]: ln.split()[1:] for ln in shown.out.splitlines() if ln.strip()}
    assert head["version"] == ["1.1.4"]
    assert head["hash"] == ["d" * 64]
    assert head["parent"] == ["r0"]
