"""The quant-risk analyst's Monte Carlo step: in the loop (blocking), in a thread, in worker processes.

::

    python benchmarks/monte_carlo.py                 # 100,000 paths of 30 bars, 1 and 4 calls at once
    python benchmarks/monte_carlo.py --paths 20000   # the analyst's default size
    python benchmarks/monte_carlo.py --short         # tiny sizes (a smoke run)

Each way computes the same bootstrap (same data, same seed) and must give the same numbers; the table
gives the wall time of one call and of ``--concurrent`` calls at once, and the event loop's longest
stall while they ran (a ticker every 5 ms): what an execution's other agents and the live view feel.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
from typing import Any

from quorum.agents.builtin.monte_carlo import bootstrap_tail, seed_for
from quorum.agents.protocol import AgentRequest
from quorum.agents.workers import ProcessAgent, WorkerPool
from quorum.definition.model import frozen_mapping
from quorum.ids import AgentId, ExecutionId, PhaseName

FUNCTION = "python:benchmarks.monte_carlo:simulate"


def closes(n: int = 500) -> list[float]:
    rng, price, out = random.Random(5), 100.0, []
    for _ in range(n):
        price *= math.exp(rng.gauss(0.0003, 0.025))
        out.append(price)
    return out


def simulate(request: AgentRequest) -> dict[str, Any]:
    """The agent function: one bootstrap over the request's sizes."""
    cs = closes()
    horizon, paths = int(request.context["horizon"]), int(request.context["paths"])
    tail = bootstrap_tail(cs, horizon_bars=horizon, paths=paths, seed=seed_for("BENCH", cs, horizon))
    assert tail is not None
    return {"var": tail.var, "cvar": tail.cvar}


def _request(horizon: int, paths: int) -> AgentRequest:
    return AgentRequest(agent_id=AgentId("mc"), prompt="", execution_id=ExecutionId("bench"),
                        phase=PhaseName("Risk"), context=frozen_mapping({"horizon": horizon, "paths": paths}))


async def _timed(way: str, n: int, request: AgentRequest, pool: WorkerPool) -> dict[str, Any]:
    stall = 0.0
    loop = asyncio.get_running_loop()

    async def tick() -> None:
        nonlocal stall
        last = loop.time()
        while True:
            await asyncio.sleep(0.005)
            now = loop.time()
            stall = max(stall, now - last - 0.005)
            last = now

    ticker = asyncio.ensure_future(tick())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    if way == "in the loop":
        answers = [simulate(request) for _ in range(n)]
    elif way == "threads":
        answers = list(await asyncio.gather(*(asyncio.to_thread(simulate, request) for _ in range(n))))
    else:
        agent = ProcessAgent("mc", FUNCTION, pool=pool)
        answers = [dict(a.data) for a in await asyncio.gather(*(agent.query(request) for _ in range(n)))]
    wall = time.perf_counter() - started
    ticker.cancel()
    return {"way": way, "calls": n, "wall_s": wall, "stall_ms": stall * 1000,
            "var": answers[0]["var"], "cvar": answers[0]["cvar"]}


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    request = _request(args.horizon, args.paths)
    pool = WorkerPool(size=args.concurrent)
    try:
        await ProcessAgent("mc", FUNCTION, pool=pool).query(_request(1, 10))  # workers started and warm
        await asyncio.gather(*(ProcessAgent("mc", FUNCTION, pool=pool).query(_request(1, 10))
                               for _ in range(args.concurrent)))
        rows = []
        for n in (1, args.concurrent):
            for way in ("in the loop", "threads", "worker processes"):
                rows.append(await _timed(way, n, request, pool))
        return rows
    finally:
        pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.short:
        args.paths, args.horizon, args.concurrent = 2_000, 5, 2
    rows = asyncio.run(main_async(args))
    numbers = {(r["var"], r["cvar"]) for r in rows}
    if len(numbers) != 1:
        raise SystemExit(f"the ways disagree: {numbers}")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"bootstrap VaR/CVaR, {args.paths:,} paths of {args.horizon} bars; every way: "
          f"VaR {rows[0]['var']:.4%} CVaR {rows[0]['cvar']:.4%}")
    print(f"{'way':<18} {'calls':>5} {'wall s':>8} {'loop stall ms':>14}")
    for r in rows:
        print(f"{r['way']:<18} {r['calls']:>5} {r['wall_s']:>8.2f} {r['stall_ms']:>14.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
