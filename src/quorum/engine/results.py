"""What an execution produced: :class:`PhaseResult` per phase and the :class:`ExecutionResult`.

Both are frozen. ``to_dict`` gives plain JSON-friendly data and ``from_dict`` reads it back exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from quorum.agents.protocol import AgentResponse
from quorum.definition.model import frozen_mapping
from quorum.definition.model import thaw as _thaw
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.ids import AgentId, ExecutionId, PhaseName

__all__ = ("ExecutionResult", "PhaseResult", "Usage", "response_dict", "thaw")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def thaw(value: Any) -> Any:
    """Plain JSON-friendly data from frozen mappings and tuples, agent answers as their dicts."""
    return _thaw(value, _answer_dict)


def _answer_dict(value: Any) -> Any:
    return value.to_dict() if isinstance(value, AgentResponse) else value


def response_dict(r: AgentResponse) -> dict[str, Any]:
    """``r.to_dict()`` (kept as a function: it is what snapshots and events call per answer)."""
    return r.to_dict()


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """What the agents of one execution consumed, the child executions of its ``task:`` steps included
    (each counted once, see :mod:`quorum.engine.children`)."""

    calls: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(calls=self.calls + other.calls, errors=self.errors + other.errors,
                     tokens_in=self.tokens_in + other.tokens_in,
                     tokens_out=self.tokens_out + other.tokens_out, cost_usd=self.cost_usd + other.cost_usd)

    def __sub__(self, other: Usage) -> Usage:
        return Usage(calls=self.calls - other.calls, errors=self.errors - other.errors,
                     tokens_in=self.tokens_in - other.tokens_in,
                     tokens_out=self.tokens_out - other.tokens_out, cost_usd=self.cost_usd - other.cost_usd)

    @classmethod
    def total(cls, usages: Iterable[Usage]) -> Usage:
        """The sum of ``usages`` (zero for none)."""
        total = cls()
        for usage in usages:
            total += usage
        return total

    @classmethod
    def of_answers(cls, answers: Iterable[AgentResponse]) -> Usage:
        """What these answers consumed, as the execution counts it (one call each; failed ones are also
        errors)."""
        return cls.total(
            Usage(calls=1, errors=int(a.error is not None), tokens_in=a.tokens_in, tokens_out=a.tokens_out,
                  cost_usd=a.cost_usd or 0.0)
            for a in answers
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseResult:
    """One phase of one execution.

    ``answers`` holds every agent answer (failed calls included, with ``error`` set) in the order they
    arrived; ``responses`` maps each agent to its latest successful answer (or its error when it never
    succeeded). ``to_dict`` writes both; ``responses`` is derived from ``answers``, so ``from_dict``
    reads ``answers`` (and falls back to ``responses`` for data that has only those).
    """

    name: PhaseName
    status: PhaseStatus = PhaseStatus.PENDING
    outputs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    answers: tuple[AgentResponse, ...] = ()
    attempts: int = 0
    duration_ms: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    skipped_reason: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def responses(self) -> Mapping[AgentId, AgentResponse]:
        latest: dict[AgentId, AgentResponse] = {}
        for answer in self.answers:
            if answer.ok or latest.get(answer.agent_id, answer).error is not None:
                latest[answer.agent_id] = answer
        return latest

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "outputs": thaw(self.outputs),
            "responses": {agent: response_dict(r) for agent, r in self.responses.items()},
            "answers": [response_dict(a) for a in self.answers],
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "error": self.error,
            "skipped_reason": self.skipped_reason,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PhaseResult:
        answers = data.get("answers")
        if answers is None:  # written by hand, or by a tool that kept only the latest answers
            answers = list((data.get("responses") or {}).values())
        return cls(
            name=PhaseName(data["name"]),
            status=PhaseStatus(data["status"]),
            outputs=frozen_mapping(data.get("outputs")),
            answers=tuple(AgentResponse.from_dict(a) for a in answers),
            attempts=int(data.get("attempts", 0)),
            duration_ms=data.get("duration_ms"),
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            error=data.get("error"),
            skipped_reason=data.get("skipped_reason"),
            warnings=tuple(data.get("warnings", ())),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionResult:
    """The outcome of one execution. Partial when it failed, was aborted or timed out."""

    id: ExecutionId
    task: str
    status: ExecutionStatus
    verdict: Mapping[str, Any] | None = None
    phases: Mapping[PhaseName, PhaseResult] = field(default_factory=lambda: MappingProxyType({}))
    error: str | None = None
    duration_ms: float | None = None
    """Running time: paused time and time no process drove it (after a detach or a crash, until a
    resume took it over) are not counted — see :mod:`quorum.engine.context`."""
    started_at: float | None = None
    ended_at: float | None = None
    input: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    usage: Usage = field(default_factory=Usage)
    children_usage: Usage = field(default_factory=Usage)
    """The part of ``usage`` that its child executions consumed (``task:`` steps)."""
    checkpoints: tuple[str, ...] = ()
    """Ids of the checkpoints taken, oldest first."""

    @property
    def ok(self) -> bool:
        return self.status is ExecutionStatus.COMPLETED

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "status": self.status.value,
            "verdict": thaw(self.verdict),
            "phases": {name: p.to_dict() for name, p in self.phases.items()},
            "error": self.error,
            "duration_ms": self.duration_ms,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "input": thaw(self.input),
            "usage": self.usage.to_dict(),
            "children_usage": self.children_usage.to_dict(),
            "checkpoints": list(self.checkpoints),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecutionResult:
        verdict = data.get("verdict")
        return cls(
            id=ExecutionId(data["id"]),
            task=data["task"],
            status=ExecutionStatus(data["status"]),
            verdict=None if verdict is None else frozen_mapping(verdict),
            phases={PhaseName(k): PhaseResult.from_dict(v) for k, v in data.get("phases", {}).items()},
            error=data.get("error"),
            duration_ms=data.get("duration_ms"),
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            input=frozen_mapping(data.get("input")),
            usage=Usage(**data.get("usage", {})),
            children_usage=Usage(**data.get("children_usage", {})),
            checkpoints=tuple(data.get("checkpoints", ())),
        )
