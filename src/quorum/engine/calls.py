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
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
_intern = sys.intern
_EMPTY: Mapping[str, Any] = MappingProxyType({})

ON_CHUNK = "on_chunk"
"""``quorum.agents.llm.ON_CHUNK`` (not imported from there: that module loads PyYAML)."""


def _begin(
    runner: PhaseRunner,
    agent_id: AgentId,
    prompt: str,
    step: int,
    rnd: int,
    peers: tuple[AgentResponse, ...],
    context: Mapping[str, Any],
) -> AgentResponse | tuple[AgentRequest, str]:
    """What a call does before it awaits the agent: its answer when a resume already has it, else
    ``agent:start`` and ``(request, call key)``."""
    live = runner.live
    ctx = live.ctx
    phase = runner.name
    attempt = runner.attempt
    recorder = live.recorder
    bus = live.bus
    # The call key is only needed when someone records or listens (or a resume replays calls). It is
    # interned: every execution of a task has the same keys, and a journal keeps each for good (2,000
    # executions of a committee then share 18 strings instead of holding 36,000).
    key = _intern(f"{phase}/{step}/{agent_id}/{rnd}/{attempt}") if (
        recorder is not None or bus._handlers or bus._subscriptions or live.completed_calls
    ) else ""
    reused = live.completed_calls
    if reused:
        recorded = reused.get(key)
        if recorded is not None:
            # Resumed execution: this call completed before the crash; its answer is in the journal.
            response = AgentResponse.from_dict(recorded)
            ctx.record_usage(response)
            _keep(runner, response, key)
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
    return request, key


def _answered(
    runner: PhaseRunner, agent_id: AgentId, step: int, rnd: int, key: str, started: float,
    response: AgentResponse,
) -> AgentResponse:
    """Record the agent's answer (the call's ``agent:response``)."""
    elapsed = (_perf() - started) * 1000.0
    live = runner.live
    ctx = live.ctx
    if response.agent_id != agent_id:
        response = response.with_(agent_id=agent_id)
    ctx.calls += 1
    if response.error is not None:
        ctx.call_errors += 1
    if response.tokens_in or response.tokens_out or response.cost_usd:
        ctx.record_tokens(response)
    _keep(runner, response, key)
    if live.recorder is not None or live.bus.wants(_RESPONSE):
        live.emit(_RESPONSE, phase=runner.name, step=step, agent=agent_id,
                  duration_ms=elapsed, error=response.error,
                  data=ResponseEventData(key, rnd, runner.attempt, response))
    else:
        ctx.sequence += 1
    return response


def _failed(
    runner: PhaseRunner, agent_id: AgentId, step: int, rnd: int, key: str, started: float, exc: Exception
) -> AgentResponse:
    """Record a call that raised: an answer with ``error`` set (the call's ``agent:error``)."""
    elapsed = (_perf() - started) * 1000.0
    live = runner.live
    if isinstance(exc, TimeoutError):
        message = f"agent {agent_id!r}: no answer within {live.agent_timeout:g}s"
    else:
        message = str(exc) or type(exc).__name__
    response = AgentResponse(agent_id=agent_id, error=message, latency_ms=elapsed)
    live.ctx.record_usage(response)
    _keep(runner, response, key)
    if live.wants(_ERROR):
        live.emit(_ERROR, phase=runner.name, step=step, agent=agent_id,
                  duration_ms=elapsed, error=message,
                  data={"call_key": key, "round": rnd, "attempt": runner.attempt,
                        "error_type": type(exc).__name__})
    else:
        live.ctx.sequence += 1
    return response


def _keep(runner: PhaseRunner, answer: AgentResponse, key: str) -> None:
    runner.answers.append(answer)
    keys = runner.answer_keys
    if keys is not None:
        keys.append(key)


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
    begun = _begin(runner, agent_id, prompt, step, rnd, peers, context)
    if isinstance(begun, AgentResponse):
        return begun
    request, key = begun
    live = runner.live
    started = _perf()
    try:
        # Not _timed(): awaiting the query here saves a coroutine per call in flight.
        if live.agent_timeout is None:
            response = await live.directory.query(request)
        else:
            async with asyncio.timeout(live.agent_timeout):
                response = await live.directory.query(request)
    except BudgetExceededError:
        raise  # the execution's budget is spent: nothing more may run (the phase fails for good)
    except Exception as exc:
        return _failed(runner, agent_id, step, rnd, key, started, exc)
    return _answered(runner, agent_id, step, rnd, key, started, response)


