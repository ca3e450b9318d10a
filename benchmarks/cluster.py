"""Committee executions on a Ray cluster against one process; a wide fan-out spread over the nodes
against one process; resume time after a node is lost; the Monte Carlo step as Ray tasks beside
benchmarks/monte_carlo.py's ways. Every time is also given as a ratio to its *floor*: the same waits
as bare ``asyncio.sleep`` calls in this process, measured in the same run.

::

    python benchmarks/cluster.py                  # 24 committees at L = 20 ms, 1/2/3 worker nodes,
                                                  # and a 10,000-wide fan-out at L = 10 ms
    python benchmarks/cluster.py --n 60 --resumes 3 --fanout 2000
    python benchmarks/cluster.py --only fanout    # one part: committee, fanout, resume, monte-carlo
    python benchmarks/cluster.py --short          # tiny sizes (a smoke run)

A real Ray cluster on this machine (``ray.cluster_utils.Cluster``: a head that takes no work and 1, then
2, then 3 worker nodes of one CPU each) and the PostgreSQL history store (``--db``, default the tests'
server, a fresh schema dropped after). Every agent call waits ``--latency-ms`` before the built-in
specialist answers, on the node or in the local process alike.

- *executions/s*: ``--n`` committees started at once, until the last result;
- *per-call overhead*: (time of one committee alone on the cluster − in one process) / its agent
  calls — what driving from a node (and the quant-risk analyst's Monte Carlo as a Ray task) costs each
  call beyond the local run; *mean s* is an execution's time with ``--n`` in flight;
- *resume after node loss*: ``--resumes`` rounds; each removes the node driving executions in flight,
  then measures, for each execution taken over, the time from the removal to its ``execution:resumed``
  event (Ray's detection of the lost node, the driver's restart elsewhere, the lease);
- *fan-out*: a task of one parallel phase of ``--fanout`` agents (then one more agent), each call
  ``--fanout-latency-ms``, in one process and on 1, 2, 3 nodes with the phase spread over them
  (``cluster: {spread: [Fan]}``: its calls go to the nodes' call servers) and, on 2 nodes, not spread
  (every call in the driver's process); the floor is ``asyncio.gather`` of as many sleeps, then one;
- *Monte Carlo*: the bootstrap of benchmarks/monte_carlo.py in the loop and as Ray tasks, 1 and
  ``--concurrent`` calls; the numbers must agree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from quorum.agents.protocol import AgentDirectory, AgentRequest, AgentResponse  # noqa: E402

TASK = "investment-committee-meeting"
STORE_MB = 100 * 1024 * 1024
SYSTEM_CONFIG = {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
                 "health_check_initial_delay_ms": 0}


class _Latent:
    def __init__(self, inner: AgentDirectory, latency_s: float) -> None:
        self.inner, self.latency_s = inner, latency_s

    def has_agent(self, agent_id: str, /) -> bool:
        return self.inner.has_agent(agent_id)

    def agent_ids(self) -> list[Any]:
        return list(self.inner.agent_ids())

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        await asyncio.sleep(self.latency_s)
        return await self.inner.query(request)


@dataclass(frozen=True, slots=True)
class LatentAgents:
    """The built-in agents, each call ``latency_ms`` late (built on every node from this module)."""

    latency_ms: float

    def __call__(self) -> AgentDirectory:
        from quorum.agents.defaults import default_agent_manager

        return _Latent(default_agent_manager(), self.latency_ms / 1000.0)


@dataclass(frozen=True, slots=True)
class SleepAgents:
    """``fan-0`` .. ``fan-<width-1>`` and ``decide-0``, each answering after ``latency_ms``, having
    first kept its process's CPU busy for ``cpu_ms`` (parsing a large answer, say). An AgentManager,
    so that a spread phase's calls can go to the call servers."""

    latency_ms: float
    width: int
    cpu_ms: float = 0.0

    def __call__(self) -> AgentDirectory:
        from quorum.agents.manager import AgentManager

        manager = AgentManager()
        delay, cpu_s = self.latency_ms / 1000.0, self.cpu_ms / 1000.0

        async def answer(request: AgentRequest) -> dict[str, Any]:
            busy_until = time.perf_counter() + cpu_s
            while time.perf_counter() < busy_until:  # the agent's own work, holding its process
                pass
            await asyncio.sleep(delay)
            return {"value": request.agent_id}

        for i in range(self.width):
            manager.register(f"fan-{i}", answer)
        manager.register("decide-0", answer)
        return manager


def fan_task(width: int, *, spread: bool) -> Any:
    from tests.cluster.agents import drill_task

    return drill_task((("Fan", width, True), ("Decide", 1, False)), spread=("Fan",) if spread else ())


