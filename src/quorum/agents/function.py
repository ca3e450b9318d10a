"""FunctionAgent: any Python callable (sync or async) as an agent.

A plain ``def`` runs in a worker thread (``asyncio.to_thread``, the loop's bounded default executor),
so that a blocking one cannot stall the event loop: every timeout — the agent's, the phase's, the
task's — still fires on time, and the execution moves on while the thread finishes on its own. An
``async def`` runs on the loop. ``in_thread=False`` keeps a quick, non-blocking ``def`` on the loop.

What the callable returns is checked as an LLM's answer is (see :func:`coerce_response` and
:func:`check_outputs`): a bad answer is an :class:`~quorum.errors.AgentError` naming the agent and the
field, never a silently dropped value.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from quorum.agents.answer_shape import answer_shape, choices_of, describe_choices
from quorum.agents.protocol import AgentRequest, AgentResponse, Stance
from quorum.definition.model import OutputSpec, frozen_mapping
from quorum.errors import AgentError
from quorum.ids import AgentId

__all__ = ("AgentCallable", "FunctionAgent", "check_outputs", "coerce_response")

AgentCallable = Callable[[AgentRequest], "Any | Awaitable[Any]"]

_STANCES = ("bullish", "bearish", "neutral")
_TEXT_FIELDS = ("recommendation", "rationale", "text")


def coerce_response(agent_id: AgentId, value: Any, *, latency_ms: float, model: str | None) -> AgentResponse:
    """Turn what a callable returned (text, dict, or AgentResponse) into an AgentResponse.

    A dict's ``stance``/``recommendation``/``confidence``/``rationale``/``text`` keys fill those fields;
    the whole dict is the structured ``data``. As for an LLM's answer, a confidence must be a number
    from 0 to 1, the text fields text, and an AgentResponse's stance bullish, bearish or neutral (each
    may be left out); anything else raises :class:`AgentError` naming the agent and the field. A dict's
    ``stance`` must be text: bullish, bearish or neutral fill the typed stance; another word is the
    workflow's own vocabulary (``for``/``against``), kept in ``data`` for the aggregates that count it.
    """
    if isinstance(value, AgentResponse):
        _check_stance(agent_id, value.stance)
        _check_confidence(agent_id, value.confidence)
        return value if value.latency_ms else value.with_(latency_ms=latency_ms)
    if isinstance(value, str):
        return AgentResponse(agent_id=agent_id, text=value, latency_ms=latency_ms, model=model)
    if isinstance(value, Mapping):
        stance = value.get("stance")
        if stance is not None and not isinstance(stance, str):
            raise AgentError(
                agent_id, f"answered stance {stance!r}; a stance is text: bullish, bearish or neutral"
            )
        confidence = value.get("confidence")
        _check_confidence(agent_id, confidence)
        for name in _TEXT_FIELDS:
            if isinstance(value.get(name), Mapping | list | tuple):
                raise AgentError(
                    agent_id, f"answered {name!r} as {type(value[name]).__name__}; {name} is text (a str)"
                )
        return AgentResponse(
            agent_id=agent_id,
            text=str(value.get("text") or value.get("rationale") or ""),
            data=frozen_mapping(value),
            stance=_typed_stance(stance),
            recommendation=_str_or_none(value.get("recommendation")),
            confidence=None if confidence is None else float(confidence),
            rationale=_str_or_none(value.get("rationale")),
            latency_ms=latency_ms,
            model=model,
        )
    raise AgentError(agent_id, f"returned {type(value).__name__}; return a str, a dict or an AgentResponse")


def check_outputs(
    agent_id: str, data: Mapping[str, Any], outputs: Sequence[OutputSpec], owned: Sequence[str] | None
) -> None:
    """The phase's outputs in an answer's ``data``, checked as an LLM's are: each output the agent
    owns is there (null where its data is missing), and an output that names its allowed values
    holds one of them (each item, for a list)."""
    for spec in answer_shape(outputs, owned).required:
        if spec.name not in data:
            raise AgentError(
                agent_id,
                f"its answer lacks {spec.name!r}, an output it owns; add the key "
                "(null where the data to compute it is missing)",
            )
    for spec in outputs:
        values = choices_of(spec)
        if values is None or data.get(spec.name) is None:
            continue
        given = data[spec.name]
        items = given if spec.type == "list" and isinstance(given, list | tuple) else (given,)
        for item in items:
            if item not in values:
                raise AgentError(
                    agent_id,
                    f"answered {spec.name!r} = {item!r}; it must be {describe_choices(values)}"
                    + (" (each item)" if spec.type == "list" else ""),
                )


def _check_stance(agent_id: str, stance: Any) -> None:
    if stance is not None and stance not in _STANCES:
        raise AgentError(
            agent_id, f"answered stance {stance!r}; a stance is bullish, bearish or neutral (or leave it out)"
        )


def _check_confidence(agent_id: str, confidence: Any) -> None:
    if confidence is None:
        return
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise AgentError(
            agent_id, f"answered confidence {confidence!r}; a confidence is a number from 0 to 1"
        )
    if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
        raise AgentError(agent_id, f"answered confidence {confidence!r}; a confidence is from 0 to 1")


def _typed_stance(stance: str | None) -> Stance | None:
    return cast("Stance", stance) if stance in _STANCES else None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class FunctionAgent:
    """Wraps ``fn(request)`` (sync or async) returning str, dict or AgentResponse.

    A sync callable runs in a worker thread unless ``in_thread=False``. ``outputs``: the phase outputs
    the agent owns (its agent file's ``outputs:``), each of which its answers must hold.
    """

    __slots__ = ("_is_async", "_model", "fn", "id", "in_thread", "outputs")

    def __init__(
        self,
        agent_id: str,
        fn: AgentCallable,
        *,
        model: str | None = None,
        in_thread: bool = True,
        outputs: Sequence[str] | None = None,
    ) -> None:
        self.id = AgentId(agent_id)
        self.fn = fn
        self.in_thread = in_thread
        self.outputs = None if outputs is None else tuple(outputs)
        self._model = model or f"python:{getattr(fn, '__qualname__', type(fn).__name__)}"
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an async __call__ on an object
        )

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        started = time.perf_counter()
        if self._is_async:
            value = await self.fn(request)
        elif self.in_thread:
            # Cancelling the await (a timeout) lets the execution go on; the thread ends on its own.
            value = await asyncio.to_thread(self.fn, request)
        else:
            value = self.fn(request)
        if inspect.isawaitable(value):
            value = await value
        latency_ms = (time.perf_counter() - started) * 1000.0
        response = coerce_response(self.id, value, latency_ms=latency_ms, model=self._model)
        if request.outputs:
            check_outputs(self.id, response.data, request.outputs, self.outputs)
        return response