async def _timed(answer: Awaitable[AgentResponse], timeout_s: float | None) -> AgentResponse:
    """``answer`` as a coroutine (a task needs one), under the engine's agent timeout if any."""
    if timeout_s is None:
        return await answer
    async with asyncio.timeout(timeout_s):
        return await answer


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
        calls = _Calls(runner, agents, step, rnd)
        for i in range(n):
            calls.start(i, prompt, peers, context)
        return await calls.join()
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
    """The done callback of a finished :class:`_Calls` (no task is left to call it)."""


class _Calls:
    """The agent calls of one fan-out, each a task on the agent's own ``query``: ``asyncio.TaskGroup``
    semantics with fewer objects per call in flight.

    A 10,000-agent fan-out holds 10,000 calls at once, and every full garbage collection walks each
    object they keep alive. So a call is not a coroutine of the engine's wrapped around the agent's:
    what comes before the await (:func:`_begin`) runs as the call starts, and what comes after
    (:func:`_answered`, :func:`_failed`) in the task's done callback, which every task shares (with one
    copy of the context), as TaskGroup would give each its own. The call's index, key and start time
    sit in three lists. Same semantics for what a call can raise: an ``Exception`` becomes the call's
    answer (with ``error`` set); the first failure (a :class:`BudgetExceededError`, or a
    ``BaseException`` such as an interrupt) cancels the other calls and, once all have finished, is
    raised bare — as a sequential call raises it, so that the phase recognises a budget stop (not a
    failed attempt to retry). When the awaiting task itself is cancelled, every call is cancelled and
    waited for first.
    """

    __slots__ = ("_agents", "_context", "_failure", "_keys", "_loop", "_on_done", "_out", "_pending",
                 "_rnd", "_runner", "_started", "_step", "_waiter")

    def __init__(self, runner: PhaseRunner, agents: Sequence[AgentId], step: int, rnd: int) -> None:
        n = len(agents)
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()
        self._on_done = self._done
        self._runner = runner
        self._agents = agents
        self._step = step
        self._rnd = rnd
        self._out: list[AgentResponse | None] = [None] * n
        self._keys: list[str] = [""] * n
        self._started: list[float] = [0.0] * n
        self._pending: dict[asyncio.Task[AgentResponse], int] = {}
        """Each call in flight -> its index in the fan-out."""
        self._failure: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def start(
        self, i: int, prompt: str, peers: tuple[AgentResponse, ...], context: Mapping[str, Any]
    ) -> None:
        """Start call ``i`` (its answer is there at once when a resume already has it)."""
        runner = self._runner
        agent_id = self._agents[i]
        begun = _begin(runner, agent_id, prompt, self._step, self._rnd, peers, context)
        if isinstance(begun, AgentResponse):
            self._out[i] = begun
            return
        request, key = begun
        live = runner.live
        started = _perf()
        try:
            answer = live.directory.query(request)
        except BudgetExceededError:
            raise
        except Exception as exc:  # a directory whose query() raised before returning an awaitable
            self._out[i] = _failed(runner, agent_id, self._step, self._rnd, key, started, exc)
            return
        if live.agent_timeout is not None or not asyncio.iscoroutine(answer):
            answer = _timed(answer, live.agent_timeout)
        task = self._loop.create_task(answer)
        task.add_done_callback(self._on_done, context=self._context)
        self._pending[task] = i
        self._keys[i] = key
        self._started[i] = started

    def _done(self, task: asyncio.Task[AgentResponse]) -> None:
        i = self._pending.pop(task)
        try:
            if not task.cancelled():
                error = task.exception()
                runner = self._runner
                if error is None:
                    self._out[i] = _answered(runner, self._agents[i], self._step, self._rnd, self._keys[i],
                                             self._started[i], task.result())
                elif isinstance(error, Exception) and not isinstance(error, BudgetExceededError):
                    self._out[i] = _failed(runner, self._agents[i], self._step, self._rnd, self._keys[i],
                                           self._started[i], error)
                else:
                    self._fail(error)
        except BaseException as error:  # recording the answer failed: the phase must not go on as if
            self._fail(error)
        waiter = self._waiter
        if not self._pending and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self._failure is None:
            self._failure = error
            for other in self._pending:
                other.cancel()

    async def join(self) -> list[AgentResponse]:
        try:
            await self._all_done()
        except BaseException:
            for task in self._pending:
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
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        return [answer for answer in self._out if answer is not None]

    async def _all_done(self) -> None:
        if self._pending:
            self._waiter = self._loop.create_future()
            await self._waiter
