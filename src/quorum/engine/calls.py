"""AgentCaller: one agent call, and many at once (a parallel prompt step's fan-out).

A call never raises an ``Exception``: a failure (the agent raised, or gave no answer within the agent
timeout) is an answer with ``error`` set, recorded as ``agent:error``; a success is ``agent:response``.
Two things do escape: :class:`~quorum.errors.BudgetExceededError` (the execution's budget is spent, so
nothing more may run) and ``BaseException``s such as cancellation and interrupts.

Each call has a stable key, ``phase/step/agent/round/attempt``. A resumed execution is given the answers
its journal recorded by key, and answers those calls from there instead of asking again.

Streaming: when someone listens for ``agent:chunk``, the request's ``metadata["on_chunk"]`` is a
callback that LLM agents call with each piece of streamed text (see :class:`EventEmitter.streamer`).

Cache outages: every request's ``metadata["on_cache_warning"]`` is a callback that the agent manager
calls when the response cache is unavailable for that call; the first call of an execution to meet it
emits ``cache:unavailable`` (the cache's location, password masked, and the reason), the others nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from quorum.agents.protocol import AgentDirectory, AgentRequest, AgentResponse
from quorum.definition.model import OutputSpec, Phase
from quorum.engine.context import ExecutionContext
from quorum.engine.options import RunOptions
from quorum.engine.ports import Emitter
from quorum.errors import BudgetExceededError
from quorum.events import EventType, response_event_data
from quorum.ids import AgentId
from quorum.steps.aggregate import computed_outputs

__all__ = ("ON_CACHE_WARNING", "ON_CHUNK", "AgentCaller", "AttemptAnswers", "call_key")

ON_CHUNK = "on_chunk"
"""The request metadata key of the streaming callback (``quorum.agents.llm.ON_CHUNK``)."""

ON_CACHE_WARNING = "on_cache_warning"
"""The request metadata key of the cache-outage callback (``quorum.agents.cache.ON_CACHE_WARNING``)."""


def call_key(phase: str, step: int, agent: str, rnd: int, attempt: int) -> str:
    # Interned: every execution of a task makes the same keys, and a journal keeps each one.
    return sys.intern(f"{phase}/{step}/{agent}/{rnd}/{attempt}")


@dataclass(slots=True)
class AttemptAnswers:
    """The answers of one attempt at a phase, in the order they came, with each one's call key
    (checkpoint snapshots refer to journaled answers by key instead of copying them)."""

    phase: Phase
    attempt: int
    answers: list[AgentResponse] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    asked_outputs: tuple[OutputSpec, ...] = field(init=False)
    """The phase's outputs an agent may answer: not those its aggregate steps compute."""

    def __post_init__(self) -> None:
        computed = computed_outputs(self.phase)
        self.asked_outputs = tuple(spec for spec in self.phase.outputs if spec.name not in computed)

    def keep(self, answer: AgentResponse, key: str) -> None:
        self.answers.append(answer)
        self.keys.append(key)


