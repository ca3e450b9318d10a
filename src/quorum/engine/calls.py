"""One agent call, and many at once: the engine's hot path.

Kept lean on purpose (issue 7): no copies of the context or of the peers per call, events built only
when someone listens (the sequence number still advances), one ``AgentRequest`` per call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.engine.results import response_dict
from quorum.errors import BudgetExceededError
from quorum.events import EventType
from quorum.ids import AgentId

if TYPE_CHECKING:
    from quorum.engine.phases import PhaseRunner

__all__ = ("call_agent", "fan_out")

_START = EventType.AGENT_START
_RESPONSE = EventType.AGENT_RESPONSE
_ERROR = EventType.AGENT_ERROR
_perf = time.perf_counter


async def call_agent(
    runner: PhaseRunner,
    agent_id: AgentId,
    prompt: str,
    step: int,
    rnd: int,
    peers: tuple[AgentResponse, ...],
    context: Mapping[str, Any],
) -> AgentResponse:
    """Query one agent; never raises an ``Exception`` (a failure is an answer with ``error`` set)."""
    live = runner.live
    ctx = live.ctx
    phase = runner.name
    attempt = runner.attempt
    recorder = live.recorder
    bus = live.bus
    # The call key is only needed when someone records or listens (or a resume replays calls).
    key = f"{phase}/{step}/{agent_id}/{rnd}/{attempt}" if (
        recorder is not None or bus._handlers or bus._subscriptions or live.completed_calls
    ) else ""
    reused = live.completed_calls
    if reused:
        recorded = reused.get(key)
        if recorded is not None:
            # Resumed execution: this call completed before the crash; its answer is in the journal.
            response = AgentResponse.from_dict(recorded)
            if live.answer_keys is not None:
                live.answer_keys[id(response)] = key
            ctx.record_usage(response)
            runner.answers.append(response)
            return response
    if recorder is not None or bus.wants(_START):
        live.emit(_START, phase=phase, step=step, agent=agent_id,
                  data={"call_key": key, "round": rnd, "attempt": attempt})
    else:
        ctx.sequence += 1
    request = AgentRequest(
        agent_id=agent_id,
        prompt=prompt,
        execution_id=ctx.id,
        phase=phase,
        step=step,
        round=rnd,
        attempt=attempt,
        context=context,
        peers=peers,
        outputs=runner.phase.outputs,
        timeout_s=live.agent_timeout,
        abort=live.abort_signal,
    )
    started = _perf()
    try:
        if live.agent_timeout is None:
            response = await live.directory.query(request)
        else:
            async with asyncio.timeout(live.agent_timeout):
                response = await live.directory.query(request)
    except BudgetExceededError:
        raise  # the execution's budget is spent: nothing more may run (the phase fails for good)
    except Exception as exc:
        elapsed = (_perf() - started) * 1000.0
        if isinstance(exc, TimeoutError):
            message = f"agent {agent_id!r}: no answer within {live.agent_timeout:g}s"
        else:
            message = str(exc) or type(exc).__name__
        response = AgentResponse(agent_id=agent_id, error=message, latency_ms=elapsed)
        ctx.record_usage(response)
        runner.answers.append(response)
        if live.wants(_ERROR):
            live.emit(_ERROR, phase=phase, step=step, agent=agent_id, duration_ms=elapsed, error=message,
                      data={"call_key": key, "round": rnd, "attempt": attempt,
                            "error_type": type(exc).__name__})
        else:
            ctx.sequence += 1
        return response
    elapsed = (_perf() - started) * 1000.0
    if response.agent_id != agent_id:
        response = response.with_(agent_id=agent_id)
    if live.answer_keys is not None:
        live.answer_keys[id(response)] = key
    ctx.calls += 1
    if response.error is not None:
        ctx.call_errors += 1
    if response.tokens_in or response.tokens_out or response.cost_usd:
        ctx.record_tokens(response)
    runner.answers.append(response)
    if recorder is not None or bus.wants(_RESPONSE):
        live.emit(_RESPONSE, phase=phase, step=step, agent=agent_id, duration_ms=elapsed,
                  error=response.error,
                  data={"call_key": key, "round": rnd, "attempt": attempt,
                        "response": response_dict(response)})
    else:
        ctx.sequence += 1
    return response


async def fan_out(
    runner: PhaseRunner,
    agents: Sequence[AgentId],
    prompt: str,
    step: int,
    rnd: int,
    peers: tuple[AgentResponse, ...],
    context: Mapping[str, Any],
) -> list[AgentResponse]:
    """Ask every agent at once, at most ``max_concurrent_agents`` in flight; answers in agent order."""
    n = len(agents)
    if n == 1:
        return [await call_agent(runner, agents[0], prompt, step, rnd, peers, context)]
    limit = runner.live.max_agents
    if limit is None or limit >= n:
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(call_agent(runner, a, prompt, step, rnd, peers, context)) for a in agents
            ]
        return [t.result() for t in tasks]
    # Bounded: a fixed pool of workers pulling the next agent, so at most `limit` tasks exist at once.
    out: list[AgentResponse | None] = [None] * n
    indexes = iter(range(n))

    async def worker() -> None:
        for i in indexes:
            out[i] = await call_agent(runner, agents[i], prompt, step, rnd, peers, context)

    async with asyncio.TaskGroup() as tg:
        for _ in range(limit):
            tg.create_task(worker())
    return [r for r in out if r is not None]
