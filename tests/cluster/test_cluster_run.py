"""Committee executions on a real Ray cluster (a head and two workers) against PostgreSQL: the same
verdicts and events as in one process; events followed and control given through the store."""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from quorum.cluster import ClusterExecutor, ClusterHandle, RayRunner, parse_cluster
from quorum.engine.executor import TaskExecutor
from quorum.errors import ConfigurationError, ExecutionNotFoundError, InvalidTransitionError
from quorum.history.postgres import PostgresHistoryStore
from tests.cluster.agents import LedgerAgents, drill_task
from tests.cluster.conftest import ROOT
from tests.cluster.inputs import committee_input
from tests.history.pg import fresh_schema

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

COMMITTEE = "investment-committee-meeting"
RUNS = 50
"""The issue's 50 committees (the three market shapes in turn), all started at once on the cluster."""


def comparable(verdict: dict[str, Any]) -> dict[str, Any]:
    """The verdict, its thesis cut to the rating and the net score. The thesis then names the three
    strongest claims, and among claims of equal strength the first in the order the parallel phase's
    answers arrived (memo.thesis sorts by strength only): on the cluster, where the quant-risk analyst
    answers from a Ray task, that order may differ. Everything else must be equal."""
    return {**verdict, "thesis": str(verdict["thesis"]).split(" — ", 1)[0]}


def shape_of(journal: list[Any]) -> collections.Counter[tuple[str, str | None, str | None]]:
    """What happened, without times and ids: the events by type, phase and agent."""
    return collections.Counter((e.type, e.phase, e.agent) for e in journal)


async def local_runs(url: str, seeds: range) -> dict[int, tuple[dict[str, Any], Any]]:
    store = PostgresHistoryStore(url)
    await store.open()
    out = {}
    try:
        async with TaskExecutor(tasks_dir=None, history_store=store) as executor:
            for seed in seeds:
                result = await executor.execute(COMMITTEE, committee_input(seed))
                out[seed] = (result.to_dict(), shape_of(await store.read_journal(result.id)))
    finally:
        await store.close()
    return out


def test_quorum_and_the_local_path_never_import_ray(tmp_path: Path) -> None:
    probe = textwrap.dedent("""
        import asyncio, sys
        import quorum, quorum.cluster, quorum.cli.app, quorum.cli.run_cmd
        from quorum.engine.executor import TaskExecutor
        from tests.cluster.agents import LedgerAgents, drill_task
        shape = (("Gather", 3, True), ("Decide", 1, False))
        agents = LedgerAgents(sys.argv[1], shape, delay_s=0.0)
        result = asyncio.run(TaskExecutor(tasks_dir=None, agent_manager=agents()).execute(
            drill_task(shape), {}))
        assert result.status.value == "completed", result.error
        assert "ray" not in sys.modules, "import quorum or a local run imported ray"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "ledger")], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


async def test_committees_on_the_cluster_equal_local_runs(ray_cluster: Any) -> None:
    seeds = range(RUNS)
    async with fresh_schema() as url:
        local = await local_runs(url, seeds)
        runner = RayRunner(ray_cluster.address, store_url=url, lease_ttl_s=5.0)
        async with ClusterExecutor(runner, tasks_dir=None) as cluster:
            handles = {seed: await cluster.start(COMMITTEE, committee_input(seed)) for seed in seeds}
            followed = [e async for e in handles[0].events()]
            results = dict(zip(seeds, await asyncio.gather(*(h.result() for h in handles.values())),
                               strict=True))
            drivers = await asyncio.gather(*(d.where.remote() for d in runner.drivers()))
            where = {str(w["node_id"]) for w in drivers}
            # the quant-risk analyst (executor: process) ran its Monte Carlo as Ray tasks
            assert sum(int(w["ray_task_calls"]) for w in drivers) >= RUNS
            store = cluster.history_store
            for seed, result in results.items():
                assert result.status.value == "completed", result.error
                expected, expected_shape = local[seed]
                assert comparable(result.to_dict()["verdict"]) == comparable(expected["verdict"])
                journal = await store.read_journal(result.id)
                assert shape_of(journal) == expected_shape
                assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
            journal = await store.read_journal(handles[0].id)
            assert [e.sequence for e in followed] == [e.sequence for e in journal]
            assert followed[-1].type == "execution:complete"
        runner.close()
    assert len(where) == 2, "the drivers are spread over both worker nodes"


async def until(predicate: Any, timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_pause_resume_and_abort_reach_the_driving_node(ray_cluster: Any, tmp_path: Path) -> None:
    shape = (("Gather", 4, True), ("Discuss", 12, False), ("Decide", 1, False))
    agents = LedgerAgents(str(tmp_path / "ledger"), shape, delay_s=0.1)
    async with fresh_schema() as url:
        runner = RayRunner(ray_cluster.address, store_url=url, agents=agents, control_poll_s=0.05)
        async with ClusterExecutor(runner, tasks_dir=None) as cluster:
            store = cluster.history_store
            paused = await cluster.start(drill_task(shape), {"seed": 1})
            aborted = await cluster.start(drill_task(shape), {"seed": 2})

            async def answered(handle: ClusterHandle) -> bool:
                return any(e.type == "agent:response" for e in await store.read_journal(handle.id))

            await until(lambda: answered(aborted))
            await cluster.abort_execution(aborted.id, "wrong inputs")
            await until(lambda: answered(paused))
            await cluster.pause_execution(paused.id, "a look first")

            async def is_paused() -> bool:
                return await paused.status() == "paused"

            await until(is_paused)
            await asyncio.sleep(0.5)
            still = await store.read_journal(paused.id)
            await asyncio.sleep(0.5)
            assert await store.read_journal(paused.id) == still, "a paused execution went on"
            assert await cluster.resume_execution(paused.id) is None  # its driver resumes it
            done, stopped = await paused.result(), await aborted.result()
            assert done.status.value == "completed", done.error
            assert stopped.status.value == "aborted"
            with pytest.raises(InvalidTransitionError):
                await cluster.pause_execution(done.id)
            with pytest.raises(ExecutionNotFoundError):
                await cluster.pause_execution("no-such-execution")
        runner.close()


def test_the_cluster_needs_postgres_and_a_well_formed_address() -> None:
    for url, said in (("sqlite:///h.db", "'sqlite'"), ("/tmp/h.db", "a file path (SQLite)"),
                      ("memory:", "'memory:'")):
        with pytest.raises(ConfigurationError) as caught:
            RayRunner("auto", store_url=url)
        assert "needs the PostgreSQL history store" in str(caught.value)
        assert said in str(caught.value)
        assert "--db postgresql://" in str(caught.value)
    for bad, why in (("http://head:10001", "unknown scheme 'http'"), ("ray://head:x", "port is not a number"),
                     ("head", "not HOST:PORT")):
        with pytest.raises(ConfigurationError, match=why) as caught:
            parse_cluster(bad)
        assert "ray://HOST:10001" in str(caught.value)
    assert parse_cluster("ray://head").address == "ray://head:10001"
    assert parse_cluster("10.0.0.5:6379").address == "10.0.0.5:6379"