async def fan_floor(width: int, latency_ms: float) -> float:
    """The fan-out's waits alone: ``width`` sleeps at once, then one."""
    started = time.perf_counter()
    await asyncio.gather(*(asyncio.sleep(latency_ms / 1000.0) for _ in range(width)))
    await asyncio.sleep(latency_ms / 1000.0)
    return time.perf_counter() - started


async def committee_floor(n: int, latency_ms: float) -> float:
    """``n`` committees' waits alone, at once: each phase in order, a parallel phase's calls at once,
    the others one by one, a debate's rounds one after another (no agent's own work, no engine)."""
    from quorum.definition.model import StepKind
    from quorum.engine.executor import TaskExecutor

    task = TaskExecutor(tasks_dir=None).load_task(TASK)
    delay = latency_ms / 1000.0

    async def one() -> None:
        for phase in task.phases:
            for step in phase.steps:
                if step.kind is StepKind.AGENT:
                    await asyncio.sleep(delay)
                elif step.kind is StepKind.PROMPT:
                    for _ in range(phase.rounds):
                        if phase.parallel:
                            await asyncio.gather(*(asyncio.sleep(delay) for _ in phase.agents))
                        else:
                            for _agent in phase.agents:
                                await asyncio.sleep(delay)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - started


async def fan_local(url: str, width: int, latency_ms: float, cpu_ms: float) -> dict[str, Any]:
    from quorum.engine.executor import TaskExecutor
    from quorum.history.postgres import PostgresHistoryStore

    store = PostgresHistoryStore(url)
    await store.open()
    try:
        async with TaskExecutor(tasks_dir=None, agent_manager=SleepAgents(latency_ms, width, cpu_ms)(),
                                history_store=store) as executor:
            await executor.execute(fan_task(10, spread=False), {})  # warm
            started = time.perf_counter()
            result = await executor.execute(fan_task(width, spread=False), {})
            wall = time.perf_counter() - started
            assert result.ok, result.error
    finally:
        await store.close()
    return {"where": "one process", "nodes": 0, "spread": False, "wall_s": wall}


async def fan_cluster(cluster: Any, url: str, width: int, latency_ms: float, cpu_ms: float, nodes: int,
                      spread: bool) -> dict[str, Any]:
    from quorum.cluster import ClusterExecutor, RayRunner

    runner = RayRunner(cluster.address, store_url=url, agents=SleepAgents(latency_ms, width, cpu_ms),
                       drivers=1)
    try:
        async with ClusterExecutor(runner, tasks_dir=None) as executor:
            warm = await executor.execute(fan_task(10, spread=spread), {})  # the driver, its call servers
            assert warm.ok, warm.error
            started = time.perf_counter()
            result = await executor.execute(fan_task(width, spread=spread), {})
            wall = time.perf_counter() - started
            assert result.ok, result.error
            (driver,) = runner.drivers()
            servers = await driver.call_servers.remote()
    finally:
        runner.close()
    return {"where": "ray", "nodes": nodes, "spread": spread, "wall_s": wall,
            "servers": len({s["node_id"] for s in servers if s["calls"]})}


def committee_input(seed: int) -> dict[str, Any]:
    from tests.cluster.inputs import committee_input as made

    return made(seed)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def one_at_a_time(executor: Any, runs: int = 3) -> float:
    """The mean time of one committee alone (no other execution in flight)."""
    times = []
    for seed in range(runs):
        t0 = time.perf_counter()
        result = await executor.execute(TASK, committee_input(seed))
        assert result.ok, result.error
        times.append(time.perf_counter() - t0)
    return statistics.mean(times)


async def local(url: str, n: int, latency_ms: float) -> dict[str, Any]:
    from quorum.engine.executor import TaskExecutor
    from quorum.history.postgres import PostgresHistoryStore

    store = PostgresHistoryStore(url)
    await store.open()
    try:
        async with TaskExecutor(tasks_dir=None, agent_manager=LatentAgents(latency_ms)(),
                                history_store=store) as executor:
            await executor.execute(TASK, committee_input(0))  # warm
            single = await one_at_a_time(executor)
            started = time.perf_counter()

            async def one(seed: int) -> tuple[float, int]:
                t0 = time.perf_counter()
                result = await executor.execute(TASK, committee_input(seed))
                assert result.ok, result.error
                return time.perf_counter() - t0, result.usage.calls

            timed = await asyncio.gather(*(one(seed) for seed in range(n)))
            wall = time.perf_counter() - started
    finally:
        await store.close()
    return {"where": "one process", "nodes": 0, "n": n, "wall_s": wall, "per_s": n / wall,
            "mean_s": statistics.mean(t for t, _ in timed), "single_s": single, "calls": timed[0][1]}


