"""Reading a request: inputs, earlier phases' outputs and answers, peers; and building the answer dict.

The engine's context is data of a known outline (``input``, ``phases`` -> {outputs, responses, status})
whose leaves may be frozen mappings and tuples; the readers below accept plain and frozen forms, and
responses given as ``AgentResponse`` objects, their ``to_dict()`` form, or bare data mappings.

Specialists find each other's work by *kind*: every artifact they publish is a mapping with a ``kind``
key ("market-snapshot", "execution-plan", ...), found wherever it sits in earlier outputs or answers, so
the workflows may name their phases and outputs as they like.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from quorum.agents.protocol import AgentRequest

__all__ = (
    "Opinion",
    "clamp01",
    "find_artifact",
    "input_of",
    "latest_by_agent",
    "meeting_time",
    "money",
    "opinions",
    "pct",
    "peer_note",
    "respond",
)

_STANCES = ("bullish", "bearish", "neutral")


def input_of(request: AgentRequest) -> Mapping[str, Any]:
    value = request.context.get("input")
    return value if isinstance(value, Mapping) else {}


def meeting_time(request: AgentRequest) -> dt.datetime | None:
    """The execution's start (UTC): the engine gives epoch seconds; ISO text is accepted too."""
    execution = request.context.get("execution")
    started = execution.get("started_at") if isinstance(execution, Mapping) else None
    if isinstance(started, int | float) and not isinstance(started, bool):
        return dt.datetime.fromtimestamp(started, tz=dt.UTC)
    if isinstance(started, str):
        try:
            stamp = dt.datetime.fromisoformat(started)
        except ValueError:
            return None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return None


def clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


@dataclass(frozen=True, slots=True, kw_only=True)
class Opinion:
    """One agent's answer, as the later specialists read it."""

    agent: str
    phase: str
    stance: str
    confidence: float
    data: Mapping[str, Any]
    order: int
    """Position in the run (later answers have higher numbers)."""

    @property
    def abstained(self) -> bool:
        return bool(self.data.get("abstained"))


def _as_opinion(agent: str, phase: str, value: Any, order: int) -> Opinion | None:
    data: Any
    stance: Any = None
    confidence: Any = None
    if hasattr(value, "agent_id") and hasattr(value, "data"):  # an AgentResponse
        if getattr(value, "error", None):
            return None
        agent = str(value.agent_id)
        data, stance, confidence = value.data, value.stance, value.confidence
    elif isinstance(value, Mapping):
        if value.get("error"):
            return None
        inner = value.get("data")
        data = inner if isinstance(inner, Mapping) else value
        agent = str(value.get("agent_id") or value.get("agent") or agent)
        stance, confidence = value.get("stance"), value.get("confidence")
    else:
        return None
    stance = stance if stance in _STANCES else data.get("stance")
    confidence = confidence if isinstance(confidence, int | float) else data.get("confidence")
    return Opinion(
        agent=agent,
        phase=phase,
        stance=stance if stance in _STANCES else "neutral",
        confidence=clamp01(float(confidence)) if isinstance(confidence, int | float) else 0.0,
        data=data,
        order=order,
    )


def _responses(phase: str, responses: Any) -> Iterator[Opinion]:
    if isinstance(responses, Mapping):
        items: list[tuple[str, Any]] = list(responses.items())
    elif isinstance(responses, Sequence) and not isinstance(responses, str):
        items = [("", r) for r in responses]
    else:
        return
    for agent, value in items:
        values = value if isinstance(value, Sequence) and not isinstance(value, str | Mapping) else [value]
        for v in values:
            op = _as_opinion(str(agent), phase, v, 0)
            if op is not None:
                yield op


def opinions(request: AgentRequest) -> list[Opinion]:
    """Every answer of earlier phases, then this step's peers, in run order."""
    out: list[Opinion] = []
    phases = request.context.get("phases")
    if isinstance(phases, Mapping):
        for name, entry in phases.items():
            if isinstance(entry, Mapping):
                out.extend(_responses(str(name), entry.get("responses")))
    for peer in request.peers:
        op = _as_opinion(str(peer.agent_id), str(request.phase), peer, 0)
        if op is not None:
            out.append(op)
    return [replace(op, order=i) for i, op in enumerate(out)]


def latest_by_agent(items: Sequence[Opinion]) -> dict[str, Opinion]:
    """The last answer of each agent (a later phase or round supersedes an earlier one)."""
    latest: dict[str, Opinion] = {}
    for op in sorted(items, key=lambda o: o.order):
        latest[op.agent] = op
    return latest


def find_artifact(request: AgentRequest, kind: str) -> Mapping[str, Any] | None:
    """The latest mapping with ``kind`` among earlier outputs, earlier answers and peers (one level deep)."""
    found: Mapping[str, Any] | None = None
    phases = request.context.get("phases")
    if isinstance(phases, Mapping):
        for entry in phases.values():
            if not isinstance(entry, Mapping):
                continue
            outputs = entry.get("outputs")
            if isinstance(outputs, Mapping):
                found = _scan(outputs, kind) or found
            for op in _responses("", entry.get("responses")):
                found = _scan(op.data, kind) or found
    for peer in request.peers:
        found = _scan(peer.data, kind) or found
    return found


def _scan(values: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    if values.get("kind") == kind:
        return values
    hit: Mapping[str, Any] | None = None
    for v in values.values():
        if isinstance(v, Mapping) and v.get("kind") == kind:
            hit = v
    return hit


def respond(
    request: AgentRequest,
    *,
    stance: str,
    confidence: float,
    recommendation: str,
    rationale: str,
    text: str,
    fields: Mapping[str, Any],
    abstained: bool = False,
    data_gaps: Sequence[str] = (),
) -> dict[str, Any]:
    """The answer dict: the specialist's fields, the declared outputs it can fill, and the standard keys.

    A declared output is filled when the specialist produced a field of that name; an output named like
    one of the standard keys (stance, confidence, ...) is filled by that key.
    """
    if stance not in _STANCES:
        raise ValueError(f"stance must be one of {_STANCES}, not {stance!r}")
    answer: dict[str, Any] = {}
    for key, value in fields.items():
        # Stamp each published artifact with its author, so every number can be traced to an agent.
        if isinstance(value, dict) and "kind" in value and "produced_by" not in value:
            value = {**value, "produced_by": str(request.agent_id)}
        answer[key] = value
    answer.update(
        stance=stance,
        confidence=round(clamp01(confidence), 4),
        recommendation=recommendation,
        rationale=rationale,
        text=text,
        abstained=abstained,
        data_gaps=list(data_gaps),
        agent=str(request.agent_id),
    )
    answer["outputs_filled"] = [spec.name for spec in request.outputs if spec.name in answer]
    return answer


def pct(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x * 100:.{digits}f}%"


def money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def peer_note(request: AgentRequest, stance: str) -> str:
    """One sentence placing this answer among the earlier answers of this step (a round table)."""
    agree = [p.agent_id for p in request.peers if p.stance == stance and p.agent_id != request.agent_id]
    differ = [
        f"{p.agent_id} ({p.stance})"
        for p in request.peers
        if p.stance in _STANCES and p.stance != stance and p.agent_id != request.agent_id
    ]
    if not agree and not differ:
        return ""
    parts = []
    if agree:
        parts.append("agrees with " + ", ".join(agree))
    if differ:
        parts.append("differs from " + ", ".join(differ))
    return "Against the earlier presentations: " + "; ".join(parts) + "."
