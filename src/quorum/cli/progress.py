"""What the live view shows, folded from the event stream: one mutable :class:`Progress` per execution.

Kept apart from the rendering (``render.py``) so that the folding is tested without a terminal and the
same state could feed another front end. Each event updates O(1) state; nothing is re-scanned.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quorum.errors import QuorumError
from quorum.events import Event, EventType
from quorum.ids import PhaseName

if TYPE_CHECKING:
    from quorum.definition.model import Phase, Task
    from quorum.engine.results import PhaseResult

__all__ = ("ChildProgress", "PhaseProgress", "Progress")

_T = EventType


@dataclass(slots=True)
class PhaseProgress:
    name: str
    depends_on: tuple[str, ...] = ()
    state: str = "pending"
    """pending | running | retrying | completed | failed | skipped | cancelled"""
    attempts: int = 0
    started_at: float | None = None
    duration_ms: float | None = None
    answers: int = 0
    agent_errors: int = 0
    reason: str | None = None
    """Why it was skipped, or its error."""


@dataclass(slots=True)
class ChildProgress:
    """A child execution of a ``task:`` step, as the parent's live view shows it: one line each."""

    id: str
    task: str
    index: int | None = None
    """Its place in the step's ``foreach`` (None for a single child)."""
    parent_phase: str | None = None
    status: str = "running"
    phases_total: int | None = None
    phases_done: int = 0
    phase: str | None = None
    """The phase it started last."""
    calls: int = 0


_STREAM_TAIL = 160
"""Characters of an agent's streamed answer kept for the live view (it shows the last line of them)."""