async def on_cluster(cluster: Any, url: str, n: int, latency_ms: float, nodes: int) -> dict[str, Any]:
    from quorum.cluster import ClusterExecutor, RayRunner

    runner = RayRunner(cluster.address, store_url=url, agents=LatentAgents(latency_ms), drivers=nodes)
    try:
        async with ClusterExecutor(runner, tasks_dir=None) as executor:
            await asyncio.gather(*(executor.execute(TASK, committee_input(s)) for s in range(nodes)))  # warm
            single = await one_at_a_time(executor)
            started = time.perf_counter()

            async def one(seed: int) -> tuple[float, int]:
                t0 = time.perf_counter()
                result = await executor.execute(TASK, committee_input(seed))
                assert result.ok, result.error
                return time.perf_counter() - t0, result.usage.calls

            timed = await asyncio.gather(*(one(seed) for seed in range(n)))
            wall = time.perf_counter() - started
    finally:
        runner.close()
    return {"where": "ray", "nodes": nodes, "n": n, "wall_s": wall, "per_s": n / wall,
            "mean_s": statistics.mean(t for t, _ in timed), "single_s": single, "calls": timed[0][1]}


async def until_answered(store: Any, ids: list[str], at_least: int) -> None:
    """Until the executions' journals hold ``at_least`` agent answers in all (they are running)."""
    from quorum.events import EventType

    while True:  # a poll: the journals are another process's writes
        journals = [await store.read_journal(eid) for eid in ids]
        if sum(e.type == EventType.AGENT_RESPONSE for j in journals for e in j) >= at_least:
            return
        await asyncio.sleep(0.02)


async def resumes(cluster: Any, url: str, rounds: int, per_round: int, latency_ms: float) -> list[float]:
    """Seconds from a node's removal to each taken-over execution's ``execution:resumed``."""
    from quorum.cluster import DRIVER_RESOURCE, ClusterExecutor, RayRunner
    from quorum.events import EventType

    out: list[float] = []
    runner = RayRunner(cluster.address, store_url=url, agents=LatentAgents(latency_ms), lease_ttl_s=5.0)
    try:
        async with ClusterExecutor(runner, tasks_dir=None) as executor:
            store = executor.history_store
            for r in range(rounds):
                handles = [await executor.start(TASK, committee_input(100 * r + i)) for i in range(per_round)]
                busy = {str(w["node_id"]) for w in await asyncio.gather(*(d.where.remote()
                                                                         for d in runner.drivers()))}
                await until_answered(store, [h.id for h in handles], per_round)
                victim = next(node for node in cluster.worker_nodes if node.node_id in busy)
                removed = time.time()
                cluster.remove_node(victim)
                results = await asyncio.gather(*(h.result() for h in handles))
                assert all(res.ok for res in results), [res.error for res in results]
                for h in handles:
                    journal = await store.read_journal(h.id)
                    resumed = [e for e in journal if e.type == EventType.EXECUTION_RESUMED]
                    if resumed:
                        out.append(resumed[0].timestamp - removed)
                cluster.add_node(num_cpus=1, resources={DRIVER_RESOURCE: 100}, object_store_memory=STORE_MB)
                cluster.wait_for_nodes()
    finally:
        runner.close()
    return out


async def monte_carlo(paths: int, horizon: int, concurrent: int) -> list[dict[str, Any]]:
    from benchmarks.monte_carlo import FUNCTION, _request, simulate

    from quorum.agents.workers import ProcessAgent
    from quorum.cluster import RayTaskPool

    request = _request(horizon, paths)
    agent = ProcessAgent("mc", FUNCTION, pool=RayTaskPool())
    await agent.query(_request(1, 10))  # a Ray worker started and warm
    rows = []
    for n in (1, concurrent):
        started = time.perf_counter()
        answers = [simulate(request) for _ in range(n)]
        rows.append({"way": "in the loop", "calls": n, "wall_s": time.perf_counter() - started, **answers[0]})
        started = time.perf_counter()
        got = [dict(a.data) for a in await asyncio.gather(*(agent.query(request) for _ in range(n)))]
        rows.append({"way": "ray tasks", "calls": n, "wall_s": time.perf_counter() - started, **got[0]})
    if len({(r["var"], r["cvar"]) for r in rows}) != 1:
        raise SystemExit(f"the ways disagree: {rows}")
    return rows


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    import ray
    from ray.cluster_utils import Cluster
    from tests.history.pg import drop_schema, schema_url

    from quorum.cluster import DRIVER_RESOURCE

    parts = set(args.only or PARTS)
    schema = f"qb_{secrets.token_hex(6)}"
    url = schema_url(args.db, schema)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    report: dict[str, Any] = {"latency_ms": args.latency_ms, "runs": [], "fanout": []}
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": STORE_MB, "include_dashboard": False,
        "_system_config": SYSTEM_CONFIG})
    try:
        if "committee" in parts:
            report["committee_floor_s"] = await committee_floor(args.n, args.latency_ms)
            report["runs"].append(await local(url, args.n, args.latency_ms))
        if "fanout" in parts:
            report["fanout_floor_s"] = await fan_floor(args.fanout, args.fanout_latency_ms)
            report["fanout"].append(await fan_local(url, args.fanout, args.fanout_latency_ms,
                                                    args.fanout_cpu_ms))
        ray.init(address=cluster.address, log_to_driver=False)
        for nodes in (1, 2, 3):
            cluster.add_node(num_cpus=1, resources={DRIVER_RESOURCE: 100}, object_store_memory=STORE_MB)
            cluster.wait_for_nodes()
            if "committee" in parts:
                report["runs"].append(await on_cluster(cluster, url, args.n, args.latency_ms, nodes))
            if "fanout" in parts:
                for spread in (True, False) if nodes == 2 else (True,):
                    report["fanout"].append(await fan_cluster(
                        cluster, url, args.fanout, args.fanout_latency_ms, args.fanout_cpu_ms, nodes, spread))
        if "resume" in parts:
            resumed = await resumes(cluster, url, args.resumes, args.per_round, args.latency_ms)
            report["resume_s"] = {"samples": len(resumed), "p50": pct(resumed, 0.5),
                                  "p95": pct(resumed, 0.95), "all": sorted(resumed)}
        if "monte-carlo" in parts:
            report["monte_carlo"] = await monte_carlo(args.paths, args.horizon, args.concurrent)
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]  # Ray leaves it untyped
        await drop_schema(args.db, schema)
    return report


