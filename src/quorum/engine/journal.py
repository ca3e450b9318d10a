"""What a journal says beyond its latest checkpoint, for the process that takes an execution over.

A checkpoint snapshot is taken after each *completed* phase, so the phases settled since the latest one
(skipped, an optional phase that failed for good, or a phase completed just before the crash) are known
only from their events. :func:`settle_from_journal` puts them back in the context, so that a resumed
execution neither runs nor re-announces them (no second ``phase:skipped``). :func:`running_time_s` reads
the execution's running time across every process that drove it (see ``ExecutionContext.duration_ms``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from quorum.agents.protocol import AgentResponse
from quorum.definition.model import frozen_mapping
from quorum.engine.results import PhaseResult
from quorum.engine.status import PhaseStatus
from quorum.events import Event, EventType
from quorum.ids import AgentId, PhaseName

if TYPE_CHECKING:
    from quorum.engine.context import ExecutionContext

__all__ = ("running_time_s", "settle_from_journal")

_E = EventType
_OPENS = frozenset({_E.EXECUTION_START, _E.EXECUTION_RESUMED})
_CLOSES = frozenset({
    _E.EXECUTION_PAUSED, _E.EXECUTION_COMPLETE, _E.EXECUTION_ERROR, _E.EXECUTION_TIMEOUT,
    _E.EXECUTION_ABORTED,
})
_APPROVALS = frozenset({_E.APPROVAL_REQUESTED, _E.APPROVAL_DECIDED})


def running_time_s(events: Iterable[Event]) -> float:
    """Seconds the execution spent running, from its journal (events in sequence order).

    A running stretch opens at ``execution:start`` or ``execution:resumed`` and closes at
    ``execution:paused`` or the final outcome; an approval's wait (``approval:requested`` with status
    ``waiting``) closes one and the decision that ends it opens one. A stretch left open by a process that
    died (or the journal's end) closes at the last event that process recorded: the time until a recovery's
    ``execution:resumed`` (data ``recovered``) is time no process drove it, and is not counted."""
    total = 0.0
    since: float | None = None
    last: float | None = None
    for event in events:
        kind = event.type
        if kind in _APPROVALS:  # a wait for a person closes a stretch; its end opens one
            kind = _E.EXECUTION_RESUMED if event.data.get("status") == "running" else _E.EXECUTION_PAUSED
        if kind in _OPENS:
            if since is not None and event.data.get("recovered") and last is not None:
                total += max(0.0, last - since)  # its previous driver died while running
                since = None
            if since is None:
                since = event.timestamp
        elif kind in _CLOSES and since is not None:
            total += max(0.0, event.timestamp - since)
            since = None
        last = event.timestamp
    if since is not None and last is not None:
        total += max(0.0, last - since)
    return total


class _PhaseTrail:
    """One phase's events in the journal: its latest attempt and how it settled, if it did."""

    __slots__ = ("answers", "attempt", "settled", "started_at")

    def __init__(self) -> None:
        self.attempt = 0
        self.started_at: float | None = None
        self.answers: dict[str, AgentResponse] = {}
        self.settled: PhaseResult | None = None

    def start(self, event: Event) -> None:
        attempt = int(event.data.get("attempt", 1))
        if attempt != self.attempt:  # a retry; the same attempt again is a resume going on with it
            self.attempt = attempt
            self.answers = {}
        if self.started_at is None:
            self.started_at = event.timestamp
        self.settled = None

    def answer(self, event: Event) -> None:
        data = event.data
        key = str(data.get("call_key") or f"#{event.sequence}")
        if event.type == _E.AGENT_RESPONSE and data.get("response") is not None:
            self.answers[key] = AgentResponse.from_dict(data["response"])
        elif event.type == _E.AGENT_ERROR:
            self.answers[key] = AgentResponse(agent_id=AgentId(event.agent or "?"),
                                              error=event.error or "failed",
                                              latency_ms=event.duration_ms or 0.0)

    def settle(self, name: PhaseName, status: PhaseStatus, event: Event, **fields: Any) -> None:
        started = self.started_at if self.started_at is not None else event.timestamp
        fields.setdefault("duration_ms", event.duration_ms if event.duration_ms is not None
                          else (event.timestamp - started) * 1000.0)
        self.settled = PhaseResult(
            name=name, status=status, attempts=self.attempt, answers=tuple(self.answers.values()),
            started_at=started, ended_at=event.timestamp, **fields,
        )


def settle_from_journal(ctx: ExecutionContext, events: Iterable[Event]) -> tuple[PhaseName, ...]:
    """Put in ``ctx`` every phase the journal shows settled that ``ctx`` does not have settled yet
    (skipped; completed; failed after its last attempt while optional). Their answers count in the
    usage. Returns their names."""
    optional = {p.name: p.optional for p in ctx.task.phases}
    trails: dict[PhaseName, _PhaseTrail] = {}
    for event in events:
        if event.phase is None:
            continue
        name = PhaseName(event.phase)
        if name not in optional:
            continue
        trail = trails.get(name)
        if trail is None:
            trail = trails[name] = _PhaseTrail()
        kind = event.type
        if kind == _E.PHASE_START:
            trail.start(event)
        elif kind == _E.AGENT_RESPONSE or kind == _E.AGENT_ERROR:
            trail.answer(event)
        elif kind == _E.PHASE_SKIPPED:
            trail.settle(name, PhaseStatus.SKIPPED, event, duration_ms=0.0,
                         skipped_reason=str(event.data.get("reason", "")))
        elif kind == _E.PHASE_COMPLETE:
            trail.settle(name, PhaseStatus.COMPLETED, event,
                         outputs=frozen_mapping(event.data.get("outputs")),
                         warnings=tuple(event.data.get("warnings") or ()))
        elif kind == _E.PHASE_FAILED and optional[name] and not event.data.get("will_retry"):
            trail.settle(name, PhaseStatus.FAILED, event, error=event.error)
    settled: list[PhaseName] = []
    for name, trail in trails.items():
        result = trail.settled
        if result is None or _is_settled(ctx.phases.get(name), optional[name]):
            continue
        ctx.set_phase_result(result)
        for answer in result.answers:
            ctx.record_usage(answer)
        settled.append(name)
    return tuple(settled)


def _is_settled(current: PhaseResult | None, optional: bool) -> bool:
    if current is None:
        return False
    if current.status is PhaseStatus.COMPLETED or current.status is PhaseStatus.SKIPPED:
        return True
    return current.status is PhaseStatus.FAILED and optional
