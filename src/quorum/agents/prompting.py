"""Prompts for LLM agents, and the validation of their JSON answers.

system = the agent's persona; user = the step's query, a compact context (inputs, earlier phase outputs,
earlier answers of the round table) and an explicit instruction to answer with one JSON object holding the
phase's declared outputs plus ``stance``, ``recommendation``, ``confidence`` and ``rationale``.
Answers are validated with a pydantic model built (lazily, cached) from the declared outputs.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import OutputSpec, json_default

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = (
    "STANDARD_FIELDS",
    "AnswerInvalid",
    "ChatPrompt",
    "answer_schema",
    "build_prompt",
    "repair_message",
    "validate_answer",
)

STANDARD_FIELDS: tuple[tuple[str, str], ...] = (
    ("stance", '"bullish" | "bearish" | "neutral"'),
    ("recommendation", "string: what you recommend, in one sentence"),
    ("confidence", "number between 0 and 1"),
    ("rationale", "string: why, citing the numbers you used"),
)
_STANDARD_NAMES = frozenset(name for name, _ in STANDARD_FIELDS)
_JSON_TYPES = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "list": {"type": "array"},
    "object": {"type": "object"},
}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatPrompt:
    system: str
    user: str


class AnswerInvalid(ValueError):
    """The answer was not JSON, or not the JSON asked for. The message is fed back in the repair prompt."""


def _dump(value: Any, limit: int) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=json_default, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 15] + "…(truncated)"


def _peer_line(peer: AgentResponse, limit: int) -> str:
    if peer.error is not None:
        return f"- {peer.agent_id}: (no answer: {peer.error[:120]})"
    head = ", ".join(
        part
        for part in (
            peer.stance or "",
            f"confidence {peer.confidence:.2f}" if peer.confidence is not None else "",
        )
        if part
    )
    body = peer.recommendation or peer.text
    if peer.rationale and peer.rationale != body:
        body = f"{body} — {peer.rationale}"
    line = f"- {peer.agent_id}" + (f" ({head})" if head else "") + f": {body}"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _output_line(spec: OutputSpec) -> str:
    kind = spec.type or "any JSON value"
    return f'- "{spec.name}" ({kind})' + (f": {spec.description}" if spec.description else "")


def build_prompt(persona: str, request: AgentRequest, *, max_context_chars: int = 12_000) -> ChatPrompt:
    """The system and user messages for one request. Deterministic (the cache keys on it)."""
    context = request.context
    sections = ["## Task", request.prompt.strip() or "(no query: give your view on the inputs)"]
    inputs = context.get("input")
    if inputs:
        sections += ["## Inputs", _dump(inputs, max_context_chars // 3)]
    phases = context.get("phases")
    if isinstance(phases, Mapping):
        earlier = {
            name: info.get("outputs")
            for name, info in phases.items()
            if isinstance(info, Mapping) and info.get("outputs")
        }
        if earlier:
            sections += ["## Earlier phases (their outputs)", _dump(earlier, max_context_chars // 2)]
    if request.peers:
        per_peer = max(200, max_context_chars // (4 * len(request.peers)))
        sections += [
            "## Earlier answers at this table (oldest first)",
            "\n".join(_peer_line(peer, per_peer) for peer in request.peers),
        ]
    lines = [_output_line(spec) for spec in request.outputs if spec.name not in _STANDARD_NAMES]
    lines += [f'- "{name}" ({kind})' for name, kind in STANDARD_FIELDS]
    sections += [
        "## Answer format",
        "Reply with exactly one JSON object and nothing else (no prose, no code fences). Its keys:\n"
        + "\n".join(lines)
        + "\nUse null only where the data to compute a value is missing, and say so in the rationale.",
    ]
    system = persona.strip() or f"You are {request.agent_id}, a careful analyst."
    return ChatPrompt(system=system, user="\n\n".join(sections))


def answer_schema(outputs: Sequence[OutputSpec]) -> dict[str, Any]:
    """JSON Schema for the answer (sent to servers that support structured output)."""
    properties: dict[str, Any] = {}
    for spec in outputs:
        if spec.name not in _STANDARD_NAMES:
            schema = dict(_JSON_TYPES.get(spec.type or "", {}))
            if spec.description:
                schema["description"] = spec.description
            properties[spec.name] = schema
    properties["stance"] = {"type": "string", "enum": ["bullish", "bearish", "neutral"]}
    properties["recommendation"] = {"type": "string"}
    properties["confidence"] = {"type": "number", "minimum": 0, "maximum": 1}
    properties["rationale"] = {"type": "string"}
    return {"type": "object", "properties": properties, "required": list(properties)}


def repair_message(error: str) -> str:
    return (
        "Your previous answer could not be used: "
        + error
        + "\nReply again with exactly one JSON object in the requested format, and nothing else."
    )


def _extract_json(text: str) -> Any:
    stripped = text.strip()
    candidates = [stripped]
    fenced = _FENCE.search(stripped)
    if fenced:
        candidates.append(fenced.group(1).strip())
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = error or exc
    assert error is not None
    raise AnswerInvalid(f"it is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})")


def validate_answer(text: str, outputs: Sequence[OutputSpec]) -> dict[str, Any]:
    """The validated answer as a dict (declared outputs, the standard fields, and any extra keys)."""
    from pydantic import ValidationError

    data = _extract_json(text)
    if not isinstance(data, dict):
        raise AnswerInvalid(f"it is JSON but not an object (got {type(data).__name__})")
    model = _answer_model(tuple((s.name, s.type) for s in outputs if s.name not in _STANDARD_NAMES))
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:12]
        ]
        raise AnswerInvalid("it does not match the schema: " + "; ".join(problems)) from None
    return validated.model_dump(by_alias=True)


@functools.lru_cache(maxsize=256)
def _answer_model(declared: tuple[tuple[str, str | None], ...]) -> type[BaseModel]:
    from typing import Literal

    from pydantic import ConfigDict, Field, create_model

    python_types: dict[str | None, Any] = {
        "string": str,
        "number": float,
        "integer": int,
        "boolean": bool,
        "list": list[Any],
        "object": dict[str, Any],
    }
    fields: dict[str, Any] = {
        "stance": (Literal["bullish", "bearish", "neutral"], ...),
        "recommendation": (str, ...),
        "confidence": (float, Field(ge=0.0, le=1.0)),
        "rationale": (str, ...),
    }
    for index, (name, kind) in enumerate(declared):
        # Declared names need not be valid Python identifiers: each gets a safe field name and its alias.
        # A declared output must be present; null is allowed (data missing, explained in the rationale).
        fields[f"output_{index}"] = (python_types.get(kind, Any) | None, Field(alias=name))
    return create_model("AgentAnswer", __config__=ConfigDict(extra="allow"), **fields)
