"""The phase DAG scheduler of one execution.

A phase starts as soon as every dependency is settled (completed, skipped, or an optional phase that
failed) and fewer than ``max_concurrent_phases`` phases run. A phase whose dependencies were *all*
skipped (a failed optional phase counts as skipped) is skipped ("dependencies skipped"); otherwise its
``when`` condition decides (false -> skipped, with the condition as the reason). Phases settled before
the run (restored from a checkpoint, or rebuilt from a journal) are not run again. A dependency cycle
or an unknown dependency fails the execution, naming the phases.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from quorum.definition.model import Phase
from quorum.engine.attempts import Fatal, run_attempts
from quorum.engine.status import PhaseStatus
from quorum.errors import PhaseFailedError
from quorum.events import EventType
from quorum.ids import PhaseName

if TYPE_CHECKING:
    from quorum.engine.live import LiveExecution

__all__ = ("PhaseScheduler",)

_COMPLETED = PhaseStatus.COMPLETED
_SKIPPED = PhaseStatus.SKIPPED
_FAILED = PhaseStatus.FAILED


class PhaseScheduler:
    def __init__(self, live: LiveExecution) -> None:
        self.live = live
        self._running = 0
        # A list, not a deque: a handful of phases at most, and an empty deque is ~0.8 KB per execution.
        self._ready: list[Phase] = []
        self._waiting: dict[PhaseName, int] = {}
        self._dependents: dict[PhaseName, list[Phase]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._stopping = False
        self._optional = {p.name: p.optional for p in live.task.phases}

    def _settled(self, name: PhaseName) -> bool:
        result = self.live.ctx.phases.get(name)
        if result is None:
            return False
        status = result.status
        if status is _COMPLETED or status is _SKIPPED:
            return True
        return result.status is _FAILED and self._optional.get(name, False)

    def _skiplike(self, name: PhaseName) -> bool:
        result = self.live.ctx.phases.get(name)
        return result is not None and (result.status is _SKIPPED or result.status is _FAILED)

    async def run(self) -> None:
        """Run every phase not settled yet; return when all are settled (or raise)."""
        task = self.live.task
        names = set(task.phase_names)
        for phase in task.phases:
            if self._settled(phase.name):
                continue
            missing = [d for d in phase.depends_on if d not in names]
            if missing:
                raise PhaseFailedError(phase.name, f"depends on unknown phase(s): {', '.join(missing)}")
            waiting = 0
            for dep in phase.depends_on:
                if not self._settled(dep):
                    waiting += 1
                    self._dependents.setdefault(dep, []).append(phase)
            self._waiting[phase.name] = waiting
            if waiting == 0:
                self._ready.append(phase)
        del names  # this frame lives as long as the execution: ~0.7 KB each, 2,000 at once
        if self._ready:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                # The first ready phase runs in this task (a chain of phases then needs no task at all);
                # the others, and phases unlocked later, get tasks of the group.
                first = self._ready.pop(0)
                self._running += 1
                self._launch()
                await self._run_phase(first)
            self._tg = None
        stuck = [p.name for p in task.phases if not self._settled(p.name)]
        if stuck:
            raise PhaseFailedError(stuck[0], "never became ready (dependency cycle among: "
                                   + " -> ".join(stuck) + ")")

    def _launch(self) -> None:
        tg = self._tg
        while self._ready and self._running < self.live.max_phases and tg is not None and not self._stopping:
            phase = self._ready.pop(0)
            self._running += 1
            tg.create_task(self._run_phase(phase))

    def _settle(self, phase: Phase) -> None:
        for dependent in self._dependents.pop(phase.name, ()):
            self._waiting[dependent.name] -= 1
            if self._waiting[dependent.name] == 0:
                self._ready.append(dependent)

    async def _run_phase(self, phase: Phase) -> None:
        # A phase task runs on into the next ready phase instead of ending (a chain of phases then
        # costs one task, not one per phase); other ready phases get tasks of their own.
        while True:
            try:
                await self.live.boundary()
                deps = phase.depends_on
                if deps and all(self._skiplike(d) for d in deps):
                    self._skip(phase, "dependencies skipped")
                elif phase.when and not self._when(phase):
                    self._skip(phase, f"condition false: {phase.when}")
                else:
                    await run_attempts(self.live, phase)
            except BaseException:
                self._stopping = True
                self._running -= 1
                raise
            self._settle(phase)
            if not self._ready or self._stopping:
                self._running -= 1
                self._launch()
                return
            phase = self._ready.pop(0)
            self._launch()

    def _when(self, phase: Phase) -> bool:
        from quorum.engine import templating

        assert phase.when is not None
        try:
            return bool(templating.evaluate(phase.when, self.live.ctx.template_context(phase.name)))
        except Exception as exc:
            raise Fatal(PhaseFailedError(phase.name, f"its `when` condition failed: {exc}")) from exc

    def _skip(self, phase: Phase, reason: str) -> None:
        self.live.ctx.skip_phase(phase.name, reason)
        self.live.emit(EventType.PHASE_SKIPPED, phase=phase.name, data={"reason": reason})
