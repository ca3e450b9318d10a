"""FunctionAgent: any Python callable (sync or async) as an agent."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import frozen_mapping
from quorum.ids import AgentId

__all__ = ("AgentCallable", "FunctionAgent", "coerce_response")

AgentCallable = Callable[[AgentRequest], "Any | Awaitable[Any]"]


def coerce_response(agent_id: AgentId, value: Any, *, latency_ms: float, model: str | None) -> AgentResponse:
    """Turn what a callable returned (text, dict, or AgentResponse) into an AgentResponse.

    A dict's ``stance``/``recommendation``/``confidence``/``rationale``/``text`` keys fill those fields;
    the whole dict is the structured ``data``.
    """
    if isinstance(value, AgentResponse):
        return value if value.latency_ms else value.with_(latency_ms=latency_ms)
    if isinstance(value, str):
        return AgentResponse(agent_id=agent_id, text=value, latency_ms=latency_ms, model=model)
    if isinstance(value, Mapping):
        stance = value.get("stance")
        confidence = value.get("confidence")
        return AgentResponse(
            agent_id=agent_id,
            text=str(value.get("text") or value.get("rationale") or ""),
            data=frozen_mapping(value),
            stance=stance if stance in ("bullish", "bearish", "neutral") else None,
            recommendation=_str_or_none(value.get("recommendation")),
            confidence=float(confidence) if isinstance(confidence, int | float) else None,
            rationale=_str_or_none(value.get("rationale")),
            latency_ms=latency_ms,
            model=model,
        )
    raise TypeError(
        f"agent {agent_id!r} returned {type(value).__name__}; return a str, a dict or an AgentResponse"
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class FunctionAgent:
    """Wraps ``fn(request)`` (sync or async) returning str, dict or AgentResponse.

    Sync callables run in the event loop thread (they should be quick); pass ``in_thread=True`` for
    blocking ones.
    """

    __slots__ = ("_is_async", "_model", "fn", "id", "in_thread")

    def __init__(
        self, agent_id: str, fn: AgentCallable, *, model: str | None = None, in_thread: bool = False
    ) -> None:
        self.id = AgentId(agent_id)
        self.fn = fn
        self.in_thread = in_thread
        self._model = model or f"python:{getattr(fn, '__qualname__', type(fn).__name__)}"
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an async __call__ on an object
        )

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        started = time.perf_counter()
        if self._is_async:
            value = await self.fn(request)
        elif self.in_thread:
            value = await asyncio.to_thread(self.fn, request)
        else:
            value = self.fn(request)
            if inspect.isawaitable(value):
                value = await value
        latency_ms = (time.perf_counter() - started) * 1000.0
        return coerce_response(self.id, value, latency_ms=latency_ms, model=self._model)
