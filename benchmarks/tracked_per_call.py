#!/usr/bin/env python3
"""Objects the garbage collector tracks per agent call in flight, by type, in a 1,000-wide fan-out.

    python benchmarks/tracked_per_call.py [--tree DIR] [--n 1000]

Every full collection walks each of them, so this count is what a wide fan-out's collector time grows
with. It is exact and repeatable (no timing): a change shows its effect here even on a noisy machine.
``--tree`` measures another checkout (its ``src``), e.g. a ``git worktree`` of an older commit.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(args.tree) / "src"))
    asyncio.run(_count(args.n))


async def _count(n: int) -> None:
    from quorum.definition.model import Phase, Step, StepKind, Task
    from quorum.engine.executor import TaskExecutor
    from quorum.history.memory import MemoryHistoryStore
    from quorum.ids import AgentId, PhaseName, TaskName
    from quorum.testing import make_manager

    gate = asyncio.Event()

    async def agent(request: Any) -> dict[str, Any]:
        await gate.wait()
        return {"v": 1}

    ids = [f"w{i}" for i in range(n)]
    task = Task(name=TaskName("fan-out"), source="fan-out.md", phases=(Phase(
        name=PhaseName("P"), parallel=True, agents=tuple(AgentId(i) for i in ids),
        steps=(Step(index=0, line=1, raw="x", kind=StepKind.PROMPT, text="x"),)),))
    executor = TaskExecutor(agent_manager=make_manager(dict.fromkeys(ids, agent)),
                            history_store=MemoryHistoryStore())
    gate.set()
    await executor.execute(task, {})  # warm-up: what a process makes once
    gate.clear()
    gc.collect()
    before = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    handle = await executor.start(task, {})
    for _ in range(20):
        await asyncio.sleep(0.01)
    gc.collect()
    during = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    added = during - before
    print(f"tracked objects per call in flight: {sum(added.values()) / n:.2f}")
    for kind, count in added.most_common(12):
        print(f"  {kind:28s} {count / n:5.2f}")
    gate.set()
    await handle.result()
    await executor.aclose()


if __name__ == "__main__":
    main()
