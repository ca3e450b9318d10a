"""Test doubles for users' tests (and ours): scripted agents, an agent manager, event capture, fast
retries and a fake clock.

::

    from quorum.testing import EventCapture, fast_retries, make_manager, sleeping_agent, flaky_agent

    manager = make_manager(analyst=sleeping_agent(0.01, {"stance": "bullish"}), flaky=flaky_agent(2))
    executor = TaskExecutor(agent_manager=manager)
    with fast_retries(), EventCapture(executor) as events:
        result = await executor.execute(task, {...})
    assert events.types()[0] == "execution:start"
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from quorum.agents.function import coerce_response
from quorum.agents.manager import AgentManager
from quorum.agents.protocol import Agent, AgentRequest, AgentResponse
from quorum.engine.retry import is_testing, set_testing
from quorum.events import Event

if TYPE_CHECKING:
    from quorum.engine.executor import TaskExecutor

__all__ = (
    "ConcurrencyProbe",
    "EventCapture",
    "FakeSleep",
    "ScriptedAgent",
    "echo_agent",
    "failing_agent",
    "fast_retries",
    "flaky_agent",
    "make_manager",
    "sleeping_agent",
)

Result = Mapping[str, Any] | str | Callable[[AgentRequest], Any] | None


class ConcurrencyProbe:
    """Counts calls in flight (share one between agents to measure a phase's concurrency)."""

    __slots__ = ("in_flight", "max_in_flight", "total")

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.total = 0

    def enter(self) -> None:
        self.in_flight += 1
        self.total += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def exit(self) -> None:
        self.in_flight -= 1


class ScriptedAgent:
    """An in-process agent that answers ``result`` after ``delay`` seconds.

    ``result``: a dict (structured data), a str (text), a callable ``(request) -> dict|str`` (sync or
    async) or None (``{"agent": id, "prompt": prompt}``). ``fail_times``: the first n calls raise
    ``error``; ``always_fail`` makes every call raise. ``requests`` records every request received;
    ``cancelled`` counts calls cancelled in flight; ``completed`` counts calls that answered.
    """

    __test__ = False

    def __init__(
        self,
        result: Result = None,
        *,
        delay: float = 0.0,
        fail_times: int = 0,
        always_fail: bool = False,
        error: str = "scripted failure",
        probe: ConcurrencyProbe | None = None,
        poll_abort: bool = False,
    ) -> None:
        self.result = result
        self.delay = delay
        self.fail_times = fail_times
        self.always_fail = always_fail
        self.error = error
        self.probe = probe
        self.poll_abort = poll_abort
        self.requests: list[AgentRequest] = []
        self.cancelled = 0
        self.completed = 0
        self.aborts_seen = 0

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        self.requests.append(request)
        probe = self.probe
        if probe is not None:
            probe.enter()
        started = time.perf_counter()
        try:
            if self.delay:
                if self.poll_abort:
                    await self._sleep_polling(request)
                else:
                    await asyncio.sleep(self.delay)
            if self.always_fail or len(self.requests) <= self.fail_times:
                raise RuntimeError(self.error)
            value = self._answer(request)
            if inspect.isawaitable(value):
                value = await value
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            if probe is not None:
                probe.exit()
        self.completed += 1
        return coerce_response(request.agent_id, value, latency_ms=(time.perf_counter() - started) * 1000.0,
                               model="scripted")

    async def _sleep_polling(self, request: AgentRequest) -> None:
        deadline = time.monotonic() + self.delay
        while time.monotonic() < deadline:
            if request.abort.aborted:
                self.aborts_seen += 1
                request.abort.raise_if_aborted()
            await asyncio.sleep(min(0.005, max(deadline - time.monotonic(), 0)))

    def _answer(self, request: AgentRequest) -> Any:
        result = self.result
        if result is None:
            return {"agent": request.agent_id, "prompt": request.prompt}
        if callable(result):
            return result(request)
        return result


def sleeping_agent(seconds: float, result: Result = None, **kw: Any) -> ScriptedAgent:
    return ScriptedAgent(result, delay=seconds, **kw)


def failing_agent(error: str = "scripted failure", **kw: Any) -> ScriptedAgent:
    return ScriptedAgent(always_fail=True, error=error, **kw)


def flaky_agent(failures: int, result: Result = None, **kw: Any) -> ScriptedAgent:
    """Fails its first ``failures`` calls, then answers."""
    return ScriptedAgent(result, fail_times=failures, **kw)


def echo_agent(**kw: Any) -> ScriptedAgent:
    """Answers ``{"agent", "prompt", "round", "peers": (earlier agent ids,)}`` — to check visibility."""
    return ScriptedAgent(
        lambda r: {"agent": r.agent_id, "prompt": r.prompt, "peers": tuple(p.agent_id for p in r.peers),
                   "round": r.round},
        **kw,
    )


def make_manager(agents: Mapping[str, Agent | Callable[..., Any]] | None = None, /,
                 **by_id: Agent | Callable[..., Any]) -> AgentManager:
    """An AgentManager holding the given agents (objects with ``query`` or plain callables)."""
    manager = AgentManager()
    for agent_id, agent in {**(agents or {}), **by_id}.items():
        manager.register(agent_id, agent)
    return manager


class EventCapture:
    """Records events of an executor (``"*"`` by default). Usable as a context manager."""

    __test__ = False

    def __init__(self, executor: TaskExecutor | None = None, event_type: str = "*") -> None:
        self.events: list[Event] = []
        self.event_type = event_type
        self._executor: TaskExecutor | None = None
        if executor is not None:
            self.attach(executor)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def attach(self, executor: TaskExecutor) -> EventCapture:
        executor.on(self.event_type, self)
        self._executor = executor
        return self

    def detach(self) -> None:
        if self._executor is not None:
            self._executor.off(self.event_type, self)
            self._executor = None

    def __enter__(self) -> EventCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def types(self, execution_id: str | None = None) -> list[str]:
        return [e.type for e in self.events if execution_id is None or e.execution_id == execution_id]

    def of(self, *types: str) -> list[Event]:
        return [e for e in self.events if e.type in types]

    def first(self, event_type: str) -> Event:
        for event in self.events:
            if event.type == event_type:
                return event
        raise LookupError(f"no {event_type} event among {len(self.events)}")

    def clear(self) -> None:
        self.events.clear()


@contextlib.contextmanager
def fast_retries() -> Iterator[None]:
    """Retries wait zero seconds inside the block (the computed delay is still in ``phase:retry``)."""
    before = is_testing()
    set_testing(True)
    try:
        yield
    finally:
        set_testing(before)


class FakeSleep:
    """A fake clock for retries: ``TaskExecutor(sleep=FakeSleep())`` records each wait and returns."""

    __test__ = False

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)

    @property
    def total(self) -> float:
        return sum(self.delays)
