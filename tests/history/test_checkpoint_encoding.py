"""A checkpoint's JSON is joined from the kept encodings of its settled phases (``Snapshot.joined``); the
tree that takes a large one apart must give the same text, and a large one still goes to blobs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from quorum.events import EventType
from quorum.history import _blobs
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from tests.engine.run_helpers import executor_with, phase, prompt, task

pytestmark = pytest.mark.unit

T = task(phase("A", prompt("a"), agents=("x", "y")), phase("B", prompt("b"), agents=("x",), depends_on="A"),
         phase("C", prompt("c"), agents=("y",), depends_on="B"))


def _agent(text: str) -> dict[str, object]:
    return {"text": text, "n": 1.5, "tags": ["é", "\u2028"], "nested": {"k": [1, None, True]}}


async def _checkpoints(report: str = "r") -> list[object]:
    store = MemoryHistoryStore()  # keeps the live event objects, snapshots included
    agents = {"x": lambda r: _agent(report), "y": lambda r: _agent(report * 2)}
    ex = executor_with(agents, history_store=store)
    result = await ex.execute(T, {})
    events = await store.read_journal(result.id)
    return [e for e in events if e.type == EventType.CHECKPOINT_CREATED]


async def test_a_joined_checkpoint_is_the_same_json_as_its_tree_and_as_plain_encoding() -> None:
    checkpoints = await _checkpoints()
    assert len(checkpoints) >= 3
    for event in checkpoints:
        data = event.data  # type: ignore[attr-defined]
        joined = _blobs._joined(data)
        assert joined == _blobs._tree(data, 0).text
        assert json.loads(joined) == json.loads(_blobs.dumps(data))
        text, refs = _blobs.encode_payload(lambda t, r: "never", EventType.CHECKPOINT_CREATED, data, 1 << 20)
        assert (text, refs) == (joined, None)


async def test_a_large_checkpoint_is_still_taken_apart_and_read_back_whole(tmp_path: Path) -> None:
    store = MemoryHistoryStore()
    ex = executor_with({"x": lambda r: {"memo": "long memo " * 300}, "y": lambda r: {"memo": "y" * 3000}},
                       history_store=store)
    result = await ex.execute(T, {})
    live = await store.read_journal(result.id)
    threshold = 512
    large = [e for e in live
             if e.type == EventType.CHECKPOINT_CREATED and len(_blobs._joined(e.data)) > threshold]
    assert large, "the test needs a checkpoint past the threshold"
    record = await store.get_execution(result.id)
    assert record is not None
    async with SQLiteHistoryStore(tmp_path / "h.db", blob_threshold=threshold) as sqlite:
        await sqlite.create_execution(dataclasses.replace(record, status="pending"))
        await sqlite.append(live)
        stored = await sqlite.read_journal(result.id)
        blobs = (await sqlite.stats()).bytes
    assert blobs is not None
    for got, want in zip(stored, live, strict=True):
        assert json.loads(_blobs.dumps(got.data)) == json.loads(_blobs.dumps(want.data))
    import sqlite3

    with sqlite3.connect(tmp_path / "h.db") as conn:
        kept = conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
        inline = {seq: len(data or "") for seq, data in conn.execute("SELECT sequence, data FROM events")}
    assert kept >= 2  # the definition, and parts of the large payloads stored apart
    assert all(inline[e.sequence] <= threshold for e in large)
