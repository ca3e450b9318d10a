"""Chaos on a real Ray cluster: the worker node driving executions is removed while they run.

Every execution still completes, with the verdict of an undisturbed local run; its journal has no gap;
no agent call the journal had recorded as completed before the takeover runs again (the agents' own
ledger says so); and no execution is ever driven by two processes at once (in the ledger, once a new
driver's calls begin, the old driver's never appear again).
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from quorum.cluster import ClusterExecutor, RayRunner
from quorum.engine.executor import TaskExecutor
from quorum.errors import LeaseLostError
from quorum.events import Event, EventType
from quorum.ids import ExecutionId
from tests.cluster.agents import LedgerAgents, drill_task
from tests.cluster.conftest import add_worker
from tests.history.pg import fresh_schema

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

SHAPE = (("Gather", 12, True), ("Discuss", 6, False), ("Review", 12, True), ("Decide", 1, False))
CALLS = sum(n for _name, n, _parallel in SHAPE)
ROUNDS = 2
PER_ROUND = 10
"""The issue's 20 runs: 2 rounds of 10 at once, each round losing the node that drives them."""
WIDE = 1000


def ledger(path: Path) -> list[tuple[str, str, int]]:
    """``(execution id, call key, pid)`` per call that really ran, in the order they ran."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        key, pid = line.split()
        eid, _, call = key.partition("/")
        out.append((eid, call, int(pid)))
    return out


async def until_calls_answered(store: Any, ids: list[str], *, at_least: int) -> None:
    """Until the executions' journals hold ``at_least`` agent answers in all (they are running)."""
    while True:
        answered = 0
        for eid in ids:
            answered += sum(e.type == EventType.AGENT_RESPONSE for e in await store.read_journal(eid))
        if answered >= at_least:
            return
        await asyncio.sleep(0.05)


async def driver_nodes(runner: RayRunner) -> set[str]:
    return {str(w["node_id"]) for w in await asyncio.gather(*(d.where.remote() for d in runner.drivers()))}


async def test_removing_the_driving_node_loses_nothing_and_reruns_nothing(ray_cluster: Any,
                                                                           tmp_path: Path) -> None:
    book = tmp_path / "ledger"
    task = drill_task(SHAPE)
    agents = LedgerAgents(str(book), SHAPE, delay_s=0.1)  # about 1 s an execution
    expected = {}
    for seed in range(ROUNDS * PER_ROUND):
        local = LedgerAgents(str(tmp_path / "local-ledger"), SHAPE, delay_s=0.0)
        result = await TaskExecutor(tasks_dir=None, agent_manager=local()).execute(task, {"seed": seed})
        expected[seed] = result.to_dict()["verdict"]
    rng = random.Random(20)
    resumed_after: list[float] = []
    async with fresh_schema() as url:
        runner = RayRunner(ray_cluster.address, store_url=url, agents=agents, lease_ttl_s=5.0,
                           control_poll_s=0.1)
        async with ClusterExecutor(runner, tasks_dir=None) as cluster:
            store = cluster.history_store
            ids: dict[str, int] = {}
            for round_ in range(ROUNDS):
                seeds = range(round_ * PER_ROUND, (round_ + 1) * PER_ROUND)
                handles = {seed: await cluster.start(task, {"seed": seed}) for seed in seeds}
                ids.update({h.id: seed for seed, h in handles.items()})
                running = [h.id for h in handles.values()]
                busy = await driver_nodes(runner)
                victim = next(n for n in ray_cluster.worker_nodes if n.node_id in busy)
                await until_calls_answered(store, running, at_least=rng.randint(1, 2 * PER_ROUND))
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                removed_at = time.time()
                ray_cluster.remove_node(victim)
                results = await asyncio.gather(*(h.result() for h in handles.values()))
                for seed, result in zip(seeds, results, strict=True):
                    assert result.status.value == "completed", result.error
                    assert result.to_dict()["verdict"] == expected[seed]
                for handle in handles.values():
                    journal = await store.read_journal(handle.id)
                    resumed = [e for e in journal if e.type == EventType.EXECUTION_RESUMED]
                    if resumed:
                        resumed_after.append(resumed[0].timestamp - removed_at)
                add_worker(ray_cluster)
                ray_cluster.wait_for_nodes()
            # the journals: no gap, one end; what completed before a takeover ran exactly once
            runs = ledger(book)
            taken_over = 0
            for eid in ids:
                journal = await store.read_journal(eid)
                assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
                assert sum(e.type == EventType.EXECUTION_COMPLETE for e in journal) == 1
                takeovers = [e.sequence for e in journal if e.type == EventType.EXECUTION_RESUMED]
                taken_over += bool(takeovers)
                first_takeover = takeovers[0] if takeovers else journal[-1].sequence + 1
                done_before = {str(e.data["call_key"]) for e in journal
                               if e.type == EventType.AGENT_RESPONSE and e.sequence < first_takeover}
                counts = collections.Counter(call for e, call, _pid in runs if e == eid)
                assert len(counts) == CALLS
                assert all(counts[call] == 1 for call in done_before), "a completed call ran again"
                assert max(counts.values()) <= 1 + len(takeovers)
                pids = [pid for e, _call, pid in runs if e == eid]
                drivers = [pid for i, pid in enumerate(pids) if i == 0 or pids[i - 1] != pid]
                assert len(drivers) == len(set(drivers)), f"{eid} was driven by two processes at once"
                assert len(set(drivers)) == 1 + len(takeovers)
                if takeovers:  # the first driver, were it to come back, is fenced off by its epoch
                    stale = Event(type=EventType.AGENT_RESPONSE, execution_id=ExecutionId(eid),
                                  sequence=journal[-1].sequence + 1, timestamp=time.time())
                    with pytest.raises(LeaseLostError):
                        await store.append([stale], epoch=1)
                    assert len(await store.read_journal(eid)) == len(journal)
        runner.close()
    assert taken_over >= ROUNDS, "each node removal must have hit executions in flight"
    print(f"taken over: {taken_over} of {len(ids)}; resumed after the removal (s): "
          f"{sorted(round(s, 2) for s in resumed_after)}")


