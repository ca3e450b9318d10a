"""``executor.recover()`` over PostgreSQL claims orphans in batches (``claim_orphans``, SKIP LOCKED):
two recoverers running at once share the orphans out, each resumed exactly once, and the rules of
``recover`` still hold (paused stay paused, refusals are reported, children are left to parents)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.engine import recovery
from quorum.engine.recovery import OrphanClaimer, Refusal
from quorum.engine.status import ExecutionStatus
from quorum.events import EventType
from quorum.history.base import HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.postgres import PostgresHistoryStore
from tests.engine.run_helpers import crash, executor_with, phase, prompt, task

from .helpers import dead_pid, event, record, this_host
from .pg import fresh_schema

pytestmark = [pytest.mark.integration]
CHILD = str(Path(__file__).with_name("recover_child.py"))

T = task(phase("A", prompt("a"), agents=("x",)), phase("B", prompt("b"), agents=("x",), depends_on="A"),
         phase("C", prompt("c"), agents=("x",), depends_on="B", outputs=("v",)))


async def _orphans(store: HistoryStore, n: int, *, paused: int = 0) -> list[str]:
    """``n`` real executions left running mid-phase B by a crashed driver (its lease expired); the
    first ``paused`` of them were paused before the crash."""
    blocked, all_in_b = asyncio.Event(), asyncio.Event()
    in_b: set[str] = set()

    async def agent(request: AgentRequest) -> dict[str, str]:
        if request.phase == "B":
            in_b.add(request.execution_id)
            if len(in_b) == n:
                all_in_b.set()
            await blocked.wait()  # the process "dies" during this call
        return {"v": "first"}

    ex = executor_with({"x": agent}, history_store=store, lease_ttl_s=0.05)
    handles = [await ex.start(T) for _ in range(n)]
    await asyncio.wait_for(all_in_b.wait(), 30)
    for handle in handles[:paused]:
        await handle.pause("paused before the crash")
    for i, handle in enumerate(handles):
        await _until_stored(store, handle.id, "paused" if i < paused else "running")
    for handle in handles:
        await crash(ex, handle.id)
    ids = [h.id for h in handles]
    for _ in range(500):  # until every lease has expired: they are orphans now
        if {r.id for r in await store.list_orphans()} >= set(ids):
            return ids
        await asyncio.sleep(0.01)
    left = [await store.get_execution(i) for i in set(ids) - {r.id for r in await store.list_orphans()}]
    raise AssertionError(f"the crashed executions never became orphans: {left}")


async def _until_stored(store: HistoryStore, execution_id: str, status: str) -> None:
    """Until the store has recorded ``status`` (appends are group-committed a little later)."""
    for _ in range(500):
        stored = await store.get_execution(execution_id)
        if stored is not None and stored.status == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{execution_id} never recorded as {status}")


def _counting(calls: Counter[str]) -> Any:
    def again(request: AgentRequest) -> dict[str, str]:
        calls[f"{request.execution_id} {request.key}"] += 1
        return {"v": "again"}
    return again


def test_the_postgres_store_is_an_orphan_claimer_and_the_memory_store_is_not() -> None:
    assert issubclass(PostgresHistoryStore, OrphanClaimer)
    assert not isinstance(MemoryHistoryStore(), OrphanClaimer)


async def test_two_recoverer_processes_share_the_orphans_each_resumed_once(tmp_path: Path) -> None:
    n = 40
    async with fresh_schema() as url:
        async with PostgresHistoryStore(url) as store:
            ids = await _orphans(store, n)
            assert len(await store.list_orphans()) == n
        go = tmp_path / "go"
        # Blocking Popen/communicate are fine here: the children work on their own, nothing of this
        # loop has to run meanwhile.
        procs = [subprocess.Popen([sys.executable, CHILD, url, str(go)],  # noqa: ASYNC220
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        try:
            for p in procs:
                assert p.stdout is not None
                assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
            go.touch()
            outputs = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        for p, (_out, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err
        lines = [out.splitlines() for out, _err in outputs]
        shares = [{ln.split()[1] for ln in out if ln.startswith("resumed ")} for out in lines]
        assert shares[0], f"both recoverers got some: {[len(s) for s in shares]}"
        assert shares[1], f"both recoverers got some: {[len(s) for s in shares]}"
        assert not shares[0] & shares[1], "no orphan was resumed by both"
        assert shares[0] | shares[1] == set(ids), "every orphan was resumed"
        for out in lines:
            assert all(ln.endswith(" completed") for ln in out if ln.startswith("resumed "))
            assert "leased 0" in out, "orphans were claimed in batches, not leased one by one"
            assert int(next(ln for ln in out if ln.startswith("claims ")).split()[1]) >= 2
        # Each orphan's interrupted call (B) and the next (C) ran exactly once, in one process.
        calls = Counter(ln.split(maxsplit=1)[1] for out in lines for ln in out if ln.startswith("call "))
        assert calls == Counter({f"{eid} {p}/0/x/0/1": 1 for eid in ids for p in ("B", "C")})
        async with PostgresHistoryStore(url) as store:
            for eid in ids:
                journal = await store.read_journal(eid)
                resumed = [e for e in journal
                           if e.type == EventType.EXECUTION_RESUMED and e.data.get("recovered")]
                assert len(resumed) == 1, eid
                assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
                assert journal[-1].type == EventType.EXECUTION_COMPLETE
            assert await store.list_orphans() == []


async def test_claimed_recovery_keeps_paused_parked_and_reports_refusals() -> None:
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        ids = await _orphans(store, 3, paused=1)
        # Left by another process (this one's own expired leases are taken one by one, not claimed).
        dead = f"{this_host()}:{dead_pid()}:n"
        for eid in ids:
            assert await store.acquire_lease(eid, dead, ttl_s=3600) is not None
        # An orphan whose history lacks its task definition can never be resumed: marked failed.
        await store.create_execution(record("broken"))
        await store.append([event("broken", 1, EventType.EXECUTION_START)])
        assert await store.acquire_lease("broken", dead, ttl_s=3600) is not None
        calls: Counter[str] = Counter()
        refused: list[Refusal] = []
        ex = executor_with({"x": _counting(calls)}, history_store=store)
        before = await store.get_execution(ids[0])
        assert before is not None
        handles = await asyncio.wait_for(ex.recover(on_refused=refused.append), 30)
        assert {h.id for h in handles} == set(ids[1:])
        paused = await store.get_execution(ids[0])
        assert paused is not None
        # never claimed: left as it was (not even its epoch changed), for `quorum resume`
        assert (paused.status, paused.owner, paused.epoch, paused.recovery_attempts) == (
            "paused", dead, before.epoch, before.recovery_attempts)
        assert [r.record.id for r in refused] == ["broken"]
        assert refused[0].marked_failed
        broken = await store.get_execution("broken")
        assert broken is not None
        assert broken.status == "failed"
        assert "task definition" in (broken.error or "")
        assert await ex.recover() == []  # the paused one is still left alone
        handle = await ex.resume_execution(ids[0])
        assert (await handle.result()).status is ExecutionStatus.COMPLETED


async def test_a_claimed_child_of_a_recovered_parent_is_released_for_its_parent() -> None:
    """A child of an orphaned parent is never claimed (its parent's step re-attaches to it: it is left
    as it was), and the batches still reach every orphan after it."""
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        dead = f"{this_host()}:{dead_pid()}:n"
        now = time.time()
        # parent, its child, then more orphans than one batch: with definitions that fail at once.
        names = ["parent", "child", *(f"o{i}" for i in range(recovery.CLAIM_BATCH + 2))]
        for i, eid in enumerate(names):
            fields: dict[str, Any] = {"parent_id": "parent"} if eid == "child" else {}
            await store.create_execution(record(eid, created_at=now + i, **fields))
            await store.append([event(eid, 1, EventType.EXECUTION_START)])
            assert await store.acquire_lease(eid, dead, ttl_s=3600) is not None
        refused: list[Refusal] = []
        ex = executor_with({}, history_store=store)
        before = await store.get_execution("child")
        assert before is not None
        assert await asyncio.wait_for(ex.recover(on_refused=refused.append), 30) == []
        # Every orphan but the child was tried (and refused: no task definition): claiming went past it.
        assert sorted(r.record.id for r in refused) == sorted(n for n in names if n != "child")
        child = await store.get_execution("child")
        assert child is not None
        # left as it was, for its parent's step to take over
        assert (child.status, child.owner, child.epoch, child.recovery_attempts) == (
            "running", dead, before.epoch, before.recovery_attempts)


async def test_orphans_of_this_process_are_still_recovered_one_by_one() -> None:
    """``claim_orphans`` skips rows this process's owner holds; their expired leases are taken as
    without claiming (``acquire_lease``), so none is left behind."""
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        ids = await _orphans(store, 2)
        calls: Counter[str] = Counter()
        ex = executor_with({"x": _counting(calls)}, history_store=store)
        handles = await asyncio.wait_for(ex.recover(), 30)
        assert {h.id for h in handles} == set(ids)
        for handle in handles:
            assert (await handle.result()).status is ExecutionStatus.COMPLETED
        assert await store.list_orphans() == []