@dataclass(slots=True)
class Progress:
    """The state of one execution as its events tell it."""

    task: str = ""
    execution_id: str = ""
    status: str = "pending"
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    phases: dict[str, PhaseProgress] = field(default_factory=dict)
    running: dict[tuple[str, str], float] = field(default_factory=dict)
    """(phase, agent) -> when the call started (monotonic clock of this process)."""
    streamed: dict[tuple[str, str], str] = field(default_factory=dict)
    """(phase, agent) -> the end of the text it has streamed so far (``agent:chunk``), while in flight."""
    retries: int = 0
    calls: int = 0
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=6))
    paused_by: str | None = None
    children: dict[str, ChildProgress] = field(default_factory=dict)
    """The children its ``task:`` steps started, by execution id, in the order they started."""

    def seed(self, task: Task, results: Mapping[PhaseName, PhaseResult] | None = None) -> None:
        """List the task's phases in dependency order (file order breaks ties), with the state of
        those already finished (a resumed execution)."""
        from quorum.graph import PhaseGraph

        self.task = task.name
        try:
            order: Iterable[str] = PhaseGraph.from_task(task).order
        except QuorumError:
            order = task.phase_names
        by_name: dict[str, Phase] = {p.name: p for p in task.phases}
        for name in order:
            phase = by_name.get(name)
            row = self.phase(name)
            row.depends_on = tuple(phase.depends_on) if phase is not None else ()
            done = (results or {}).get(PhaseName(name))
            if done is not None and done.status.value != "pending":
                row.state = done.status.value
                row.attempts = done.attempts
                row.duration_ms = done.duration_ms
                row.answers = len(done.answers)
                row.reason = done.skipped_reason or done.error

    def phase(self, name: str) -> PhaseProgress:
        found = self.phases.get(name)
        if found is None:
            found = self.phases[name] = PhaseProgress(name=name)
        return found

    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else time.time()
        return max(0.0, end - self.started_at)

    def apply(self, event: Event) -> None:
        kind = event.type
        if event.execution_id and not self.execution_id:
            self.execution_id = event.execution_id
        if event.task and not self.task:
            self.task = event.task
        if kind == _T.AGENT_CHUNK:
            self._stream(event)
            return
        phase = self.phase(event.phase) if event.phase else None
        if kind == _T.EXECUTION_START:
            self.status = "running"
            self.started_at = self.started_at or event.timestamp
        elif kind == _T.EXECUTION_RESUMED:
            self.status = "running"
            self.paused_by = None
            self.started_at = self.started_at or event.timestamp
            self._note("resumed")
        elif kind == _T.EXECUTION_PAUSED:
            self.status = "paused"
            self.paused_by = str(event.data.get("reason") or "") or None
            self._note(f"paused{': ' + self.paused_by if self.paused_by else ''}")
        elif kind in (_T.EXECUTION_COMPLETE, _T.EXECUTION_ERROR, _T.EXECUTION_TIMEOUT, _T.EXECUTION_ABORTED):
            outcomes: dict[str, str] = {
                _T.EXECUTION_COMPLETE: "completed",
                _T.EXECUTION_ERROR: "failed",
                _T.EXECUTION_TIMEOUT: "timeout",
                _T.EXECUTION_ABORTED: "aborted",
            }
            self.status = outcomes[kind]
            self.ended_at = event.timestamp
            self.error = event.error
            self.running.clear()
            self.streamed.clear()
        elif kind == _T.CHILD_STARTED:
            self._child_started(event)
        elif kind == _T.CHILD_ENDED:
            child = self.children.get(str(event.data.get("child_id")))
            if child is not None:
                child.status = str(event.data.get("status") or "ended")
        elif phase is not None:
            self._apply_phase(event, phase)

    def apply_child(self, event: Event) -> None:
        """An event of one of this execution's children (its own events go to :meth:`apply`); events
        of executions not listed in :attr:`children` (grandchildren) are left out."""
        child = self.children.get(event.execution_id)
        if child is None:
            return
        kind = event.type
        if kind in (_T.EXECUTION_START, _T.EXECUTION_RESUMED):
            phases = event.data.get("phases")
            if isinstance(phases, list | tuple):
                child.phases_total = len(phases)
            child.status = "running"
        elif kind == _T.EXECUTION_PAUSED:
            child.status = "paused"
        elif kind == _T.PHASE_START:
            child.phase = event.phase
        elif kind in (_T.PHASE_COMPLETE, _T.PHASE_SKIPPED):
            child.phases_done += 1
        elif kind in (_T.AGENT_RESPONSE, _T.AGENT_ERROR):
            child.calls += 1

    def _child_started(self, event: Event) -> None:
        d = event.data
        child_id = str(d.get("child_id") or "")
        if not child_id:
            return
        if child_id in self.children:  # found again after a take-over: it keeps its line
            self.children[child_id].status = "running"
            return
        index = d.get("index")
        self.children[child_id] = ChildProgress(
            id=child_id, task=str(d.get("task") or ""), index=index if isinstance(index, int) else None,
            parent_phase=event.phase,
        )

    def _apply_phase(self, event: Event, phase: PhaseProgress) -> None:
        kind = event.type
        if kind == _T.PHASE_START:
            phase.state = "running"
            phase.attempts = int(event.data.get("attempt") or phase.attempts + 1)
            phase.started_at = phase.started_at or event.timestamp
            phase.reason = None
        elif kind == _T.PHASE_COMPLETE:
            phase.state = "completed"
            phase.duration_ms = event.duration_ms
            self._drop_agents(phase.name)
        elif kind == _T.PHASE_FAILED:
            # a failure that will be retried is followed by phase:retry; until then it is failed
            phase.state = "failed"
            phase.duration_ms = event.duration_ms
            phase.reason = event.error
            self._drop_agents(phase.name)
            self._note(f"{phase.name} failed: {event.error or 'error'}")
        elif kind == _T.PHASE_RETRY:
            phase.state = "retrying"
            self.retries += 1
            delay = event.data.get("delay_ms")
            wait = f" in {float(delay) / 1000:.1f}s" if isinstance(delay, int | float) else ""
            self._note(f"{phase.name}: retry{wait}")
        elif kind == _T.PHASE_SKIPPED:
            phase.state = "skipped"
            phase.reason = str(event.data.get("reason") or event.error or "") or None
        elif kind == _T.AGENT_START and event.agent:
            self.running[(phase.name, event.agent)] = time.monotonic()
        elif kind == _T.AGENT_RESPONSE and event.agent:
            self.running.pop((phase.name, event.agent), None)
            self.streamed.pop((phase.name, event.agent), None)
            self.calls += 1
            phase.answers += 1
        elif kind == _T.AGENT_ERROR and event.agent:
            self.running.pop((phase.name, event.agent), None)
            self.streamed.pop((phase.name, event.agent), None)
            self.calls += 1
            phase.agent_errors += 1
            self._note(f"{phase.name} / {event.agent}: {event.error or 'error'}")

    def _stream(self, event: Event) -> None:
        text = event.data.get("text")
        if not event.phase or not event.agent or not isinstance(text, str):
            return
        key = (str(event.phase), str(event.agent))
        if key not in self.running:
            return  # a late piece of a call that has ended
        # Only the end is shown: keep a bounded tail, however long the answer grows.
        self.streamed[key] = (self.streamed.get(key, "") + text)[-_STREAM_TAIL:]

    def _drop_agents(self, phase: str) -> None:
        for key in [k for k in self.running if k[0] == phase]:
            del self.running[key]
            self.streamed.pop(key, None)

    def _note(self, text: str) -> None:
        self.recent.append(text)
