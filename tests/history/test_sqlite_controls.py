"""Control requests on SQLite: one shared look per 50 ms answers every execution's poll."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from quorum.history.sqlite import SQLiteHistoryStore

from .helpers import record

pytestmark = pytest.mark.unit


async def test_a_request_from_another_connection_is_seen_by_the_next_look(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    owner, other = SQLiteHistoryStore(db), SQLiteHistoryStore(db)
    await owner.open()
    await other.open()
    try:
        await owner.create_execution(record("e1"))
        await owner.create_execution(record("e2"))
        assert await owner.take_control_requests("e1") == []
        await other.request_control("e1", "pause", "from the CLI")
        await asyncio.sleep(0.06)  # past the freshness window of the owner's last look
        taken = await owner.take_control_requests("e1")
        assert [(r.action, r.reason) for r in taken] == [("pause", "from the CLI")]
        assert await owner.take_control_requests("e1") == []
        assert await owner.take_control_requests("e2") == []
    finally:
        await owner.close()
        await other.close()


async def test_many_polls_share_one_look(tmp_path: Path) -> None:
    store = SQLiteHistoryStore(tmp_path / "h.db")
    await store.open()
    try:
        ids = [f"e{i}" for i in range(50)]
        for eid in ids:
            await store.create_execution(record(eid))
        await store.request_control("e7", "abort")
        looks = 0
        real = store._look_at_controls

        async def counting() -> frozenset[str]:
            nonlocal looks
            looks += 1
            return await real()

        store._look_at_controls = counting  # type: ignore[method-assign]
        results = await asyncio.gather(*(store.take_control_requests(eid) for eid in ids))
        assert looks == 1
        assert {eid for eid, taken in zip(ids, results, strict=True) if taken} == {"e7"}
    finally:
        await store.close()
