"""Prompts for LLM agents, and the validation of their JSON answers.

system = the agent's persona; user = the step's query, a compact context (inputs, earlier phase outputs,
earlier answers of the round table) and an explicit instruction to answer with one JSON object holding the
agent's own outputs (see :mod:`quorum.agents.answer_shape`: never the outputs a step computes or another
agent owns) plus ``stance``, ``recommendation``, ``confidence`` and ``rationale``; or, for an agent whose
``response_format`` is ``text``, to answer in plain text.
Answers are validated with a pydantic model built (lazily, cached) from those outputs: an output whose
description names its allowed values accepts only them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quorum.agents.answer_shape import STANDARD_NAMES, AnswerShape, choices_of, describe_choices
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
    line = f'- "{spec.name}" ({kind})' + (f": {spec.description}" if spec.description else "")
    values = choices_of(spec)
    if values is not None:
        each = "each item one of" if spec.type == "list" else "exactly one of"
        line += f" [{each} {describe_choices(values)}]"
    return line


def _answer_format(shape: AnswerShape, *, plain_text: bool) -> str:
    if plain_text:
        return (
            "Reply in plain text, whatever answer format other instructions name: your answer first, then"
            " why, citing the numbers you used. Say so plainly where the data you need is missing."
        )
    lines = [_output_line(spec) for spec in shape.required]
    lines += [f'- "{name}" ({kind})' for name, kind in STANDARD_FIELDS]
    text = (
        "Reply with exactly one JSON object and nothing else (no prose, no code fences). Its keys:\n"
        + "\n".join(lines)
    )
    if shape.optional:
        text += (
            "\nAdd any of these keys only if your role produces it (leave out the others; the workflow or"
            " other agents provide them):\n" + "\n".join(_output_line(spec) for spec in shape.optional)
        )
    return text + "\nUse null only where the data to compute a value is missing, and say so in the rationale."


def build_prompt(
    persona: str,
    request: AgentRequest,
    *,
    shape: AnswerShape | None = None,
    plain_text: bool = False,
    max_context_chars: int = 12_000,
) -> ChatPrompt:
    """The system and user messages for one request. Deterministic (the cache keys on it).

    ``shape``: the keys the answer holds (default: every output of ``request.outputs``, required);
    ``plain_text``: ask for a plain-text answer instead of JSON."""
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
    if shape is None:
        shape = AnswerShape(required=tuple(s for s in request.outputs if s.name not in STANDARD_NAMES))
    sections += ["## Answer format", _answer_format(shape, plain_text=plain_text)]
    system = persona.strip() or f"You are {request.agent_id}, a careful analyst."
    return ChatPrompt(system=system, user="\n\n".join(sections))


def _property(spec: OutputSpec) -> dict[str, Any]:
    schema: dict[str, Any] = dict(_JSON_TYPES.get(spec.type or "", {}))
    values = choices_of(spec)
    if values is not None:
        if spec.type == "list":
            schema["items"] = {"type": "string", "enum": list(values)}
        else:
            schema["enum"] = list(values)
    if spec.description:
        schema["description"] = spec.description
    return schema


def answer_schema(outputs: Sequence[OutputSpec], *, optional: Sequence[OutputSpec] = ()) -> dict[str, Any]:
    """JSON Schema for the answer (sent to servers that support structured output): ``outputs`` and the
    standard fields required, ``optional`` offered. An output that names its values is an ``enum``."""
    properties: dict[str, Any] = {}
    for spec in outputs:
        if spec.name not in STANDARD_NAMES:
            properties[spec.name] = _property(spec)
    properties["stance"] = {"type": "string", "enum": ["bullish", "bearish", "neutral"]}
    properties["recommendation"] = {"type": "string"}
    properties["confidence"] = {"type": "number", "minimum": 0, "maximum": 1}
    properties["rationale"] = {"type": "string"}
    required = list(properties)
    for spec in optional:
        if spec.name not in STANDARD_NAMES and spec.name not in properties:
            properties[spec.name] = _property(spec)
    return {"type": "object", "properties": properties, "required": required}


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


def validate_answer(
    text: str, outputs: Sequence[OutputSpec], *, optional: Sequence[OutputSpec] = ()
) -> dict[str, Any]:
    """The validated answer as a dict (the outputs, those of ``optional`` it gave, the standard fields,
    and any extra keys). An output that names its allowed values accepts only them."""
    from pydantic import ValidationError

    data = _extract_json(text)
    if not isinstance(data, dict):
        raise AnswerInvalid(f"it is JSON but not an object (got {type(data).__name__})")
    declared = tuple(
        (s.name, s.type, choices_of(s), required)
        for specs, required in ((outputs, True), (optional, False))
        for s in specs
        if s.name not in STANDARD_NAMES
    )
    model = _answer_model(declared)
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:12]
        ]
        raise AnswerInvalid("it does not match the schema: " + "; ".join(problems)) from None
    return validated.model_dump(by_alias=True, exclude_unset=True)


@functools.lru_cache(maxsize=256)
def _answer_model(
    declared: tuple[tuple[str, str | None, tuple[str, ...] | None, bool], ...],
) -> type[BaseModel]:
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
    seen: set[str] = set()
    for index, (name, kind, values, required) in enumerate(declared):
        if name in seen:
            continue  # a name declared twice is checked once, as first declared
        seen.add(name)
        python_type: Any = python_types.get(kind, Any)
        if values is not None:
            allowed = Literal[values]  # type: ignore[valid-type]  # the values are only known at run time
            python_type = list[allowed] if kind == "list" else allowed
        # Declared names need not be valid Python identifiers: each gets a safe field name and its alias.
        # An owned output must be present; null is allowed (data missing, explained in the rationale).
        field_info = Field(alias=name) if required else Field(default=None, alias=name)
        fields[f"output_{index}"] = (python_type | None, field_info)
    return create_model("AgentAnswer", __config__=ConfigDict(extra="allow"), **fields)