PARTS = ("committee", "fanout", "resume", "monte-carlo")


def print_report(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if report["runs"]:
        base, floor = report["runs"][0], report["committee_floor_s"]
        print(f"committee executions at L = {args.latency_ms:g} ms, {base['calls']} agent calls each, "
              f"{args.n} at once; floor (their waits as bare asyncio sleeps) {floor:.2f} s")
        print(f"{'where':<12} {'nodes':>5} {'wall s':>8} {'× floor':>8} {'exec/s':>8} {'mean s':>8} "
              f"{'alone s':>8} {'overhead ms/call':>17}")
        for r in report["runs"]:
            overhead = (r["single_s"] - base["single_s"]) / r["calls"] * 1000
            print(f"{r['where']:<12} {r['nodes']:>5} {r['wall_s']:>8.2f} {r['wall_s'] / floor:>8.1f} "
                  f"{r['per_s']:>8.2f} {r['mean_s']:>8.2f} {r['single_s']:>8.2f} "
                  f"{'' if r is base else f'{overhead:.1f}':>17}")
    if report["fanout"]:
        floor = report["fanout_floor_s"]
        cpu = f" after {args.fanout_cpu_ms:g} ms of CPU each" if args.fanout_cpu_ms else ""
        print(f"fan-out of {args.fanout:,} agents at L = {args.fanout_latency_ms:g} ms{cpu}, then one; "
              f"floor (the waits alone) {floor:.3f} s")
        print(f"{'where':<12} {'nodes':>5} {'spread':>7} {'wall s':>8} {'× floor':>8} {'calls/s':>9}")
        for r in report["fanout"]:
            print(f"{r['where']:<12} {r['nodes']:>5} {'yes' if r['spread'] else 'no':>7} {r['wall_s']:>8.2f} "
                  f"{r['wall_s'] / floor:>8.1f} {(args.fanout + 1) / r['wall_s']:>9.0f}")
    if "resume_s" in report:
        rs = report["resume_s"]
        print(f"resume after a node is removed: {rs['samples']} executions taken over, "
              f"p50 {rs['p50']:.2f} s, p95 {rs['p95']:.2f} s")
    if "monte_carlo" in report:
        rows = report["monte_carlo"]
        print(f"Monte Carlo, {args.paths:,} paths of {args.horizon} bars; every way: "
              f"VaR {rows[0]['var']:.4%} CVaR {rows[0]['cvar']:.4%}")
        for r in rows:
            print(f"  {r['way']:<12} {r['calls']:>3} calls {r['wall_s']:>7.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=24, help="committees per configuration")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--resumes", type=int, default=3, help="node removals")
    parser.add_argument("--per-round", type=int, default=8, help="executions in flight at each removal")
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--db", default=os.environ.get("QUORUM_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test"))
    parser.add_argument("--fanout", type=int, default=10_000, help="agents of the fan-out's phase")
    parser.add_argument("--fanout-latency-ms", type=float, default=10.0)
    parser.add_argument("--fanout-cpu-ms", type=float, default=0.0,
                        help="CPU each fan-out call keeps busy in its agent's process")
    parser.add_argument("--only", action="append", choices=PARTS, help="run this part (repeatable)")
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.short:
        args.n, args.resumes, args.per_round, args.paths, args.horizon = 4, 1, 2, 2_000, 5
        args.fanout = 200
    report = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(args, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
