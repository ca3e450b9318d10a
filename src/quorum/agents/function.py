"""FunctionAgent: any Python callable (sync or async) as an agent."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import SCALAR_TYPES, frozen_mapping
from quorum.ids import AgentId

__all__ = ("AgentCallable", "FunctionAgent", "coerce_response", "freeze_data")

AgentCallable = Callable[[AgentRequest], "Any | Awaitable[Any]"]

_RESPONSE_FIELDS = ("stance", "recommendation", "confidence", "rationale")



def freeze_data(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """``frozen_mapping(value)`` — a read-only copy, nested dicts and lists frozen too — on a fast path.

    Runs once per agent answer. Scalars (most of an answer) are taken as they are with an exact-type
    test instead of ``frozen_mapping``'s ABC ``isinstance`` checks; only nested containers go the slow
    way. The copy is shallow for scalars (immutable anyway) and deep for containers, so an agent that
    keeps and mutates what it returned can never change a recorded answer.
    """
    if not value:
        return frozen_mapping()
    leaves = SCALAR_TYPES
    return MappingProxyType({k: v if type(v) in leaves else frozen_mapping(v) if isinstance(v, Mapping)
                             else _freeze_item(v) for k, v in value.items()})


def _freeze_item(value: Any) -> Any:
    if isinstance(value, list | tuple):
        leaves = SCALAR_TYPES
        return tuple(v if type(v) in leaves else _freeze_item(v) if not isinstance(v, Mapping)
                     else frozen_mapping(v) for v in value)
    return value


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
            data=freeze_data(value),
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
        return self.answer(value, started)

    @property
    def awaits_directly(self) -> bool:
        """True when :meth:`query` is ``await fn(request)`` then :meth:`answer`: a caller may do those
        two steps itself and save a coroutine per call (the manager's plain path does)."""
        return self._is_async

    def answer(self, value: Any, started: float) -> AgentResponse:
        """The response for ``value``, what ``fn`` returned for a call begun at ``started``
        (``time.perf_counter()``)."""
        return coerce_response(
            self.id, value, latency_ms=(time.perf_counter() - started) * 1000.0, model=self._model
        )
