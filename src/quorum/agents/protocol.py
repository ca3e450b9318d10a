"""The one small protocol between the engine and agents.

The engine builds an :class:`AgentRequest` (agent id, rendered prompt, the template context, the earlier
answers of a round table, the phase's declared outputs, a timeout and an abort signal) and awaits an
:class:`AgentResponse`. Anything with ``async def query(request) -> AgentResponse`` is an agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from quorum._frozen import fast_frozen_init
from quorum.definition.model import OutputSpec, frozen_mapping, thaw
from quorum.ids import AgentId, ExecutionId, PhaseName
from quorum.signals import AbortSignal

__all__ = (
    "Agent",
    "AgentDirectory",
    "AgentRequest",
    "AgentResponse",
    "CallKey",
    "Stance",
)

Stance = Literal["bullish", "bearish", "neutral"]

_EMPTY: Mapping[str, Any] = frozen_mapping()


@dataclass(frozen=True, slots=True, kw_only=True)
class CallKey:
    """Identifies one agent call stably across runs (never by scheduling order).

    Used by the history journal so that a resumed execution knows exactly which calls are done.
    """

    phase: PhaseName
    step: int
    agent: AgentId
    round: int = 0
    attempt: int = 1

    def __str__(self) -> str:
        return f"{self.phase}/{self.step}/{self.agent}/{self.round}/{self.attempt}"

    @classmethod
    def parse(cls, text: str) -> CallKey:
        phase, step, agent, rnd, attempt = text.rsplit("/", 4)
        return cls(
            phase=PhaseName(phase), step=int(step), agent=AgentId(agent), round=int(rnd), attempt=int(attempt)
        )


@fast_frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentResponse:
    """What an agent answered. ``data`` holds structured fields (the phase's declared outputs and more)."""

    agent_id: AgentId
    text: str = ""
    data: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    stance: Stance | None = None
    recommendation: str | None = None
    confidence: float | None = None
    """0..1."""
    rationale: str | None = None
    latency_ms: float = 0.0
    model: str | None = None
    """The model asked for (``provider:model``), as the agent's definition names it."""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    cached: bool = False
    error: str | None = None
    """Set when the call failed; the other fields are then best-effort."""
    response_model: str | None = None
    """The model the provider says answered (an alias asked for may resolve to a dated snapshot); None
    when it did not say, or for an agent answered in this process."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def with_(self, **changes: Any) -> AgentResponse:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "text": self.text,
            "data": thaw(self.data),
            "stance": self.stance,
            "recommendation": self.recommendation,
            "confidence": self.confidence,
            "rationale": self.rationale,
            "latency_ms": self.latency_ms,
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
            "cached": self.cached,
            "error": self.error,
            "response_model": self.response_model,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentResponse:
        d = dict(data)
        d["agent_id"] = AgentId(d["agent_id"])
        d["data"] = frozen_mapping(d.get("data"))
        return cls(**d)


@fast_frozen_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRequest:
    """One query to one agent."""

    agent_id: AgentId
    prompt: str
    execution_id: ExecutionId
    phase: PhaseName
    step: int = 0
    round: int = 0
    attempt: int = 1
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """The template context: ``input``, ``task``, ``phases`` (earlier outputs), ``phase``, ``execution``."""
    peers: tuple[AgentResponse, ...] = ()
    """Earlier answers in this step (round table) and earlier rounds, oldest first."""
    outputs: tuple[OutputSpec, ...] = ()
    """What the phase promises to produce: agents should fill these in ``data``."""
    timeout_s: float | None = None
    abort: AbortSignal = field(default_factory=AbortSignal)
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def key(self) -> CallKey:
        return CallKey(
            phase=self.phase, step=self.step, agent=self.agent_id, round=self.round, attempt=self.attempt
        )


@runtime_checkable
class Agent(Protocol):
    """Anything that answers a request."""

    async def query(self, request: AgentRequest, /) -> AgentResponse: ...


@runtime_checkable
class AgentDirectory(Protocol):
    """What the engine needs from an agent manager: look agents up and query them by id."""

    def has_agent(self, agent_id: str, /) -> bool: ...

    def agent_ids(self) -> list[AgentId]: ...

    async def query(self, request: AgentRequest, /) -> AgentResponse: ...
