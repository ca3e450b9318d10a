"""One agent call, and many at once: the engine's hot path.

Kept lean on purpose (issue 7): no copies of the context or of the peers per call, events built only
when someone listens (the sequence number still advances), one ``AgentRequest`` per call.

Streaming: when someone listens for ``agent:chunk`` on the bus (a handler for it or ``"*"``, or any
``events()`` subscription), the request's ``metadata["on_chunk"]`` is a callback that the agents layer
calls with each piece of streamed text (LLM agents do; see :mod:`quorum.agents.llm`), and each piece is
published as an ``agent:chunk`` event (``phase``, ``step``, ``agent``; ``data={"text": piece}``). Nobody
listening: no callback, no cost. Chunk events are live-only: they are never journaled to the history
store (a long answer streams hundreds of them; the ``agent:response`` event already records the whole
text) and take no sequence number of their own — each carries the sequence of the latest journaled
event, so the journal's sequences stay gap-free whether or not anyone streams.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.errors import BudgetExceededError
from quorum.events import Event, EventType, ResponseEventData
from quorum.ids import AgentId, PhaseName

if TYPE_CHECKING:
    from quorum.engine.live import LiveExecution
    from quorum.engine.phases import PhaseRunner

__all__ = ("ON_CHUNK", "call_agent", "fan_out")

_START = EventType.AGENT_START
_RESPONSE = EventType.AGENT_RESPONSE
_ERROR = EventType.AGENT_ERROR
_CHUNK = EventType.AGENT_CHUNK
_perf = time.perf_counter
_EMPTY: Mapping[str, Any] = MappingProxyType({})

ON_CHUNK = "on_chunk"
"""``quorum.agents.llm.ON_CHUNK`` (not imported from there: that module loads PyYAML)."""


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
        metadata=_stream_to(live, phase, step, agent_id) if bus.wants(_CHUNK) else _EMPTY,
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
                  data=ResponseEventData(key, rnd, attempt, response))
    else:
        ctx.sequence += 1
    return response


def _stream_to(live: LiveExecution, phase: PhaseName, step: int, agent: AgentId) -> Mapping[str, Any]:
    """Request metadata whose ``on_chunk`` publishes each streamed piece as an ``agent:chunk`` event."""
    loop = asyncio.get_running_loop()
    ctx = live.ctx
    bus = live.bus
    task_name = live.task.name

    def publish(text: str) -> None:
        # Not journaled, and no sequence number of its own (see the module docstring).
        event = Event(
            type=_CHUNK, execution_id=ctx.id, sequence=ctx.sequence, timestamp=time.time(), task=task_name,
            phase=phase, step=step, agent=agent, data={"text": text},
        )
        bus.publish(event, live._spawn)

    def on_chunk(text: str) -> None:
        if not text:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            publish(text)
        else:  # an agent streaming from a worker thread: hand the piece to the execution's loop
            loop.call_soon_threadsafe(publish, text)

    callback: Callable[[str], None] = on_chunk
    return MappingProxyType({ON_CHUNK: callback})


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
        group = _CallGroup()
        tasks = [group.spawn(call_agent(runner, a, prompt, step, rnd, peers, context)) for a in agents]
        await group.join()
        return [t.result() for t in tasks]
    # Bounded: a fixed pool of workers pulling the next agent, so at most `limit` tasks exist at once.
    out: list[AgentResponse | None] = [None] * n
    indexes = iter(range(n))

    async def worker() -> None:
        for i in indexes:
            out[i] = await call_agent(runner, agents[i], prompt, step, rnd, peers, context)

    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(limit):
                tg.create_task(worker())
    except* BudgetExceededError as group:
        raise group.exceptions[0] from None
    return [r for r in out if r is not None]


def _forget(task: asyncio.Task[AgentResponse]) -> None:
    """The done callback of a finished :class:`_CallGroup` (no task is left to call it)."""


class _CallGroup:
    """``asyncio.TaskGroup`` for a fan-out's agent calls, minus two objects per task.

    A TaskGroup gives each task a done callback of its own: a bound method plus a copy of the context,
    both alive (and walked by the garbage collector) while the call runs — a 10,000-agent fan-out holds
    20,000 of them. Here every task shares one callback and one context copy. Same semantics for what a
    call can raise: the first failure (a :class:`BudgetExceededError`, or a ``BaseException`` such as an
    interrupt) cancels the other calls and, once all have finished, is raised bare — as a sequential
    call raises it, so that the phase recognises a budget stop (not a failed attempt to retry). When
    the awaiting task itself is cancelled, every call is cancelled and waited for first.
    """

    __slots__ = ("_context", "_failure", "_loop", "_on_done", "_pending", "_tasks", "_waiter")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()
        self._on_done = self._done
        self._tasks: list[asyncio.Task[AgentResponse]] = []
        self._pending = 0
        self._failure: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def spawn(self, coro: Coroutine[Any, Any, AgentResponse]) -> asyncio.Task[AgentResponse]:
        task = self._loop.create_task(coro)
        task.add_done_callback(self._on_done, context=self._context)
        self._tasks.append(task)
        self._pending += 1
        return task

    def _done(self, task: asyncio.Task[AgentResponse]) -> None:
        self._pending -= 1
        if not task.cancelled():
            error = task.exception()
            if error is not None and self._failure is None:
                self._failure = error
                for other in self._tasks:
                    other.cancel()  # a finished task ignores it
        waiter = self._waiter
        if self._pending == 0 and waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def join(self) -> None:
        try:
            await self._all_done()
        except BaseException:
            for task in self._tasks:
                task.cancel()
            while self._pending:
                try:
                    await self._all_done()
                except asyncio.CancelledError:
                    continue  # cancelled again: the calls still have to finish first
            raise
        finally:
            # ``_on_done`` (a bound method) refers back to the group: a cycle that would keep every
            # finished task (and its coroutine) alive until a full garbage collection.
            self._on_done = _forget
            self._tasks = []
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def _all_done(self) -> None:
        if self._pending:
            self._waiter = self._loop.create_future()
            await self._waiter
