#!/usr/bin/env python3
"""How accurate the ETA is: replay recorded executions in time order, predict each from those before it.

    python benchmarks/eta_accuracy.py                       # 30 committees, built-in agents + latency
    python benchmarks/eta_accuracy.py --n 50 --latency-ms 40
    python benchmarks/eta_accuracy.py --db history.db --task investment-committee-meeting   # a real history
    python benchmarks/eta_accuracy.py --short               # 6 executions: that it runs (tests)
    python benchmarks/eta_accuracy.py --skip-committee      # only the dry-run part (below)

Without ``--db`` it first records ``--n`` runs of the shipped ``investment-committee-meeting`` task with
the built-in agents, each call delayed by a latency-injecting wrapper (every agent its own typical
latency, times log-normal noise, as remote models vary), into a SQLite history in a temporary folder.

Then, for every execution in the order they were created, it learns :class:`~quorum.telemetry.eta.EtaModel`
from the completed executions of the same task version created before it (``EtaModel.from_history(...,
before=...)``) and predicts its finish at the start and at each phase boundary, as a running execution
would be predicted. The error at a boundary is ``|predicted finish − actual finish| / actual duration``;
the table gives its mean (MAPE) per boundary, and at the halfway point (the boundary at which half the
phases had settled). Target (issue 22): ≤ 20 % at halfway.

Second part, **work that grows with the inputs** (the dry run's estimate at the start): ``--n`` runs of
a ``panel`` task (an opening call, then a round table of as many agents as the input names, 1-8 drawn
at random, then a closing call), through the same latency-injecting wrapper. Each execution, in time
order, is predicted before it starts from the executions before it, two ways: the history's total
duration (p50: quantiles only, blind to the panel's size) and :func:`quorum.planning.dry_run` (the
phase's duration-per-call line at the planned number of calls, where the data supports one). The table
gives the MAPE of each.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

TASK = "investment-committee-meeting"


class LatencyInjected:
    """An agent directory that delays each call (agent's own typical latency × log-normal noise)."""

    def __init__(self, inner: Any, *, latency_ms: float, sigma: float, seed: int) -> None:
        self.inner = inner
        self.latency_ms = latency_ms
        self.sigma = sigma
        self.rng = random.Random(seed)
        self.typical: dict[str, float] = {}

    def has_agent(self, agent_id: str, /) -> bool:
        return bool(self.inner.has_agent(agent_id))

    def agent_ids(self) -> list[Any]:
        return list(self.inner.agent_ids())

    async def query(self, request: Any, /) -> Any:
        typical = self.typical.setdefault(request.agent_id, self.latency_ms * self.rng.uniform(0.5, 2.0))
        await asyncio.sleep(typical * math.exp(self.rng.gauss(0.0, self.sigma)) / 1000.0)
        return await self.inner.query(request)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


def _prices(rng: random.Random, n: int = 260) -> list[dict[str, Any]]:
    import datetime as dt

    price, rows = 100.0, []
    today = dt.datetime.now(dt.UTC).date()
    for i in range(n):
        price *= math.exp(rng.gauss(0.002, 0.015))
        rows.append({"date": (today - dt.timedelta(days=n - 1 - i)).isoformat(), "close": round(price, 4),
                     "volume": 50_000 + i})
    return rows


async def record(store: Any, n: int, latency_ms: float, sigma: float, seed: int) -> None:
    from quorum.agents.defaults import default_agent_manager
    from quorum.engine.executor import TaskExecutor

    rng = random.Random(seed)
    directory = LatencyInjected(default_agent_manager(), latency_ms=latency_ms, sigma=sigma, seed=seed)
    executor = TaskExecutor(tasks_dir=str(ROOT / "src" / "quorum" / "tasks"), agent_manager=directory,
                            history_store=store)
    try:
        for i in range(n):
            inputs = {"ticker": "XYZ", "amount": rng.choice([5_000, 10_000, 25_000]),
                      "riskTolerance": rng.choice(["low", "medium", "high"]), "portfolioValue": 250_000,
                      "prices": _prices(rng)}
            result = await executor.execute(TASK, inputs)
            if str(result.status) != "completed" and getattr(result.status, "value", "") != "completed":
                raise SystemExit(f"run {i} ended {result.status}: {str(result.error)[:500]}")
    finally:
        await executor.aclose()
        await directory.aclose()


async def replay(store: Any, task: str) -> dict[str, list[float]]:
    """Boundary label -> absolute percentage errors of the predicted finish."""
    from quorum.telemetry.eta import EtaModel, timeline_of

    records = await store.list_executions(limit=100_000, status="completed", task=task)
    records.sort(key=lambda r: r.created_at)
    errors: dict[str, list[float]] = {}
    for record in records:
        model = await EtaModel.from_history(store, task, record.task_hash, before=record.created_at)
        if model.basis == 0:
            continue
        journal = await store.read_journal(record.id)
        whole = timeline_of(journal)
        if whole is None or whole.ended is None or whole.total is None or whole.total <= 0:
            continue
        boundaries = [e for e in journal if e.type in ("execution:start", "phase:complete", "phase:skipped")]
        phases = len(whole.settled)
        for index, event in enumerate(boundaries):
            state = timeline_of(journal, until_sequence=event.sequence)
            assert state is not None
            eta = model.predict(record.id, state, now=event.timestamp)
            if eta is None:
                continue
            error = abs(eta.finish_at - whole.ended) / whole.total
            label = "start" if index == 0 else f"after {event.phase}"
            errors.setdefault(label, []).append(error)
            if index and index == math.ceil(phases / 2):
                errors.setdefault("halfway", []).append(error)
    return errors


PANEL = tuple(f"panellist-{i}" for i in range(1, 9))


def panel_task() -> Any:
    import dataclasses

    from quorum.definition.model import Phase, Step, StepKind, Task
    from quorum.ids import AgentId, PhaseName, TaskName

    def one(agent: str, text: str) -> Step:
        return Step(kind=StepKind.AGENT, index=0, agent=AgentId(agent), text=text, raw=text)

    phases = (
        Phase(name=PhaseName("Open"), steps=(one("host", "Open on {{ input.topic }}"),)),
        Phase(name=PhaseName("Panel"), depends_on=(PhaseName("Open"),), agent_expressions=("input.panel",),
              steps=(Step(kind=StepKind.PROMPT, index=0, text="Your view on {{ input.topic }}"),)),
        Phase(name=PhaseName("Close"), depends_on=(PhaseName("Panel"),), steps=(one("host", "Close"),)),
    )
    return dataclasses.replace(Task(name=TaskName("panel"), phases=phases), content_hash="panel-bench-v1")


async def panel_accuracy(store: Any, n: int, latency_ms: float, sigma: float,
                         seed: int) -> dict[str, list[float]]:
    """Record ``n`` panels of random size; the absolute percentage errors of the two predictions."""
    from quorum.engine.executor import TaskExecutor
    from quorum.planning import dry_run
    from quorum.telemetry.eta import EtaModel
    from quorum.testing import ScriptedAgent, make_manager

    rng = random.Random(seed + 1)
    inner = make_manager({a: ScriptedAgent({"view": a}) for a in ("host", *PANEL)})
    directory = LatencyInjected(inner, latency_ms=latency_ms, sigma=sigma, seed=seed + 1)
    executor = TaskExecutor(agent_manager=directory, history_store=store)
    task = panel_task()
    errors: dict[str, list[float]] = {"history total (quantiles)": [], "dry run (scaled)": []}
    try:
        for _ in range(n):
            wanted = {"topic": "rates", "panel": list(PANEL[:rng.randint(1, len(PANEL))])}
            model = await EtaModel.from_history(store, task.name, task.content_hash)
            plan = await dry_run(executor, task, wanted, model=model) if model.basis >= 2 else None
            result = await executor.execute(task, wanted)
            actual = (result.duration_ms or 0.0) / 1000.0
            if plan is None or model.total is None or actual <= 0 or plan.wall.p50 is None:
                continue
            errors["history total (quantiles)"].append(abs(model.total.p50 - actual) / actual)
            errors["dry run (scaled)"].append(abs(plan.wall.p50 - actual) / actual)
    finally:
        await executor.aclose()
    return errors


def _panel_table(errors: dict[str, list[float]]) -> str:
    rows = ["| prediction at the start of a panel (1-8 agents) | predictions | MAPE of the duration |",
            "|---|---:|---:|"]
    rows += [f"| {label} | {len(v)} | {100 * statistics.fmean(v):.1f} % |"
             for label, v in errors.items() if v]
    return "\n".join(rows)


def _table(errors: dict[str, list[float]]) -> str:
    rows = ["| boundary | predictions | MAPE of the finish time |", "|---|---:|---:|"]
    for label, values in errors.items():
        if label != "halfway":
            rows.append(f"| {label} | {len(values)} | {100 * statistics.fmean(values):.1f} % |")
    half = errors.get("halfway")
    if half:
        verdict = "meets" if statistics.fmean(half) <= 0.20 else "MISSES"
        mape = 100 * statistics.fmean(half)
        rows.append(f"| **halfway** | {len(half)} | **{mape:.1f} %** ({verdict} ≤ 20 %) |")
    return "\n".join(rows)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=30, help="executions to record (without --db)")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="typical agent latency")
    ap.add_argument("--sigma", type=float, default=0.3, help="log-normal noise of each call's latency")
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--db", help="replay this SQLite history instead of recording one")
    ap.add_argument("--task", default=TASK)
    ap.add_argument("--short", action="store_true", help="6 executions at 2 ms")
    ap.add_argument("--skip-committee", action="store_true", help="only the dry run's panel part")
    args = ap.parse_args()
    from quorum.history.sqlite import SQLiteHistoryStore

    if args.short:
        args.n, args.latency_ms = 6, 2.0
    with tempfile.TemporaryDirectory() as folder:
        errors: dict[str, list[float]] = {}
        if not args.skip_committee:
            store = SQLiteHistoryStore(Path(args.db) if args.db else Path(folder) / "history.db")
            await store.open()
            try:
                if not args.db:
                    began = time.perf_counter()
                    await record(store, args.n, args.latency_ms, args.sigma, args.seed)
                    print(f"recorded {args.n} executions of {args.task} in {time.perf_counter() - began:.1f} "
                          f"s (typical agent latency {args.latency_ms:g} ms, noise sigma {args.sigma:g})")
                errors = await replay(store, args.task)
            finally:
                await store.close()
            if not errors:
                raise SystemExit(f"no completed execution of {args.task} to replay (need at least 2)")
            print(_table(errors))
        panels = SQLiteHistoryStore(Path(folder) / "panels.db")
        await panels.open()
        try:
            began = time.perf_counter()
            panel_errors = await panel_accuracy(panels, args.n, args.latency_ms, args.sigma, args.seed)
        finally:
            await panels.close()
        print(f"\nrecorded {args.n} panels in {time.perf_counter() - began:.1f} s")
        print(_panel_table(panel_errors))


if __name__ == "__main__":
    asyncio.run(main())