class AgentCaller:
    __slots__ = ("_cache_told", "_ctx", "_directory", "_emitter", "_metadata", "_options", "_recorded")

    def __init__(
        self,
        ctx: ExecutionContext,
        emitter: Emitter,
        directory: AgentDirectory,
        options: RunOptions,
        recorded: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._ctx = ctx
        self._emitter = emitter
        self._directory = directory
        self._options = options
        self._recorded = recorded or {}
        self._cache_told = False
        # One mapping for every call without streaming (a wide fan-out makes many requests).
        self._metadata: Mapping[str, Any] = MappingProxyType({ON_CACHE_WARNING: self._cache_unavailable})

    def _cache_unavailable(self, request: AgentRequest, location: str, reason: str) -> None:
        """The response cache is off for this call: the execution's ``cache:unavailable``, once."""
        if self._cache_told:
            return
        self._cache_told = True
        self._emitter.emit(EventType.CACHE_UNAVAILABLE, phase=request.phase, step=request.step,
                           agent=AgentId(request.agent_id), data={"location": location, "reason": reason})

    async def call(
        self,
        answers: AttemptAnswers,
        agent_id: AgentId,
        prompt: str,
        step: int,
        rnd: int,
        peers: tuple[AgentResponse, ...],
        context: Mapping[str, Any],
    ) -> AgentResponse:
        """Ask one agent (or answer from the journal of a resumed execution)."""
        phase = answers.phase.name
        key = call_key(phase, step, agent_id, rnd, answers.attempt)
        recorded = self._recorded.get(key)
        if recorded is not None:
            response = AgentResponse.from_dict(recorded)
            self._ctx.record_usage(response)
            answers.keep(response, key)
            return response
        self._emitter.emit(EventType.AGENT_START, phase=phase, step=step, agent=agent_id,
                           data={"call_key": key, "round": rnd, "attempt": answers.attempt})
        streamer = self._emitter.streamer(phase, step, agent_id)
        request = AgentRequest(
            agent_id=agent_id, prompt=prompt, execution_id=self._ctx.id, phase=phase, step=step, round=rnd,
            attempt=answers.attempt, context=context, peers=peers, outputs=answers.asked_outputs,
            timeout_s=self._options.agent_timeout_s, abort=self._ctx.get_abort_signal(),
            metadata=self._metadata if streamer is None else MappingProxyType(
                {ON_CHUNK: streamer, ON_CACHE_WARNING: self._cache_unavailable}),
        )
        started = time.perf_counter()
        timeout_s = self._options.agent_timeout_s
        try:
            if timeout_s is None:
                response = await self._directory.query(request)
            else:
                async with asyncio.timeout(timeout_s):
                    response = await self._directory.query(request)
        except BudgetExceededError:
            raise
        except Exception as exc:
            return self._failed(answers, agent_id, step, rnd, key, started, exc)
        return self._answered(answers, agent_id, step, rnd, key, started, response)

    async def fan_out(
        self,
        answers: AttemptAnswers,
        agents: Sequence[AgentId],
        prompt: str,
        step: int,
        rnd: int,
        peers: tuple[AgentResponse, ...],
        context: Mapping[str, Any],
    ) -> list[AgentResponse]:
        """Ask every agent at once, at most ``max_concurrent_agents`` in flight; answers in agent order.

        The first call to raise (a budget stop, an interrupt) cancels the others and is raised bare, as
        a single call raises it."""
        n = len(agents)
        limit = self._options.max_concurrent_agents
        bounded = limit is not None and limit < n
        try:
            async with asyncio.TaskGroup() as group:
                if limit is None or not bounded:
                    # One copy of the context variables for the whole fan-out, as for one call, not one
                    # per task: a wide fan-out holds every call's at once (benchmarks/PROFILE.md).
                    shared = contextvars.copy_context()
                    calls = [group.create_task(self.call(answers, agent, prompt, step, rnd, peers, context),
                                               context=shared)
                             for agent in agents]
                else:
                    out: list[AgentResponse | None] = [None] * n
                    pending = iter(range(n))

                    async def worker() -> None:
                        # A fixed pool pulling the next agent: at most ``limit`` calls (and tasks) at once.
                        for i in pending:
                            out[i] = await self.call(answers, agents[i], prompt, step, rnd, peers, context)

                    for _ in range(limit):
                        group.create_task(worker())
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None
        if not bounded:
            return [call.result() for call in calls]
        return [answer for answer in out if answer is not None]

    def _answered(
        self, answers: AttemptAnswers, agent_id: AgentId, step: int, rnd: int, key: str, started: float,
        response: AgentResponse,
    ) -> AgentResponse:
        elapsed = (time.perf_counter() - started) * 1000.0
        if response.agent_id != agent_id:
            response = response.with_(agent_id=agent_id)
        self._ctx.record_usage(response)
        answers.keep(response, key)
        self._emitter.emit(EventType.AGENT_RESPONSE, phase=answers.phase.name, step=step, agent=agent_id,
                           duration_ms=elapsed, error=response.error,
                           data=response_event_data(key, rnd, answers.attempt, response))
        return response

    def _failed(
        self, answers: AttemptAnswers, agent_id: AgentId, step: int, rnd: int, key: str, started: float,
        exc: Exception,
    ) -> AgentResponse:
        elapsed = (time.perf_counter() - started) * 1000.0
        if isinstance(exc, TimeoutError) and self._options.agent_timeout_s is not None:
            message = f"agent {agent_id!r}: no answer within {self._options.agent_timeout_s:g}s"
        else:
            message = str(exc) or type(exc).__name__
        response = AgentResponse(agent_id=agent_id, error=message, latency_ms=elapsed)
        self._ctx.record_usage(response)
        answers.keep(response, key)
        self._emitter.emit(EventType.AGENT_ERROR, phase=answers.phase.name, step=step, agent=agent_id,
                           duration_ms=elapsed, error=message,
                           data={"call_key": key, "round": rnd, "attempt": answers.attempt,
                                 "error_type": type(exc).__name__})
        return response
