"""The HistoryStore contract: every backend passes this one suite."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.protocol import AgentResponse, CallKey
from quorum.definition.model import thaw
from quorum.errors import (
    ConfigurationError,
    ExecutionNotFoundError,
    InvalidTransitionError,
    LeaseLostError,
    StoreError,
)
from quorum.events import EventType
from quorum.history.base import HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import AgentId, PhaseName

from .helpers import dead_pid, event, live_owner, record, this_host
from .pg import fresh_schema

pytestmark = pytest.mark.unit


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    backend: HistoryStore
    if request.param == "postgresql":
        from quorum.history.postgres import PostgresHistoryStore

        async with fresh_schema() as url:
            backend = PostgresHistoryStore(url)
            await backend.open()
            yield backend
            await backend.close()
        return
    if request.param == "memory":
        backend = MemoryHistoryStore()
    else:
        backend = SQLiteHistoryStore(tmp_path / "history.db")
    await backend.open()
    yield backend
    await backend.close()


async def started(store: HistoryStore, eid: str, **fields: Any) -> None:
    await store.create_execution(record(eid, **fields))
    await store.append([event(eid, 1, EventType.EXECUTION_START)])


# -- the execution row --------------------------------------------------------------------------------


async def test_store_satisfies_the_protocol(store: HistoryStore) -> None:
    assert isinstance(store, HistoryStore)


async def test_create_then_get_returns_a_pending_record(store: HistoryStore) -> None:
    rec = record("e1", input={"ticker": "ACME", "n": [1, 2]}, task_hash="h", phase_hashes={"A": "x"},
                 task_source="# T")
    await store.create_execution(rec)
    got = await store.get_execution("e1")
    assert got is not None
    assert (got.id, got.task, got.status, got.last_sequence, got.epoch) == ("e1", "demo", "pending", 0, 0)
    assert thaw(got.input) == {"ticker": "ACME", "n": [1, 2]}
    assert (got.task_hash, thaw(got.phase_hashes), got.task_source) == ("h", {"A": "x"}, "# T")
    assert await store.get_execution("nope") is None


async def test_the_task_definition_is_kept_with_the_row(store: HistoryStore) -> None:
    definition = {"name": "demo", "phases": [{"name": "A", "agents": ["x", "y"]}], "retry": {"max": 2}}
    await store.create_execution(record("e1", task_definition=definition))
    await store.create_execution(record("e2"))
    got = await store.get_execution("e1")
    assert got is not None
    assert thaw(got.task_definition) == definition
    other = await store.get_execution("e2")
    assert other is not None
    assert other.task_definition is None
    await store.append([event("e1", 1, EventType.EXECUTION_START)])
    listed = {str(r.id): r for r in await store.list_executions()}
    assert listed["e1"].task_definition is None  # light listings
    [orphan] = [r for r in await store.list_orphans() if r.id == "e1"]
    assert orphan.task_definition is None


async def test_the_agent_choices_are_kept_with_the_row_and_a_resume_replaces_them(
    store: HistoryStore,
) -> None:
    chosen = {"models": ["chair=openai:model-a"], "endpoints": {},
              "base_urls": {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}}
    await store.create_execution(record("e1", agent_choices=chosen))
    await store.create_execution(record("e2"))
    got = await store.get_execution("e1")
    assert got is not None
    assert thaw(got.agent_choices) == chosen
    other = await store.get_execution("e2")
    assert other is not None
    assert other.agent_choices is None
    await store.append([event("e1", 1, EventType.EXECUTION_START), event("e1", 2, EventType.PHASE_START)])
    listed = {str(r.id): r for r in await store.list_executions()}
    assert thaw(listed["e1"].agent_choices) == chosen  # small: kept in listings too
    # A resume that chose other models records them in its event; the row follows the journal.
    changed = {**chosen, "models": ["chair=openai:model-b"]}
    await store.append([event("e1", 3, EventType.EXECUTION_PAUSED),
                        event("e1", 4, EventType.EXECUTION_RESUMED, data={"agent_choices": changed})])
    got = await store.get_execution("e1")
    assert got is not None
    assert thaw(got.agent_choices) == changed
    # Events that carry no choices leave them as they are.
    await store.append([event("e1", 5, EventType.EXECUTION_RESUMED, data={"recovered": True})])
    got = await store.get_execution("e1")
    assert got is not None
    assert thaw(got.agent_choices) == changed
    [orphan_view] = [r for r in await store.list_executions() if r.id == "e1"]
    assert thaw(orphan_view.agent_choices) == changed


async def test_creating_an_execution_twice_is_refused(store: HistoryStore) -> None:
    await store.create_execution(record("e1"))
    with pytest.raises(StoreError, match="already exists"):
        await store.create_execution(record("e1"))


async def test_execution_row_follows_the_execution_events(store: HistoryStore) -> None:
    t0 = time.time()
    await store.create_execution(record("e1", created_at=t0))
    await store.append([event("e1", 1, EventType.EXECUTION_START, ts=t0 + 1)])
    rec = await store.get_execution("e1")
    assert rec is not None
    assert (rec.status, rec.started_at, rec.last_sequence) == ("running", t0 + 1, 1)
    await store.append([event("e1", 2, EventType.EXECUTION_PAUSED, ts=t0 + 2)])
    assert (await store.get_execution("e1")).status == "paused"  # type: ignore[union-attr]
    await store.append([event("e1", 3, EventType.EXECUTION_RESUMED, ts=t0 + 3)])
    assert (await store.get_execution("e1")).status == "running"  # type: ignore[union-attr]
    await store.append(
        [event("e1", 4, EventType.EXECUTION_COMPLETE, ts=t0 + 4, data={"verdict": {"decision": "buy"}})]
    )
    rec = await store.get_execution("e1")
    assert rec is not None
    assert (rec.status, rec.ended_at, rec.updated_at, rec.last_sequence) == ("completed", t0 + 4, t0 + 4, 4)
    assert rec.duration_ms == pytest.approx(3000.0)
    assert thaw(rec.verdict) == {"decision": "buy"}
    assert rec.error is None


@pytest.mark.parametrize(
    ("event_type", "status", "error"),
    [
        (EventType.EXECUTION_ERROR, "failed", "phase 'A' failed: boom"),
        (EventType.EXECUTION_TIMEOUT, "timeout", "execution exceeded its time limit of 1s"),
        (EventType.EXECUTION_ABORTED, "aborted", "user asked"),
    ],
)
async def test_final_outcomes_record_status_error_and_duration(
    store: HistoryStore, event_type: str, status: str, error: str
) -> None:
    await started(store, "e1")
    await store.append([event("e1", 2, event_type, error=error, duration_ms=12.5)])
    rec = await store.get_execution("e1")
    assert rec is not None
    assert (rec.status, rec.error, rec.duration_ms, rec.verdict) == (status, error, 12.5, None)


async def test_the_final_outcome_is_recorded_once(store: HistoryStore) -> None:
    await started(store, "e1")
    await store.append([event("e1", 2, EventType.EXECUTION_COMPLETE, data={"verdict": {"v": 1}})])
    for late in (
        EventType.EXECUTION_ERROR, EventType.EXECUTION_COMPLETE, EventType.EXECUTION_START,
        EventType.PHASE_START, EventType.AGENT_RESPONSE,
    ):
        with pytest.raises(StoreError, match="recorded once and its journal is closed"):
            await store.append([event("e1", 3, late, error="late")])
    rec = await store.get_execution("e1")
    assert rec is not None
    assert (rec.status, rec.error, rec.last_sequence) == ("completed", None, 2)
    assert thaw(rec.verdict) == {"v": 1}


# -- sequence rules -------------------------------------------------------------------------------------


async def test_a_gap_is_refused(store: HistoryStore) -> None:
    await started(store, "e1")
    with pytest.raises(StoreError, match=r"sequence 3, expected 2 \(a gap\)"):
        await store.append([event("e1", 3)])
    assert [e.sequence for e in await store.read_journal("e1")] == [1]


async def test_a_duplicate_is_refused(store: HistoryStore) -> None:
    await started(store, "e1")
    with pytest.raises(StoreError, match="a duplicate"):
        await store.append([event("e1", 1)])
    with pytest.raises(StoreError, match="a duplicate"):
        await store.append([event("e1", 2), event("e1", 2)])


async def test_the_journal_starts_at_one(store: HistoryStore) -> None:
    await store.create_execution(record("e1"))
    with pytest.raises(StoreError, match="expected 1"):
        await store.append([event("e1", 0, EventType.EXECUTION_START)])


async def test_a_refused_batch_writes_nothing(store: HistoryStore) -> None:
    await started(store, "e1")
    await started(store, "e2")
    with pytest.raises(StoreError, match="gap"):
        await store.append([event("e1", 2), event("e2", 2), event("e1", 4)])
    assert [e.sequence for e in await store.read_journal("e1")] == [1]
    assert [e.sequence for e in await store.read_journal("e2")] == [1]
    rec = await store.get_execution("e1")
    assert rec is not None
    assert rec.last_sequence == 1
    await store.append([event("e1", 2), event("e2", 2)])  # the journal continues where it was


async def test_events_of_an_unknown_execution_are_refused(store: HistoryStore) -> None:
    with pytest.raises(StoreError, match="create_execution"):
        await store.append([event("ghost", 1, EventType.EXECUTION_START)])


async def test_appending_nothing_is_a_no_op(store: HistoryStore) -> None:
    await started(store, "e1")
    await store.append([])
    assert len(await store.read_journal("e1")) == 1


# -- the journal ----------------------------------------------------------------------------------------


async def test_events_round_trip_with_every_field(store: HistoryStore) -> None:
    await store.create_execution(record("e1"))
    original = event(
        "e1", 1, EventType.AGENT_RESPONSE, task="demo", phase=PhaseName("Analysis"), step=2,
        agent=AgentId("macro-analyst"), duration_ms=3.25, error=None,
        data={"text": "héllo ✓", "nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}},
    )
    await store.append([original])
    [back] = await store.read_journal("e1")
    assert back.to_dict() == original.to_dict()


async def test_journal_order_with_interleaved_executions(store: HistoryStore) -> None:
    for eid in ("a", "b", "c"):
        await store.create_execution(record(eid))
    batch = []
    for seq in range(1, 21):
        for eid in ("a", "b", "c"):
            batch.append(event(eid, seq, data={"who": eid, "n": seq}))
    # several appends, each mixing executions
    for i in range(0, len(batch), 7):
        await store.append(batch[i : i + 7])
    for eid in ("a", "b", "c"):
        journal = await store.read_journal(eid)
        assert [e.sequence for e in journal] == list(range(1, 21))
        assert {e.data["who"] for e in journal} == {eid}
        assert [e.data["n"] for e in journal] == list(range(1, 21))


async def test_read_journal_after_and_limit_for_live_tailing(store: HistoryStore) -> None:
    await store.create_execution(record("e1"))
    await store.append([event("e1", n) for n in range(1, 6)])
    assert [e.sequence for e in await store.read_journal("e1", after=3)] == [4, 5]
    assert [e.sequence for e in await store.read_journal("e1", after=1, limit=2)] == [2, 3]
    assert await store.read_journal("e1", after=5) == []
    await store.append([event("e1", 6)])
    assert [e.sequence for e in await store.read_journal("e1", after=5)] == [6]
    assert await store.read_journal("missing") == []


async def test_completed_calls_are_keyed_by_call_key(store: HistoryStore) -> None:
    await started(store, "e1")
    key = CallKey(phase=PhaseName("Analysis"), step=1, agent=AgentId("macro"), round=0, attempt=1)
    response = AgentResponse(agent_id=AgentId("macro"), text="up", data={"stance": "bullish"}, confidence=0.7)
    await store.append(
        [
            event("e1", 2, EventType.AGENT_START, data={"call_key": str(key)}),
            event("e1", 3, EventType.AGENT_RESPONSE, data={"call_key": key, "response": response}),
            event("e1", 4, EventType.AGENT_RESPONSE, data={"call_key": "V/0/chair/0/1",
                                                           "response": {"text": "ok"}}),
            event("e1", 5, EventType.AGENT_RESPONSE, data={"response": {"text": "no key: not a call"}}),
            event("e1", 6, EventType.AGENT_ERROR, data={"call_key": "X/0/bad/0/1", "response": {}}),
        ]
    )
    calls = await store.completed_calls("e1")
    assert set(calls) == {"Analysis/1/macro/0/1", "V/0/chair/0/1"}
    assert thaw(calls["Analysis/1/macro/0/1"]) == response.to_dict()
    assert AgentResponse.from_dict(calls["Analysis/1/macro/0/1"]) == response
    assert thaw(calls["V/0/chair/0/1"]) == {"text": "ok"}
    assert await store.completed_calls("missing") == {}


async def test_a_call_recorded_twice_keeps_its_latest_answer(store: HistoryStore) -> None:
    await started(store, "e1")
    await store.append([event("e1", 2, EventType.AGENT_RESPONSE, data={"call_key": "P/0/a/0/1",
                                                                       "response": {"n": 1}})])
    await store.append([event("e1", 3, EventType.AGENT_RESPONSE, data={"call_key": "P/0/a/0/1",
                                                                       "response": {"n": 2}})])
    assert thaw(await store.completed_calls("e1")) == {"P/0/a/0/1": {"n": 2}}


async def test_latest_checkpoint(store: HistoryStore) -> None:
    await started(store, "e1")
    assert await store.latest_checkpoint("e1") is None
    assert await store.latest_checkpoint("missing") is None
    snap1 = {"phases": {"A": {"outputs": {"x": 1}}}, "completed": ["A"]}
    snap2 = {"phases": {"A": {"outputs": {"x": 1}}, "B": {"outputs": {"y": [1, 2]}}}, "completed": ["A", "B"]}
    await store.append(
        [
            event("e1", 2, EventType.CHECKPOINT_CREATED, phase=PhaseName("A"), data={"snapshot": snap1}),
            event("e1", 3, EventType.PHASE_START, phase=PhaseName("B")),
            event("e1", 4, EventType.CHECKPOINT_CREATED, phase=PhaseName("B"), data={"snapshot": snap2}),
            event("e1", 5, EventType.PHASE_START, phase=PhaseName("C")),
        ]
    )
    cp = await store.latest_checkpoint("e1")
    assert cp is not None
    assert cp.sequence == 4
    assert cp.phase == "B"
    assert thaw(cp.data["snapshot"]) == snap2


# -- listing ---------------------------------------------------------------------------------------------


async def test_list_executions_newest_first_with_filters(store: HistoryStore) -> None:
    t0 = time.time() - 100
    for i, (task, done) in enumerate([("a", True), ("b", False), ("a", False), ("b", True), ("a", True)]):
        eid = f"e{i}"
        await store.create_execution(record(eid, task=task, created_at=t0 + i))
        await store.append([event(eid, 1, EventType.EXECUTION_START)])
        if done:
            await store.append([event(eid, 2, EventType.EXECUTION_COMPLETE)])
    assert [r.id for r in await store.list_executions(limit=10)] == ["e4", "e3", "e2", "e1", "e0"]
    assert [r.id for r in await store.list_executions(limit=2)] == ["e4", "e3"]
    assert [r.id for r in await store.list_executions(task="a")] == ["e4", "e2", "e0"]
    assert [r.id for r in await store.list_executions(status="completed")] == ["e4", "e3", "e0"]
    assert [r.id for r in await store.list_executions(status="running", task="b")] == ["e1"]
    assert await store.list_executions(limit=0) == []


async def test_task_version_and_parent_are_kept_with_the_row(store: HistoryStore) -> None:
    await store.create_execution(record("p1", task="committee", task_version="1.2.0", task_hash="h12"))
    await store.create_execution(record("c1", task="review", task_version="0.3.1", parent_id="p1"))
    await store.create_execution(record("plain"))
    parent, child, plain = [await store.get_execution(e) for e in ("p1", "c1", "plain")]
    assert parent is not None
    assert child is not None
    assert plain is not None
    assert (parent.task_version, parent.parent_id, parent.task_hash) == ("1.2.0", None, "h12")
    assert (child.task_version, child.parent_id) == ("0.3.1", "p1")
    assert (plain.task_version, plain.parent_id) == ("", None)
    # The light records of a listing carry them too, and they survive the events that update the row.
    await store.append([event("c1", 1, EventType.EXECUTION_START)])
    await store.append([event("c1", 2, EventType.EXECUTION_COMPLETE)])
    listed = {str(r.id): r for r in await store.list_executions()}
    assert (listed["c1"].task_version, listed["c1"].parent_id, listed["c1"].status) == ("0.3.1", "p1",
                                                                                        "completed")
    assert (listed["p1"].task_version, listed["p1"].parent_id) == ("1.2.0", None)


async def test_list_executions_by_task_version_and_by_parent(store: HistoryStore) -> None:
    t0 = time.time() - 100
    rows = [("a", "1.1.0", None), ("a", "1.2.0", None), ("b", "1.1.0", "e0"), ("a", "1.1.0", "e0"),
            ("b", "2.0.0", "e1"), ("a", "1.1.0", None)]
    for i, (task, version, parent) in enumerate(rows):
        await store.create_execution(
            record(f"e{i}", task=task, created_at=t0 + i, task_version=version, parent_id=parent)
        )
    await store.append([event("e5", 1, EventType.EXECUTION_START)])
    assert [r.id for r in await store.list_executions(task_version="1.1.0")] == ["e5", "e3", "e2", "e0"]
    assert [r.id for r in await store.list_executions(task="a", task_version="1.1.0")] == ["e5", "e3", "e0"]
    assert [r.id for r in await store.list_executions(task="a", task_version="1.2.0")] == ["e1"]
    assert [r.id for r in await store.list_executions(parent_id="e0")] == ["e3", "e2"]
    assert [r.id for r in await store.list_executions(parent_id="e1")] == ["e4"]
    assert [r.id for r in await store.list_executions(parent_id="e0", task="b")] == ["e2"]
    assert [r.id for r in await store.list_executions(parent_id="e0", limit=1)] == ["e3"]
    assert [r.id for r in await store.list_executions(task_version="1.1.0", status="running")] == ["e5"]
    assert await store.list_executions(task_version="9.9.9") == []
    assert await store.list_executions(parent_id="nobody") == []


# -- leases and fencing -------------------------------------------------------------------------------------


async def test_lease_lifecycle(store: HistoryStore) -> None:
    await started(store, "e1")
    me, other = live_owner(), f"{this_host()}:1:other"
    lease = await store.acquire_lease("e1", me, ttl_s=30)
    assert lease is not None
    assert (lease.owner, lease.epoch) == (me, 1)
    assert lease.expires_at > time.time() + 20
    assert await store.acquire_lease("e1", other, ttl_s=30) is None  # held and alive
    again = await store.acquire_lease("e1", me, ttl_s=30)  # ours: re-taken, new epoch, not a recovery
    assert again is not None
    assert again.epoch == 2
    renewed = await store.renew_lease(again, ttl_s=60)
    assert renewed.epoch == 2
    assert renewed.expires_at > again.expires_at
    rec = await store.get_execution("e1")
    assert rec is not None
    assert (rec.owner, rec.epoch, rec.recovery_attempts) == (me, 2, 0)
    await store.release_lease(renewed)
    rec = await store.get_execution("e1")
    assert rec is not None
    assert (rec.owner, rec.lease_expires_at) == (None, None)
    taken = await store.acquire_lease("e1", other, ttl_s=30)  # released: free, not a recovery
    assert taken is not None
    assert taken.epoch == 3
    assert (await store.get_execution("e1")).recovery_attempts == 0  # type: ignore[union-attr]


async def test_an_expired_lease_is_taken_over_and_counted(store: HistoryStore) -> None:
    await started(store, "e1")
    old = await store.acquire_lease("e1", "elsewhere:42:a", ttl_s=0.0)
    assert old is not None
    new = await store.acquire_lease("e1", live_owner(), ttl_s=30)
    assert new is not None
    assert new.epoch == old.epoch + 1
    rec = await store.get_execution("e1")
    assert rec is not None
    assert rec.recovery_attempts == 1
    with pytest.raises(LeaseLostError):
        await store.renew_lease(old, ttl_s=30)
    await store.release_lease(old)  # a stale release changes nothing
    rec = await store.get_execution("e1")
    assert rec is not None
    assert rec.owner == live_owner()


async def test_a_dead_owner_on_this_host_is_taken_over_at_once(store: HistoryStore) -> None:
    await started(store, "e1")
    dead = f"{this_host()}:{dead_pid()}:n"
    assert await store.acquire_lease("e1", dead, ttl_s=3600) is not None
    lease = await store.acquire_lease("e1", live_owner(), ttl_s=30)
    assert lease is not None
    assert lease.epoch == 2
    assert (await store.get_execution("e1")).recovery_attempts == 1  # type: ignore[union-attr]


async def test_another_hosts_live_lease_is_respected(store: HistoryStore) -> None:
    await started(store, "e1")
    assert await store.acquire_lease("e1", f"other-host:{dead_pid()}:n", ttl_s=3600) is not None
    assert await store.acquire_lease("e1", live_owner(), ttl_s=30) is None


async def test_an_ended_execution_is_never_leased(store: HistoryStore) -> None:
    await started(store, "e1")
    lease = await store.acquire_lease("e1", live_owner(), ttl_s=30)
    assert lease is not None
    await store.append([event("e1", 2, EventType.EXECUTION_COMPLETE)], epoch=lease.epoch)
    await store.release_lease(lease)
    assert await store.acquire_lease("e1", live_owner(), ttl_s=30) is None
    assert await store.acquire_lease("e1", f"{this_host()}:1:other", ttl_s=30) is None


async def test_an_execution_created_with_an_owner_is_leased_in_the_same_write(store: HistoryStore) -> None:
    me, other = live_owner(), f"{this_host()}:1:other"
    before = time.time()
    lease = await store.create_execution(record("e1"), owner=me, ttl_s=30)
    assert lease is not None
    assert (lease.execution_id, lease.owner, lease.epoch) == ("e1", me, 1)
    assert before + 30 <= lease.expires_at <= time.time() + 30
    rec = await store.get_execution("e1")
    assert rec is not None
    assert (rec.status, rec.owner, rec.epoch, rec.lease_expires_at, rec.recovery_attempts) == (
        "pending", me, 1, lease.expires_at, 0)
    assert await store.acquire_lease("e1", other, ttl_s=30) is None  # held from the first moment
    await store.append([event("e1", 1, EventType.EXECUTION_START)], epoch=lease.epoch)  # the fence agrees
    assert "e1" not in {r.id for r in await store.list_orphans()}
    renewed = await store.renew_lease(lease, ttl_s=60)
    assert renewed.epoch == 1
    # without an owner: free, as before
    assert await store.create_execution(record("e2")) is None
    free = await store.get_execution("e2")
    assert free is not None
    assert (free.owner, free.epoch, free.lease_expires_at) == (None, 0, None)


async def test_a_lease_at_creation_needs_a_ttl(store: HistoryStore) -> None:
    with pytest.raises(ConfigurationError, match="ttl_s"):
        await store.create_execution(record("e1"), owner=live_owner())
    assert await store.get_execution("e1") is None  # refused before anything was written


@pytest.mark.parametrize("end", [EventType.EXECUTION_COMPLETE, EventType.EXECUTION_ERROR,
                                 EventType.EXECUTION_ABORTED, EventType.EXECUTION_TIMEOUT])
async def test_the_event_that_ends_an_execution_ends_its_lease(store: HistoryStore, end: str) -> None:
    lease = await store.create_execution(record("e1"), owner=live_owner(), ttl_s=30)
    assert lease is not None
    await store.append([event("e1", 1, EventType.EXECUTION_START), event("e1", 2, EventType.PHASE_START)],
                       epoch=lease.epoch)
    running = await store.get_execution("e1")
    assert running is not None
    assert running.owner == live_owner()  # an event that does not end it leaves the lease alone
    await store.append([event("e1", 3, end)], epoch=lease.epoch)
    ended = await store.get_execution("e1")
    assert ended is not None
    assert (ended.owner, ended.lease_expires_at, ended.epoch) == (None, None, 1)
    await store.release_lease(lease)  # nothing left to release: changes nothing, raises nothing
    again = await store.get_execution("e1")
    assert again is not None
    assert (again.owner, again.lease_expires_at, again.epoch, again.status) == (None, None, 1, ended.status)


async def test_a_paused_execution_keeps_its_lease_until_released(store: HistoryStore) -> None:
    lease = await store.create_execution(record("e1"), owner=live_owner(), ttl_s=30)
    assert lease is not None
    await store.append(
        [event("e1", 1, EventType.EXECUTION_START), event("e1", 2, EventType.EXECUTION_PAUSED)],
        epoch=lease.epoch,
    )
    paused = await store.get_execution("e1")
    assert paused is not None
    assert paused.owner == live_owner()
    await store.release_lease(lease)
    released = await store.get_execution("e1")
    assert released is not None
    assert released.owner is None


async def test_lease_operations_on_unknown_executions(store: HistoryStore) -> None:
    with pytest.raises(ExecutionNotFoundError):
        await store.acquire_lease("ghost", live_owner(), ttl_s=1)


async def test_append_with_a_stale_epoch_is_fenced(store: HistoryStore) -> None:
    await started(store, "e1")
    old = await store.acquire_lease("e1", "elsewhere:1:a", ttl_s=0.0)
    new = await store.acquire_lease("e1", live_owner(), ttl_s=30)
    assert old is not None
    assert new is not None
    with pytest.raises(LeaseLostError, match="another process"):
        await store.append([event("e1", 2)], epoch=old.epoch)
    assert [e.sequence for e in await store.read_journal("e1")] == [1]
    await store.append([event("e1", 2)], epoch=new.epoch)
    assert [e.sequence for e in await store.read_journal("e1")] == [1, 2]


# -- orphans -------------------------------------------------------------------------------------------------


async def test_list_orphans(store: HistoryStore) -> None:
    # alive: this process, valid lease
    await started(store, "alive")
    await store.acquire_lease("alive", live_owner(), ttl_s=60)
    # dead pid on this host, lease still valid
    await started(store, "dead")
    await store.acquire_lease("dead", f"{this_host()}:{dead_pid()}:n", ttl_s=3600)
    # another host, lease expired
    await started(store, "expired")
    await store.acquire_lease("expired", "far-away:7:n", ttl_s=0.0)
    # another host, lease valid
    await started(store, "remote")
    await store.acquire_lease("remote", "far-away:8:n", ttl_s=3600)
    # paused and nobody owns it
    await started(store, "paused")
    await store.append([event("paused", 2, EventType.EXECUTION_PAUSED)])
    # finished with a dead owner: not an orphan, nothing to do
    await started(store, "done")
    await store.acquire_lease("done", f"{this_host()}:{dead_pid()}:n", ttl_s=3600)
    await store.append([event("done", 2, EventType.EXECUTION_COMPLETE)])
    # created, never started
    await store.create_execution(record("pending"))
    orphans = {r.id for r in await store.list_orphans()}
    assert orphans == {"dead", "expired", "paused"}


# -- control requests -------------------------------------------------------------------------------------


async def test_control_requests_are_taken_once_oldest_first(store: HistoryStore) -> None:
    await started(store, "e1")
    await started(store, "e2")
    await store.request_control("e1", "pause", "lunch")
    await store.request_control("e2", "abort")
    await store.request_control("e1", "abort", "changed my mind")
    taken = await store.take_control_requests("e1")
    assert [(c.action, c.reason, c.execution_id) for c in taken] == [
        ("pause", "lunch", "e1"),
        ("abort", "changed my mind", "e1"),
    ]
    assert taken[0].id < taken[1].id
    assert taken[0].created_at > 0
    assert await store.take_control_requests("e1") == []
    assert [c.action for c in await store.take_control_requests("e2")] == ["abort"]
    assert await store.take_control_requests("missing") == []


async def test_control_requests_for_unknown_or_finished_executions(store: HistoryStore) -> None:
    with pytest.raises(ExecutionNotFoundError):
        await store.request_control("ghost", "abort")
    await started(store, "e1")
    await store.append([event("e1", 2, EventType.EXECUTION_COMPLETE)])
    with pytest.raises(InvalidTransitionError):
        await store.request_control("e1", "pause")


# -- retention and statistics ------------------------------------------------------------------------------


async def _finished(store: HistoryStore, eid: str, ended: float) -> None:
    await store.create_execution(record(eid, created_at=ended - 1))
    await store.append(
        [
            event(eid, 1, EventType.EXECUTION_START, ts=ended - 1),
            event(eid, 2, EventType.AGENT_RESPONSE, ts=ended - 0.5,
                  data={"call_key": "P/0/a/0/1", "response": {"text": "x" * 10_000}}),
            event(eid, 3, EventType.EXECUTION_COMPLETE, ts=ended),
        ]
    )


async def test_prune_keeps_the_newest_and_spares_running_ones(store: HistoryStore) -> None:
    now = time.time()
    for i in range(5):
        await _finished(store, f"old{i}", now - 1000 + i)
    await started(store, "running")
    assert await store.prune(keep=2) == 3
    left = {r.id for r in await store.list_executions(limit=100)}
    assert left == {"old3", "old4", "running"}
    assert await store.read_journal("old0") == []
    assert await store.completed_calls("old0") == {}
    assert await store.get_execution("old0") is None
    assert len(await store.completed_calls("old4")) == 1


async def test_prune_by_age_and_by_both(store: HistoryStore) -> None:
    now = time.time()
    await _finished(store, "ancient", now - 40 * 86400)
    await _finished(store, "old", now - 31 * 86400)
    await _finished(store, "recent", now - 60)
    # Both criteria: beyond the 2 newest (only "ancient") AND older than 35 days (it is).
    assert await store.prune(older_than_s=35 * 86400, keep=2) == 1
    assert {r.id for r in await store.list_executions()} == {"old", "recent"}
    # Beyond the newest 1 is "old", but it is younger than 35 days: kept.
    assert await store.prune(older_than_s=35 * 86400, keep=1) == 0


async def test_prune_by_age(store: HistoryStore) -> None:
    now = time.time()
    await _finished(store, "ancient", now - 40 * 86400)
    await _finished(store, "old", now - 31 * 86400)
    await _finished(store, "recent", now - 60)
    assert await store.prune(older_than_s=30 * 86400) == 2
    assert [r.id for r in await store.list_executions()] == ["recent"]
    assert await store.prune(older_than_s=30 * 86400) == 0


async def test_prune_needs_a_criterion(store: HistoryStore) -> None:
    with pytest.raises(ConfigurationError, match="older_than_s or keep"):
        await store.prune()
    with pytest.raises(ConfigurationError):
        await store.prune(keep=-1)


async def test_stats(store: HistoryStore) -> None:
    await _finished(store, "a", time.time())
    await started(store, "b")
    await store.create_execution(record("c"))
    stats = await store.stats()
    assert stats.executions == 3
    assert dict(stats.by_status) == {"completed": 1, "running": 1, "pending": 1}
    assert (stats.events, stats.agent_calls) == (4, 1)


async def test_open_and_close_are_idempotent(store: HistoryStore) -> None:
    await store.open()
    await store.open()
    await started(store, "e1")
    await store.close()
    await store.close()
