"""Micro-benchmark of the journal (run by hand; not a test):

    /tmp/qv/bin/python tests/history/bench_journal.py [--executions 200] [--repeat 3]

The shared workload's shape (WORKLOAD.md): 7 phases, 18 agent calls per execution; each agent call
emits ``agent:start`` and ``agent:response`` (with its call key and a response dict like
``AgentResponse.to_dict()``), each phase ``phase:start``/``phase:complete`` and a checkpoint. Agents
take no time (L = 0), so what is measured is the cost of recording.

Events are recorded the way the engine's recorder does it: buffered per execution and written by a
flusher task with one ``append`` per wake-up, so agents never wait for the store. Three shapes:

- ``back-to-back``: 200 executions one after another (benchmark b of issue 7);
- ``concurrent``: 200 executions at once (benchmark c's shape, without the agents' sleep);
- ``per-event``: every event appended and awaited on its own, by 200 concurrent executions (the
  worst case for the store: no batching by the caller, group commit only).

Printed per backend: events/s, µs per agent call (wall / calls) and the cost over the in-memory
store per agent call.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from quorum.events import Event, EventType
from quorum.history.base import ExecutionRecord, HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import AgentId, ExecutionId, PhaseName

PHASES = [("Activation", 0), ("Analysis", 6), ("RoundTable", 5), ("Debate", 4), ("Validation", 2),
          ("Consensus", 0), ("Verdict", 1)]
CALLS = sum(n for _p, n in PHASES)


class Recorder:
    """Buffer events; one flusher task appends whatever gathered since its last write."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.batch: list[Event] = []
        self.wake = asyncio.Event()
        self.closed = False

    def emit(self, event: Event) -> None:
        self.batch.append(event)
        self.wake.set()

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.batch:
                batch, self.batch = self.batch, []
                await self.store.append(batch)
            if self.closed and not self.batch:
                return


def response(agent: str, i: int) -> dict[str, Any]:
    return {
        "agent_id": agent, "text": f"{agent} thinks the outlook is fine ({i})",
        "data": {"stance": "bullish", "score": 0.5 + i / 100}, "stance": "bullish",
        "recommendation": "buy", "confidence": 0.7, "rationale": None, "latency_ms": 0.0, "model": None,
        "tokens_in": 0, "tokens_out": 0, "cost_usd": None, "cached": False, "error": None,
    }


async def execution(store: HistoryStore, eid: str, *, per_event: bool) -> None:
    now = time.time()
    await store.create_execution(
        ExecutionRecord(
            id=ExecutionId(eid), task="committee", status="pending", created_at=now, updated_at=now
        )
    )
    seq = 0
    recorder = Recorder(store)
    flusher = None if per_event else asyncio.ensure_future(recorder.run())

    async def emit(type_: str, **fields: Any) -> None:
        nonlocal seq
        seq += 1
        event = Event(
            type=type_, execution_id=ExecutionId(eid), sequence=seq, timestamp=time.time(), **fields
        )
        if per_event:
            await store.append([event])
        else:
            recorder.emit(event)
            await asyncio.sleep(0)  # the agent call: L = 0, one loop turn

    await emit(EventType.EXECUTION_START)
    outputs: dict[str, Any] = {}
    for phase, n in PHASES:
        await emit(EventType.PHASE_START, phase=PhaseName(phase))
        for i in range(n):
            agent = f"{phase.lower()}-agent-{i}"
            key = f"{phase}/1/{agent}/0/1"
            await emit(EventType.AGENT_START, phase=PhaseName(phase), agent=AgentId(agent),
                       data={"call_key": key})
            await emit(EventType.AGENT_RESPONSE, phase=PhaseName(phase), agent=AgentId(agent),
                       duration_ms=0.0, data={"call_key": key, "response": response(agent, i)})
        outputs[phase] = {"stance": "bullish", "score": 0.6}
        await emit(EventType.PHASE_COMPLETE, phase=PhaseName(phase), data={"outputs": outputs[phase]})
        await emit(EventType.CHECKPOINT_CREATED, phase=PhaseName(phase),
                   data={"snapshot": {"completed": [phase]}})
    await emit(EventType.EXECUTION_COMPLETE, data={"verdict": {"decision": "buy"}})
    if flusher is not None:
        recorder.closed = True
        recorder.wake.set()
        await flusher


async def shape(name: str, store: HistoryStore, n: int) -> None:
    if name == "back-to-back":
        for i in range(n):
            await execution(store, f"x{i}", per_event=False)
    elif name == "concurrent":
        await asyncio.gather(*(execution(store, f"x{i}", per_event=False) for i in range(n)))
    else:
        await asyncio.gather(*(execution(store, f"x{i}", per_event=True) for i in range(n)))


async def measure(
    make: Callable[[Path], HistoryStore], name: str, n: int, tmp: Path
) -> tuple[float, int, int]:
    store = make(tmp)
    await store.open()
    started = time.perf_counter()
    await shape(name, store, n)
    wall = time.perf_counter() - started
    stats = await store.stats()
    commits = store.commits if isinstance(store, SQLiteHistoryStore) else 0
    await store.close()
    return wall, stats.events, commits


BACKENDS: dict[str, Callable[[Path], HistoryStore]] = {
    "memory": lambda tmp: MemoryHistoryStore(),
    "sqlite NORMAL": lambda tmp: SQLiteHistoryStore(tmp / "h.db"),
    "sqlite FULL": lambda tmp: SQLiteHistoryStore(tmp / "h.db", synchronous="FULL"),
}


def run(coro_fn: Callable[[], Awaitable[tuple[float, int, int]]]) -> tuple[float, int, int]:
    async def main() -> tuple[float, int, int]:
        return await coro_fn()

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", default="back-to-back,concurrent,per-event")
    args = parser.parse_args()
    n = args.executions
    print(f"{n} executions x {CALLS} agent calls; median of {args.repeat} runs (min-max)\n")
    print(f"{'shape':<14}{'backend':<15}{'wall s':>16}{'events/s':>11}{'us/call':>9}{'+us/call':>10}"
          f"{'commits':>9}")
    for name in args.shapes.split(","):
        base = None
        for backend, make in BACKENDS.items():
            walls = []
            events = commits = 0
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as tmp:
                    wall, events, commits = run(lambda: measure(make, name, n, Path(tmp)))  # noqa: B023
                walls.append(wall)
            med = statistics.median(walls)
            per_call = med / (n * CALLS) * 1e6
            if base is None:
                base = per_call
            print(f"{name:<14}{backend:<15}{med:>7.3f} ({min(walls):.2f}-{max(walls):.2f})"
                  f"{events / med:>11,.0f}{per_call:>9.1f}{per_call - base:>10.1f}{commits:>9}")
        print()


if __name__ == "__main__":
    main()
