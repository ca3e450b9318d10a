"""Committee executions on a Ray cluster against one process; resume time after a node is lost; the
Monte Carlo step as Ray tasks beside benchmarks/monte_carlo.py's ways.

::

    python benchmarks/cluster.py                  # 24 committees at L = 20 ms, 1/2/3 worker nodes
    python benchmarks/cluster.py --n 60 --resumes 3
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

    schema = f"qb_{secrets.token_hex(6)}"
    url = schema_url(args.db, schema)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    report: dict[str, Any] = {"latency_ms": args.latency_ms}
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": STORE_MB, "include_dashboard": False,
        "_system_config": SYSTEM_CONFIG})
    try:
        report["runs"] = [await local(url, args.n, args.latency_ms)]
        ray.init(address=cluster.address, log_to_driver=False)
        for nodes in (1, 2, 3):
            cluster.add_node(num_cpus=1, resources={DRIVER_RESOURCE: 100}, object_store_memory=STORE_MB)
            cluster.wait_for_nodes()
            report["runs"].append(await on_cluster(cluster, url, args.n, args.latency_ms, nodes))
        resumed = await resumes(cluster, url, args.resumes, args.per_round, args.latency_ms)
        report["resume_s"] = {"samples": len(resumed), "p50": pct(resumed, 0.5), "p95": pct(resumed, 0.95),
                              "all": sorted(resumed)}
        report["monte_carlo"] = await monte_carlo(args.paths, args.horizon, args.concurrent)
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]  # Ray leaves it untyped
        await drop_schema(args.db, schema)
    return report


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
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.short:
        args.n, args.resumes, args.per_round, args.paths, args.horizon = 4, 1, 2, 2_000, 5
    report = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    base = report["runs"][0]
    print(f"committee executions at L = {args.latency_ms:g} ms, {base['calls']} agent calls each, "
          f"{args.n} at once")
    print(f"{'where':<12} {'nodes':>5} {'wall s':>8} {'exec/s':>8} {'mean s':>8} {'alone s':>8} "
          f"{'overhead ms/call':>17}")
    for r in report["runs"]:
        overhead = (r["single_s"] - base["single_s"]) / r["calls"] * 1000
        print(f"{r['where']:<12} {r['nodes']:>5} {r['wall_s']:>8.2f} {r['per_s']:>8.2f} {r['mean_s']:>8.2f} "
              f"{r['single_s']:>8.2f} {'' if r is base else f'{overhead:.1f}':>17}")
    rs = report["resume_s"]
    print(f"resume after a node is removed: {rs['samples']} executions taken over, p50 {rs['p50']:.2f} s, "
          f"p95 {rs['p95']:.2f} s")
    rows = report["monte_carlo"]
    print(f"Monte Carlo, {args.paths:,} paths of {args.horizon} bars; every way: VaR {rows[0]['var']:.4%} "
          f"CVaR {rows[0]['cvar']:.4%}")
    for r in rows:
        print(f"  {r['way']:<12} {r['calls']:>3} calls {r['wall_s']:>7.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
