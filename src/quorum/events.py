"""Execution events: one frozen record per thing that happened, in order, per execution.

The same events feed handlers (``executor.on``), async iterators (``executor.events()``), the history
journal, the CLI and (later) the web dashboard. Adding a field never breaks a handler: fields are
keyword-only with defaults, and ``data`` carries event-specific details.

What the engine puts in each event (``phase``/``step``/``agent`` fields are set where they apply):

=====================  ============================================================================
execution:start        data: input, task_hash, phases (names); task (the definition, when recorded)
execution:complete     duration_ms; data: status, verdict
execution:error        duration_ms, error, phase (when a phase caused it); data: status, error_type,
                       validation + condition (a false ``validation:`` step)
execution:timeout      duration_ms, error; data: status, limit_s
execution:aborted      duration_ms, error; data: status, reason
execution:paused       data: reason
execution:resumed      data: paused_ms; or recovered (True), owner, reused_calls after a crash
phase:start            data: attempt, max_attempts, parallel
phase:complete         duration_ms; data: attempt, outputs, warnings
phase:failed           error; data: attempt, will_retry, optional | validation | budget
phase:retry            data: attempt (the next one), delay_ms, error
phase:skipped          data: reason ("dependencies skipped" or "condition false: <expr>")
phase:slow             phase; data: running_s, p95_s, basis: it runs past its p95 (quorum.telemetry)
step:start             step; data: kind, type (+ concurrent for grouped agent steps)
step:complete          step, duration_ms; data: kind, type; an aggregate: step's also result (what the
                       aggregator returned, JSON, bounded) and truncated (true when cut)
agent:start            step, agent; data: call_key, round, attempt
agent:response         step, agent, duration_ms, error; data: call_key, round, attempt, response (dict)
agent:error            step, agent, duration_ms, error; data: call_key, round, attempt, error_type
checkpoint:created     phase; data: checkpoint_id, label, phase, snapshot (when recorded)
child:started          phase, step; data: child_id, task, version, index, attached (a ``task:`` step started,
                       or after a recovery re-attached to, the child execution ``child_id``)
child:ended            phase, step, duration_ms, error; data: child_id, task, index, status, verdict
cache:unavailable      phase, step, agent (the call that met it); data: location (the cache's, password
                       masked), reason: the response cache became unreachable and the execution's calls
                       go to their agents uncached; once per execution (and process) that meets it
=====================  ============================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from quorum._frozen import fast_frozen_init
from quorum._keyed import KeyedView
from quorum.agents.protocol import AgentResponse
from quorum.definition.model import frozen_mapping, thaw
from quorum.ids import AgentId, ExecutionId, PhaseName

__all__ = (
    "EVENT_TYPES",
    "Event",
    "EventType",
        "ResponseRecord",
    "response_event_data",
)

_EMPTY: Mapping[str, Any] = frozen_mapping()


class EventType(StrEnum):
    """The event names (the seed's, plus finer-grained ones).

    Members are their strings: they compare equal to them and hash like them, so an event read back
    from a store (whose ``type`` is a plain string) matches them too."""

    EXECUTION_START = "execution:start"
    EXECUTION_COMPLETE = "execution:complete"
    EXECUTION_ERROR = "execution:error"
    EXECUTION_TIMEOUT = "execution:timeout"
    EXECUTION_PAUSED = "execution:paused"
    EXECUTION_RESUMED = "execution:resumed"
    EXECUTION_ABORTED = "execution:aborted"
    PHASE_START = "phase:start"
    PHASE_COMPLETE = "phase:complete"
    PHASE_FAILED = "phase:failed"
    PHASE_RETRY = "phase:retry"
    PHASE_SKIPPED = "phase:skipped"
    PHASE_SLOW = "phase:slow"
    STEP_START = "step:start"
    STEP_COMPLETE = "step:complete"
    AGENT_START = "agent:start"
    AGENT_RESPONSE = "agent:response"
    AGENT_ERROR = "agent:error"
    AGENT_CHUNK = "agent:chunk"
    CHECKPOINT_CREATED = "checkpoint:created"
    APPROVAL_REQUESTED = "approval:requested"
    APPROVAL_DECIDED = "approval:decided"
    CHILD_STARTED = "child:started"
    CHILD_ENDED = "child:ended"
    CACHE_UNAVAILABLE = "cache:unavailable"


EVENT_TYPES: Final[frozenset[str]] = frozenset(EventType)


@fast_frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One thing that happened in one execution.

    ``sequence`` is gap-free per execution, starting at 1. ``timestamp`` is seconds since the epoch.
    """

    type: str
    execution_id: ExecutionId
    sequence: int
    timestamp: float
    task: str | None = None
    phase: PhaseName | None = None
    step: int | None = None
    agent: AgentId | None = None
    duration_ms: float | None = None
    error: str | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "execution_id": self.execution_id,
            "sequence": self.sequence,
            "timestamp": self.timestamp,
            "task": self.task,
            "phase": self.phase,
            "step": self.step,
            "agent": self.agent,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "data": thaw(self.data),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        d = dict(data)
        d["data"] = frozen_mapping(d.get("data"))
        return cls(**d)


class ResponseRecord(KeyedView):
    """``answer.to_dict()`` as a read-only mapping over the (frozen) answer itself: the ``response`` of
    an ``agent:response`` event.

    The view has the same keys and values as that dict (``data`` is thawed to plain dicts and lists on
    access) and compares equal to it; ``to_dict()`` (and ``dict(record)``) gives the plain copy. A view,
    not the copy, because a journal in memory keeps one per agent call for as long as it is kept
    (benchmarks/PROFILE.md, "Kept").
    """

    __slots__ = ("answer",)

    KEYS = ("agent_id", "text", "data", "stance", "recommendation", "confidence", "rationale", "latency_ms",
            "model", "tokens_in", "tokens_out", "cost_usd", "cached", "error", "response_model")

    def __init__(self, answer: AgentResponse) -> None:
        self.answer = answer

    def __getitem__(self, key: str) -> Any:
        if key == "data":
            return thaw(self.answer.data)
        if key in self.KEYS:
            return getattr(self.answer, key)
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        return self.answer.to_dict()


def response_event_data(call_key: str, rnd: int, attempt: int, answer: AgentResponse) -> Mapping[str, Any]:
    """The data of an ``agent:response`` event: ``{"call_key", "round", "attempt", "response"}``, where
    ``response`` is the answer's :class:`ResponseRecord`."""
    return MappingProxyType(
        {"call_key": call_key, "round": rnd, "attempt": attempt, "response": ResponseRecord(answer)}
    )

