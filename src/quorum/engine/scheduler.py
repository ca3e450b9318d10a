"""PhaseScheduler: the phase DAG of one execution, and nothing else.

A phase is handed to ``run_phase`` as soon as every dependency is settled (completed, skipped, or an
optional phase that failed) and fewer than ``max_concurrent`` phases run; they run in one task group,
so the first to raise cancels the others. Phases settled before the run (restored from a
checkpoint, or rebuilt from a journal) are not run again. An unknown dependency or a dependency cycle
fails the execution, naming the phases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from quorum.definition.model import Phase, Task
from quorum.engine.results import PhaseResult
from quorum.engine.status import PhaseStatus
from quorum.errors import PhaseFailedError
from quorum.ids import PhaseName

__all__ = ("PhaseScheduler",)


class PhaseScheduler:
    __slots__ = (
        "_dependents", "_group", "_max_concurrent", "_optional", "_ready", "_results", "_run_phase",
        "_running", "_task", "_waiting_on"
    )

    def __init__(
        self,
        task: Task,
        results: Mapping[PhaseName, PhaseResult],
        run_phase: Callable[[Phase], Awaitable[None]],
        *,
        max_concurrent: int,
    ) -> None:
        self._task = task
        self._results = results
        self._run_phase = run_phase
        self._max_concurrent = max_concurrent
        self._optional = {p.name: p.optional for p in task.phases}
        self._ready: list[Phase] = []
        self._waiting_on: dict[PhaseName, int] = {}
        self._dependents: dict[PhaseName, list[Phase]] = {}
        self._running = 0
        self._group: asyncio.TaskGroup | None = None

    def settled(self, name: PhaseName) -> bool:
        result = self._results.get(name)
        if result is None:
            return False
        if result.status is PhaseStatus.COMPLETED or result.status is PhaseStatus.SKIPPED:
            return True
        return result.status is PhaseStatus.FAILED and self._optional[name]

    async def run(self) -> None:
        """Run every phase not settled yet; return when all are settled (or raise)."""
        for phase in self._task.phases:
            if self.settled(phase.name):
                continue
            missing = [d for d in phase.depends_on if d not in self._optional]
            if missing:
                raise PhaseFailedError(phase.name, f"depends on unknown phase(s): {', '.join(missing)}")
            waiting_on = [d for d in phase.depends_on if not self.settled(d)]
            for dependency in waiting_on:
                self._dependents.setdefault(dependency, []).append(phase)
            self._waiting_on[phase.name] = len(waiting_on)
            if not waiting_on:
                self._ready.append(phase)
        if self._ready:
            async with asyncio.TaskGroup() as group:
                self._group = group
                first = self._ready.pop(0)
                self._running += 1
                self._start_ready()
                await self._run(first)  # the first ready phase runs in this task
        self._group = None
        stuck = [p.name for p in self._task.phases if not self.settled(p.name)]
        if stuck:
            raise PhaseFailedError(stuck[0], "never became ready (dependency cycle among: "
                                   + " -> ".join(stuck) + ")")

    def _start_ready(self) -> None:
        while self._ready and self._running < self._max_concurrent and self._group is not None:
            phase = self._ready.pop(0)
            self._running += 1
            self._group.create_task(self._run(phase), name=f"phase {phase.name}")

    async def _run(self, phase: Phase) -> None:
        # A phase's task goes on with the next ready phase instead of ending, so that a chain of phases
        # costs one task, not one each (memory at 2,000 concurrent executions: benchmarks/PROFILE.md).
        while True:
            try:
                await self._run_phase(phase)
            except BaseException:
                self._group = None  # nothing more starts: the group is cancelling the others
                self._running -= 1
                raise
            for dependent in self._dependents.pop(phase.name, ()):
                self._waiting_on[dependent.name] -= 1
                if self._waiting_on[dependent.name] == 0:
                    self._ready.append(dependent)
            if not self._ready or self._group is None:
                self._running -= 1
                self._start_ready()
                return
            phase = self._ready.pop(0)
            self._start_ready()