async def until(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:  # a poll: the state is another process's writes
        if await predicate():
            return
        assert time.monotonic() < deadline, f"timed out waiting for {predicate.__name__}"
        await asyncio.sleep(0.05)


async def remove_a_driving_node(ray_cluster: Any, runner: RayRunner) -> None:
    busy = await driver_nodes(runner)
    ray_cluster.remove_node(next(n for n in ray_cluster.worker_nodes if n.node_id in busy))


def put_a_node_back(ray_cluster: Any) -> None:
    add_worker(ray_cluster)
    ray_cluster.wait_for_nodes()


@pytest.mark.parametrize("spread", [False, True], ids=["in-the-driver", "spread"])
async def test_a_wide_fan_out_loses_its_node_midway_and_asks_no_answered_call_again(
    ray_cluster: Any, tmp_path: Path, spread: bool
) -> None:
    """The issue's 1,000-wide fan-out (20 ms agents), its calls in the driver or spread over the call
    servers (which go with the driver that made them; its restart makes new ones)."""
    shape = (("Fan", WIDE, True), ("Decide", 1, False))
    book = tmp_path / "ledger"
    async with fresh_schema() as url:
        runner = RayRunner(ray_cluster.address, store_url=url, lease_ttl_s=5.0, drivers=1,
                           agents=LedgerAgents(str(book), shape, spread=30))
        async with ClusterExecutor(runner, tasks_dir=None) as cluster:
            store = cluster.history_store
            # spread: at most 100 in flight, so that the batches' answers come over a while
            task = drill_task(shape, spread=("Fan",), max_agents=100) if spread else drill_task(shape)
            handle = await cluster.start(task, {"seed": 3})
            await until_calls_answered(store, [handle.id], at_least=30)
            await remove_a_driving_node(ray_cluster, runner)
            result = await handle.result()
            assert result.status.value == "completed", result.error
            journal = await store.read_journal(handle.id)
            assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
            takeover = next(e.sequence for e in journal if e.type == EventType.EXECUTION_RESUMED)
            done_before = {str(e.data["call_key"]) for e in journal
                           if e.type == EventType.AGENT_RESPONSE and e.sequence < takeover}
            counts = collections.Counter(call for _e, call, _pid in ledger(book))
            assert len(counts) == WIDE + 1
            assert len(done_before) >= 30
            assert all(counts[call] == 1 for call in done_before), "an answered call was asked again"
        runner.close()
    put_a_node_back(ray_cluster)


async def test_a_paused_execution_whose_node_is_lost_stays_paused_until_resumed(
    ray_cluster: Any, tmp_path: Path
) -> None:
    shape = (("Gather", 3, True), ("Discuss", 10, False), ("Decide", 1, False))
    async with fresh_schema() as url:
        runner = RayRunner(ray_cluster.address, store_url=url, lease_ttl_s=5.0, control_poll_s=0.05,
                           agents=LedgerAgents(str(tmp_path / "ledger"), shape, delay_s=0.1), drivers=1)
        async with ClusterExecutor(runner, tasks_dir=None) as cluster:
            store = cluster.history_store
            handle = await cluster.start(drill_task(shape), {"seed": 4})
            await until_calls_answered(store, [handle.id], at_least=3)
            await cluster.pause_execution(handle.id, "hold")

            async def paused() -> bool:
                return await handle.status() == "paused"

            async def taken_over() -> bool:
                if handle.done:  # the driver's call ended: its error says why
                    await handle.result()
                record = await store.get_execution(handle.id)
                return record is not None and record.owner not in (None, first_owner)

            await until(paused)
            record = await store.get_execution(handle.id)
            assert record is not None
            first_owner = record.owner
            await remove_a_driving_node(ray_cluster, runner)
            await until(taken_over)  # the restarted driver holds its lease now, and it stays paused
            assert await handle.status() == "paused"
            before = len(await store.read_journal(handle.id))
            await asyncio.sleep(1.0)
            assert len(await store.read_journal(handle.id)) == before, "it went on while paused"
            assert await cluster.resume_execution(handle.id) is None  # the new driver holds it
            result = await handle.result()
            assert result.status.value == "completed", result.error
        runner.close()
    put_a_node_back(ray_cluster)
