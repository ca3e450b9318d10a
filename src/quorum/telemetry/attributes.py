"""Span attributes from events: the GenAI semantic conventions plus quorum's own, as plain dicts.

Nothing here imports OpenTelemetry, so the mapping is tested on its own and costs nothing when tracing
is off. Only what the events carry becomes an attribute: ids, names, counts, models, costs. Text an agent
answered goes in only with ``capture_content`` (it may hold confidential data) and passes through
:func:`~quorum.agents.secrets.redact` first; the engine's events never hold an API key, and
:func:`scrub` masks any registered key that would reach an attribute all the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from quorum.agents.secrets import redact
from quorum.events import Event

__all__ = (
    "LOCAL_PROVIDERS",
    "AttributeValue",
    "agent_attributes",
    "chat_attributes",
    "model_parts",
    "response_attributes",
    "response_model",
    "scrub",
    "task_version",
)

AttributeValue = str | bool | int | float
LOCAL_PROVIDERS: Final = frozenset({"builtin", "python", "scripted", "function", ""})
"""Model prefixes of agents answered in this process (no model call: no ``chat`` span)."""


def model_parts(model: str | None) -> tuple[str, str]:
    """``openai:gpt-4.1-mini`` -> ("openai", "gpt-4.1-mini"); a bare name has no provider."""
    if not model:
        return "", ""
    provider, sep, name = model.partition(":")
    return (provider, name) if sep else ("", model)


def task_version(start: Event) -> str:
    """The task's version as ``execution:start`` records it: its declared version when the recorded
    definition has one besides the default, else the first 12 characters of its content hash."""
    task = start.data.get("task")
    declared = task.get("version") if isinstance(task, Mapping) else None
    if isinstance(declared, str) and declared and declared != "0.0.0":
        return declared
    digest = start.data.get("task_hash")
    return str(digest)[:12] if digest else ""


def scrub(value: AttributeValue) -> AttributeValue:
    return redact(value) if isinstance(value, str) else value


def agent_attributes(event: Event) -> dict[str, AttributeValue]:
    """``invoke_agent`` span attributes known at ``agent:start``."""
    data = event.data
    out: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.id": str(event.agent),
        "gen_ai.agent.name": str(event.agent),
        "quorum.execution.id": str(event.execution_id),
        "quorum.phase": str(event.phase),
        "quorum.round": int(data.get("round", 0)),
        "quorum.attempt": int(data.get("attempt", 1)),
    }
    if event.task:
        out["quorum.task"] = event.task
    if event.step is not None:
        out["quorum.step"] = event.step
    return out


def response_model(response: Mapping[str, Any]) -> str:
    """``gen_ai.response.model``: the model the provider says answered (``response_model`` of the answer,
    e.g. a dated snapshot of the model asked for), never merely the one requested. An agent answered in
    this process (``builtin:``, ``python:``) is its own model; a remote answer that does not report one
    has none ("")."""
    reported = response.get("response_model")
    if isinstance(reported, str) and reported:
        return model_parts(reported)[1]
    provider, name = model_parts(response.get("model"))
    return name if provider in LOCAL_PROVIDERS else ""


def response_attributes(response: Mapping[str, Any], *, capture_content: bool) -> dict[str, AttributeValue]:
    """What an ``agent:response`` adds to its ``invoke_agent`` span."""
    provider, name = model_parts(response.get("model"))
    out: dict[str, AttributeValue] = {"quorum.cached": bool(response.get("cached"))}
    if provider:
        out["gen_ai.provider.name"] = provider
    if name:
        out["gen_ai.request.model"] = name
    answered_by = response_model(response)
    if answered_by:
        out["gen_ai.response.model"] = answered_by
    out.update(_usage(response))
    cost = response.get("cost_usd")
    if cost is not None:
        out["quorum.cost_usd"] = float(cost)
    vote = _vote(response)
    if vote is not None:
        out["quorum.vote"] = vote
    if capture_content:
        out.update(_content(response))
    return out


def chat_attributes(response: Mapping[str, Any], *, capture_content: bool) -> dict[str, AttributeValue]:
    """The ``chat`` span of an LLM agent's model call."""
    provider, name = model_parts(response.get("model"))
    out: dict[str, AttributeValue] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                                      "gen_ai.request.model": name}
    answered_by = response_model(response)
    if answered_by:
        out["gen_ai.response.model"] = answered_by
    out.update(_usage(response))
    if capture_content:
        out.update(_content(response))
    return out


def _usage(response: Mapping[str, Any]) -> dict[str, AttributeValue]:
    return {"gen_ai.usage.input_tokens": int(response.get("tokens_in") or 0),
            "gen_ai.usage.output_tokens": int(response.get("tokens_out") or 0)}


def _vote(response: Mapping[str, Any]) -> str | None:
    """The agent's vote: a ``vote`` it answered, else its stance or recommendation."""
    data = response.get("data")
    for value in ((data or {}).get("vote") if isinstance(data, Mapping) else None,
                  response.get("stance"), response.get("recommendation")):
        if isinstance(value, str) and value:
            return redact(value)
    return None


def _content(response: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The answer as ``gen_ai.output.messages`` (the conventions' JSON shape), secrets masked."""
    text = response.get("text") or ""
    if not text and response.get("data"):
        text = json.dumps(response.get("data"), default=str, sort_keys=True)
    message = [{"role": "assistant", "parts": [{"type": "text", "content": redact(str(text))}]}]
    return {"gen_ai.output.messages": json.dumps(message)}
