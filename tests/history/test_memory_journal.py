"""The in-memory journal is kept encoded: equal copies out, untracked bytes in, objects as a fallback."""

from __future__ import annotations

import gc
import threading
from types import MappingProxyType

import pytest

from quorum.definition.model import frozen_mapping
from quorum.history.memory import MemoryHistoryStore

from .helpers import event, record

pytestmark = pytest.mark.unit


async def _store_with(eid: str) -> MemoryHistoryStore:
    store = MemoryHistoryStore()
    await store.create_execution(record(eid))
    return store


async def test_reads_give_equal_copies_with_frozen_data() -> None:
    store = await _store_with("e1")
    data = frozen_mapping({"outputs": {"score": 3, "tags": ["a", "b"]}, "note": "x"})
    sent = [event("e1", 1, "execution:start"), event("e1", 2, "phase:complete", phase="P", data=data)]
    await store.append(sent)
    got = await store.read_journal("e1")
    assert got == sent
    assert got[1] is not sent[1]  # a copy: what a reader does cannot reach the engine's objects
    assert type(got[1].data) is MappingProxyType
    assert type(got[1].data["outputs"]) is MappingProxyType
    assert got[1].data["outputs"]["tags"] == ("a", "b")


async def test_reads_across_batches_decode_only_what_is_asked() -> None:
    store = await _store_with("e1")
    await store.append([event("e1", 1, "execution:start")])
    await store.append([event("e1", n) for n in range(2, 6)])
    await store.append([event("e1", n) for n in range(6, 9)])
    for after in range(9):
        for limit in (None, 0, 1, 2, 5, 20):
            got = await store.read_journal("e1", after=after, limit=limit)
            expected = list(range(after + 1, 9))[: None if limit is None else limit]
            assert [e.sequence for e in got] == expected, (after, limit)


async def test_kept_journal_is_not_walked_by_the_garbage_collector() -> None:
    store = await _store_with("e1")
    big = frozen_mapping({f"k{i}": {"v": [i, str(i)]} for i in range(200)})
    await store.append([event("e1", n, data=big) for n in range(1, 51)])
    entry = store._entries["e1"]
    assert not gc.is_tracked(entry.chunks[0])
    assert entry.events is None


async def test_a_payload_pickle_refuses_keeps_the_journal_as_objects() -> None:
    store = await _store_with("e1")
    await store.append([event("e1", 1, "execution:start")])
    lock = threading.Lock()
    await store.append([event("e1", 2, data={"lock": lock})])
    await store.append([event("e1", 3)])
    got = await store.read_journal("e1")
    assert [e.sequence for e in got] == [1, 2, 3]
    assert got[1].data["lock"] is lock
    assert (await store.read_journal("e1", after=1, limit=1))[0].sequence == 2


async def test_completed_calls_and_checkpoint_come_from_the_encoded_journal() -> None:
    store = await _store_with("e1")
    response = {"agent_id": "a", "text": "hi"}
    await store.append(
        [
            event("e1", 1, "execution:start"),
            event("e1", 2, "agent:response", agent="a", data={"call_key": "P/0/a/0/1", "response": response}),
        ]
    )
    await store.append([event("e1", 3, "checkpoint:created", data={"snapshot": {"phases": {}}})])
    assert await store.completed_calls("e1") == {"P/0/a/0/1": response}
    checkpoint = await store.latest_checkpoint("e1")
    assert checkpoint is not None
    assert checkpoint.sequence == 3
    stats = await store.stats()
    assert stats.events == 3
    assert stats.agent_calls == 1
