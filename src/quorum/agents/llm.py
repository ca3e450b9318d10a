"""LLMAgent: persona + prompt → a chat transport → validated JSON, with one repair re-prompt.

The agent is asked for its own part of the phase only: the outputs its file says it owns (``outputs:``),
never an aggregate or another agent's output (see :mod:`quorum.agents.answer_shape`). An answer that is
not that JSON — a missing key, a wrong type, a value outside an output's allowed values — gets the
repair re-prompt. A ``response_format: text`` agent is asked for plain text, and its text is its answer.

Transports (``openai_chat``, ``anthropic_messages``, or a provider's own) implement one method,
``complete(call) -> ChatResult``. The agent never falls back to a default answer: an answer that is
still invalid after the repair prompt raises :class:`~quorum.errors.AgentError`.

Streaming: when the request's ``metadata["on_chunk"]`` is a callable (the engine sets it to emit
``agent:chunk`` events) or the agent was given an ``on_chunk`` hook, text arrives piece by piece —
unless the agent file says ``stream: false``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from quorum.agents.answer_shape import AnswerShape, answer_shape
from quorum.agents.definitions import AgentDefinition
from quorum.agents.prompting import (
    AnswerInvalid,
    ChatPrompt,
    answer_schema,
    build_prompt,
    repair_message,
    validate_answer,
)
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.agents.secrets import redact
from quorum.definition.model import frozen_mapping
from quorum.errors import AgentError

__all__ = ("ON_CHUNK", "ChatCall", "ChatResult", "ChatTransport", "ChunkHook", "LLMAgent")

ON_CHUNK = "on_chunk"
"""Key in ``AgentRequest.metadata``: ``callable(text: str)`` receiving streamed text."""

ChunkHook = Callable[[AgentRequest, str], object]
_EMPTY: Mapping[str, Any] = frozen_mapping()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatCall:
    """One chat completion, provider-neutral. ``messages`` are (role, content) pairs after the system."""

    model: str
    system: str
    messages: tuple[tuple[str, str], ...]
    temperature: float | None = None
    max_tokens: int | None = None
    response_format: str = "json_object"
    schema: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    on_chunk: Callable[[str], object] | None = None
    timeout_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatResult:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    model: str | None = None


class ChatTransport(Protocol):
    async def complete(self, call: ChatCall, /) -> ChatResult: ...


class LLMAgent:
    """An agent answered by a chat model. Holds no secret itself: the transport does, privately."""

    __slots__ = ("default_response_format", "definition", "model_name", "on_chunk", "transport")

    def __init__(
        self,
        definition: AgentDefinition,
        transport: ChatTransport,
        *,
        model_name: str,
        default_response_format: str = "json_object",
        on_chunk: ChunkHook | None = None,
    ) -> None:
        self.definition = definition
        self.transport = transport
        self.model_name = model_name
        self.default_response_format = default_response_format
        self.on_chunk = on_chunk

    def __repr__(self) -> str:
        return f"LLMAgent(id={self.definition.id!r}, model={self.definition.model!r})"

    def unready(self) -> str | None:
        """Why this agent cannot be called at all (its provider has no API key); None when it can."""
        check = getattr(self.transport, "unready", None)
        return check() if callable(check) else None

    async def aclose(self) -> None:
        """Close the transport's connections (the manager's ``aclose`` calls this)."""
        close = getattr(self.transport, "aclose", None)
        if close is not None:
            await close()

    @property
    def response_format(self) -> str:
        return self.definition.response_format or self.default_response_format

    @property
    def plain_text(self) -> bool:
        """The agent file asked for plain-text answers. (A provider's default of ``text`` — Anthropic's,
        which has no JSON mode — still asks for JSON, in the prompt.)"""
        return self.definition.response_format == "text"

    def shape(self, request: AgentRequest) -> AnswerShape:
        """The keys this agent's answer holds in the request's phase: the outputs it owns."""
        return answer_shape(request.outputs, self.definition.outputs)

    def _prompt(self, request: AgentRequest, shape: AnswerShape) -> ChatPrompt:
        return build_prompt(self.definition.persona, request, shape=shape, plain_text=self.plain_text)

    def cache_material(self, request: AgentRequest) -> dict[str, Any]:
        """What the answer depends on: the full prompt and every generation parameter."""
        shape = self.shape(request)
        prompt = self._prompt(request, shape)
        return {
            "system": prompt.system,
            "user": prompt.user,
            "model": self.definition.model,
            "temperature": self.definition.temperature,
            "max_tokens": self.definition.max_tokens,
            "response_format": self.response_format,
            "options": dict(self.definition.options),
            "outputs": [
                (s.name, s.type, s.description, required)
                for specs, required in ((shape.required, True), (shape.optional, False))
                for s in specs
            ],
        }

    def _chunk_sink(self, request: AgentRequest) -> Callable[[str], object] | None:
        if self.definition.stream is False:  # the agent file turned streaming off (some servers lack it)
            return None
        from_request = request.metadata.get(ON_CHUNK) if request.metadata else None
        hook = self.on_chunk
        if from_request is None and hook is None:
            return None
        if hook is None:
            return from_request if callable(from_request) else None

        def sink(text: str) -> None:
            if callable(from_request):
                from_request(text)
            hook(request, text)

        return sink

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        started = time.perf_counter()
        definition = self.definition
        shape = self.shape(request)
        prompt = self._prompt(request, shape)
        response_format = self.response_format
        call = ChatCall(
            model=self.model_name,
            system=prompt.system,
            messages=(("user", prompt.user),),
            temperature=definition.temperature,
            max_tokens=definition.max_tokens,
            response_format=response_format,
            schema=(
                answer_schema(shape.required, optional=shape.optional)
                if response_format == "json_schema"
                else None
            ),
            options=definition.options,
            on_chunk=self._chunk_sink(request),
            timeout_s=request.timeout_s or definition.timeout_s,
        )
        result = await self.transport.complete(call)
        tokens_in, tokens_out = result.tokens_in, result.tokens_out
        if self.plain_text:
            return AgentResponse(
                agent_id=request.agent_id,
                text=redact(result.text),
                latency_ms=(time.perf_counter() - started) * 1000.0,
                model=definition.model,
                response_model=result.model,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                cost_usd=self._cost(tokens_in, tokens_out),
            )
        try:
            data = validate_answer(result.text, shape.required, optional=shape.optional)
        except AnswerInvalid as first:
            # One repair round: show the model its answer and what was wrong with it.
            repair = ChatCall(
                model=call.model,
                system=call.system,
                messages=(*call.messages, ("assistant", result.text), ("user", repair_message(str(first)))),
                temperature=call.temperature,
                max_tokens=call.max_tokens,
                response_format=call.response_format,
                schema=call.schema,
                options=call.options,
                on_chunk=call.on_chunk,
                timeout_s=call.timeout_s,
            )
            result = await self.transport.complete(repair)
            tokens_in += result.tokens_in
            tokens_out += result.tokens_out
            try:
                data = validate_answer(result.text, shape.required, optional=shape.optional)
            except AnswerInvalid as second:
                raise AgentError(
                    request.agent_id, f"invalid answer after one repair attempt: {redact(str(second))}"
                ) from None
        text = redact(result.text)
        data = _redact_values(data)
        return AgentResponse(
            agent_id=request.agent_id,
            text=text,
            data=frozen_mapping(data),
            stance=data["stance"],
            recommendation=data["recommendation"],
            confidence=float(data["confidence"]),
            rationale=data["rationale"],
            latency_ms=(time.perf_counter() - started) * 1000.0,
            model=definition.model,
            response_model=result.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=self._cost(tokens_in, tokens_out),
        )

    def _cost(self, tokens_in: int, tokens_out: int) -> float | None:
        d = self.definition
        if d.price_in_per_mtok is None and d.price_out_per_mtok is None:
            return None
        return (tokens_in * (d.price_in_per_mtok or 0.0) + tokens_out * (d.price_out_per_mtok or 0.0)) / 1e6


def _redact_values(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_values(v) for v in value]
    return value
