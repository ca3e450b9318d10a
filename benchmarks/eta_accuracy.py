#!/usr/bin/env python3
"""How accurate the ETA is: replay recorded executions in time order, predict each from those before it.

    python benchmarks/eta_accuracy.py                       # 30 committees, built-in agents + latency
    python benchmarks/eta_accuracy.py --n 50 --latency-ms 40
    python benchmarks/eta_accuracy.py --db history.db --task investment-committee-meeting   # a real history
    python benchmarks/eta_accuracy.py --short               # 6 executions: that it runs (tests)

Without ``--db`` it first records ``--n`` runs of the shipped ``investment-committee-meeting`` task with
the built-in agents, each call delayed by a latency-injecting wrapper (every agent its own typical
latency, times log-normal noise, as remote models vary), into a SQLite history in a temporary folder.

Then, for every execution in the order they were created, it learns :class:`~quorum.telemetry.eta.EtaModel`
from the completed executions of the same task version created before it (``EtaModel.from_history(...,
before=...)``) and predicts its finish at the start and at each phase boundary, as a running execution
would be predicted. The error at a boundary is ``|predicted finish − actual finish| / actual duration``;
the table gives its mean (MAPE) per boundary, and at the halfway point (the boundary at which half the
phases had settled). Target (issue 22): ≤ 20 % at halfway.
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
    args = ap.parse_args()
    from quorum.history.sqlite import SQLiteHistoryStore

    if args.short:
        args.n, args.latency_ms = 6, 2.0
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteHistoryStore(Path(args.db) if args.db else Path(folder) / "history.db")
        await store.open()
        try:
            if not args.db:
                began = time.perf_counter()
                await record(store, args.n, args.latency_ms, args.sigma, args.seed)
                print(f"recorded {args.n} executions of {args.task} in {time.perf_counter() - began:.1f} s "
                      f"(typical agent latency {args.latency_ms:g} ms, noise sigma {args.sigma:g})")
            errors = await replay(store, args.task)
        finally:
            await store.close()
    if not errors:
        raise SystemExit(f"no completed execution of {args.task} to replay (need at least 2)")
    print(_table(errors))


if __name__ == "__main__":
    asyncio.run(main())
