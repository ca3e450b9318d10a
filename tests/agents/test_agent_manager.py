"""AgentManager: plain path, timeouts, retries, pools, rate limits, circuit breaker, budgets."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from quorum.agents.budget import Budget, BudgetUsage
from quorum.agents.manager import AgentManager
from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.agents.resilience import (
    Backoff,
    BreakerPolicy,
    BreakerState,
    CircuitOpenError,
    RateLimiter,
    honour_retry_after,
)
from quorum.errors import AgentError, AgentTimeoutError, BudgetExceededError
from quorum.ids import AgentId, ExecutionId, PhaseName

pytestmark = [pytest.mark.unit, pytest.mark.errors]


class FakeTime:
    def __init__(self, *, advance: bool = True) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.advance = advance

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds


def req(agent: str = "a", *, execution: str = "e1", timeout_s: float | None = None) -> AgentRequest:
    return AgentRequest(
        agent_id=AgentId(agent),
        prompt="q",
        execution_id=ExecutionId(execution),
        phase=PhaseName("P"),
        timeout_s=timeout_s,
    )


class Scripted:
    """An agent that fails with the scripted exceptions, then answers."""

    def __init__(
        self, *failures: Exception, tokens: tuple[int, int] = (0, 0), cost: float | None = None
    ) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.tokens = tokens
        self.cost = cost

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return AgentResponse(
            agent_id=request.agent_id,
            text=f"answer {self.calls}",
            tokens_in=self.tokens[0],
            tokens_out=self.tokens[1],
            cost_usd=self.cost,
        )


async def test_plain_agents_take_the_plain_path() -> None:
    manager = AgentManager()
    manager.register("a", lambda r: {"stance": "bullish", "confidence": 0.5, "x": 1})
    manager.register("b", Scripted(), policy=AgentPolicy(max_concurrency=2))
    assert manager._routes[AgentId("a")].plain  # no semaphore, breaker, limiter or cache
    assert manager._routes[AgentId("a")].semaphore() is None
    assert not manager._routes[AgentId("b")].plain
    response = await manager.query(req("a"))
    assert (response.stance, response.confidence, response.data["x"]) == ("bullish", 0.5, 1)
    assert manager.has_agent("a")
    assert not manager.has_agent("zz")
    assert manager.agent_ids() == ["a", "b"]
    with pytest.raises(AgentError, match="no such agent"):
        await manager.query(req("zz"))
    manager.unregister("a")
    assert manager.agent_ids() == ["b"]


async def test_async_function_agents_answer_through_the_manager_as_through_their_query() -> None:
    from quorum.agents.function import FunctionAgent

    async def answer(request: AgentRequest) -> dict[str, Any]:
        await asyncio.sleep(0.002)
        return {"stance": "bearish", "text": request.prompt}

    async def boom(request: AgentRequest) -> dict[str, Any]:
        raise ValueError("bad input")

    class Traced(FunctionAgent):
        __slots__ = ("seen",)

        async def query(self, request: AgentRequest, /) -> AgentResponse:
            self.seen = True
            return await super().query(request)

    manager = AgentManager()
    manager.register("a", answer)
    manager.register("sync", lambda r: "plain text")
    manager.register("boom", boom)
    traced = Traced("t", answer)
    manager.register("t", traced)
    for timeout in (None, 5.0):
        manager.default_timeout_s = timeout
        direct = await manager.query(req("a"))
        via_query = await FunctionAgent("a", answer).query(req("a"))
        assert (direct.agent_id, direct.text, direct.stance, direct.data) == (
            via_query.agent_id, via_query.text, via_query.stance, via_query.data
        )
        assert direct.model == via_query.model
        assert direct.latency_ms >= 2.0
        with pytest.raises(AgentError, match="ValueError: bad input"):
            await manager.query(req("boom"))
    assert (await manager.query(req("t"))).text == "q"
    assert traced.seen


async def test_errors_are_wrapped_with_their_cause() -> None:
    manager = AgentManager()

    def broken(request: AgentRequest) -> str:
        raise ValueError("boom")

    manager.register("a", broken)
    manager.register("b", Scripted(ConnectionResetError("reset")))
    manager.register("c", lambda r: 42)
    with pytest.raises(AgentError) as caught:
        await manager.query(req("a"))
    assert str(caught.value) == "agent 'a': ValueError: boom"
    assert not caught.value.transient
    assert isinstance(caught.value.__cause__, ValueError)
    with pytest.raises(AgentError) as caught:
        await manager.query(req("b"))
    assert caught.value.transient
    with pytest.raises(AgentError, match="returned int"):
        await manager.query(req("c"))


async def slow(request: AgentRequest) -> str:
    await asyncio.sleep(0.5)
    return "late"


async def test_timeouts() -> None:
    manager = AgentManager(default_timeout_s=0.05)
    manager.register("a", slow)
    manager.register("b", slow, policy=AgentPolicy(timeout_s=0.03))
    with pytest.raises(AgentTimeoutError) as caught:
        await manager.query(req("a"))
    assert caught.value.timeout_s == 0.05
    with pytest.raises(AgentTimeoutError) as caught:
        await manager.query(req("a", timeout_s=0.02))
    assert caught.value.timeout_s == 0.02
    with pytest.raises(AgentTimeoutError) as caught:
        await manager.query(req("b", timeout_s=5.0))
    assert caught.value.timeout_s == 0.03


async def test_transient_failures_are_retried_with_backoff() -> None:
    clock = FakeTime()
    manager = AgentManager(
        clock=clock, sleep=clock.sleep, rand=lambda: 1.0, backoff=Backoff(initial_s=0.1, jitter=0.5)
    )
    agent = Scripted(ConnectionError("down"), AgentError("a", "flaky", transient=True))
    manager.register("a", agent, policy=AgentPolicy(max_retries=2))
    response = await manager.query(req("a"))
    assert response.text == "answer 3"
    assert clock.sleeps == [pytest.approx(0.15), pytest.approx(0.3)]  # base * 2^(n-1) * (1 + jitter)
    permanent = Scripted(ValueError("bad input"))
    manager.register("p", permanent, policy=AgentPolicy(max_retries=5))
    with pytest.raises(AgentError, match="bad input"):
        await manager.query(req("p"))
    assert permanent.calls == 1


async def test_retries_stop_at_the_limit() -> None:
    clock = FakeTime()
    manager = AgentManager(clock=clock, sleep=clock.sleep)
    agent = Scripted(*[ConnectionError(str(i)) for i in range(5)])
    manager.register("a", agent, policy=AgentPolicy(max_retries=2))
    with pytest.raises(AgentError, match="ConnectionError: 2"):
        await manager.query(req("a"))
    assert agent.calls == 3


def test_backoff() -> None:
    b = Backoff(initial_s=1.0, max_s=5.0, multiplier=2.0, jitter=0.2)

    def half() -> float:
        return 0.5

    assert [b.delay(n, half) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert b.delay(1, lambda: 0.0) == pytest.approx(0.8)
    assert b.delay(1, lambda: 1.0) == pytest.approx(1.2)
    assert honour_retry_after(b.delay(1, half), 7.0, limit_s=30.0) == 7.0  # the server's wait wins
    assert honour_retry_after(b.delay(3, half), 0.1, limit_s=30.0) == 4.0
    assert honour_retry_after(b.delay(1, half), 31.0, limit_s=30.0) is None  # too long: give up


async def test_a_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    from quorum.agents.failures import ProviderError

    clock = FakeTime()
    manager = AgentManager(clock=clock, sleep=clock.sleep, max_retry_after_s=10)
    agent = Scripted(ProviderError("a", "429", status=429, transient=True, retry_after_s=3600))
    manager.register("a", agent, policy=AgentPolicy(max_retries=3))
    with pytest.raises(AgentError, match="429"):
        await manager.query(req("a"))
    assert agent.calls == 1
    assert clock.sleeps == []


def test_rate_limiter_reserves_slots_in_order() -> None:
    clock = FakeTime()
    limiter = RateLimiter(60, burst=2, clock=clock, sleep=clock.sleep)
    assert [limiter.reserve() for _ in range(5)] == [0.0, 0.0, 1.0, 2.0, 3.0]
    clock.now += 10  # the bucket refills, but never beyond its burst
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


async def test_rate_limits_apply_per_provider() -> None:
    clock = FakeTime(advance=False)  # every caller reserves before any time passes
    manager = AgentManager(clock=clock, sleep=clock.sleep, rate_limits={"openai": 600})
    manager.register("a", Scripted(), policy=AgentPolicy(provider="openai"))
    manager.register("b", Scripted(), policy=AgentPolicy(provider="openai"))
    manager.register("c", Scripted(), policy=AgentPolicy(provider="anthropic"))
    await asyncio.gather(*(manager.query(req(agent)) for agent in "abab"))
    assert clock.sleeps == [pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.3)]
    await manager.query(req("c"))
    assert len(clock.sleeps) == 3
    manager.set_rate_limit("openai", None)
    await manager.query(req("a"))
    assert len(clock.sleeps) == 3


async def test_circuit_breaker_opens_half_opens_and_closes() -> None:
    clock = FakeTime()
    manager = AgentManager(clock=clock, sleep=clock.sleep)
    agent = Scripted(ValueError("1"), ValueError("2"), ValueError("3"))
    manager.register(
        "a", agent, policy=AgentPolicy(breaker=BreakerPolicy(failure_threshold=2, reset_after_s=10))
    )
    for _ in range(2):
        with pytest.raises(AgentError):
            await manager.query(req("a"))
    assert manager.circuit_state("a") is BreakerState.OPEN
    with pytest.raises(CircuitOpenError, match="circuit open"):
        await manager.query(req("a"))
    assert agent.calls == 2  # refused without calling the agent
    assert manager.health()["a"] == {"state": "open", "failures": 2, "times_opened": 1, "rejected": 1}
    clock.now += 10
    with pytest.raises(AgentError, match="3"):  # the half-open trial fails: open again
        await manager.query(req("a"))
    assert manager.circuit_state("a") is BreakerState.OPEN
    assert manager.health()["a"]["times_opened"] == 2
    clock.now += 9.9
    with pytest.raises(CircuitOpenError):
        await manager.query(req("a"))
    clock.now += 0.1
    assert (await manager.query(req("a"))).text == "answer 4"
    assert manager.circuit_state("a") is BreakerState.CLOSED
    assert manager.health()["a"]["failures"] == 0


async def test_half_open_lets_exactly_one_trial_through() -> None:
    clock = FakeTime()
    manager = AgentManager(clock=clock, sleep=clock.sleep, circuit_breaker=BreakerPolicy(failure_threshold=1))
    gate = asyncio.Event()
    calls = 0

    async def agent(request: AgentRequest) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("first")
        await gate.wait()
        return "ok"

    manager.register("a", agent)
    with pytest.raises(AgentError):
        await manager.query(req("a"))
    clock.now += 60
    trial = asyncio.create_task(manager.query(req("a")))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):
        await manager.query(req("a"))
    gate.set()
    assert (await trial).text == "ok"
    assert calls == 2


async def test_a_cancelled_trial_does_not_wedge_the_breaker() -> None:
    clock = FakeTime()
    manager = AgentManager(clock=clock, sleep=clock.sleep, circuit_breaker=BreakerPolicy(failure_threshold=1))
    calls = 0

    async def agent(request: AgentRequest) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("first")
        if calls == 2:
            await asyncio.sleep(10)
        return "ok"

    manager.register("a", agent)
    with pytest.raises(AgentError):
        await manager.query(req("a"))
    clock.now += 60
    task = asyncio.create_task(manager.query(req("a")))  # the half-open trial...
    await asyncio.sleep(0)
    task.cancel()  # ...is cancelled: no verdict on the agent's health
    with pytest.raises(asyncio.CancelledError):
        await task
    assert manager.circuit_state("a") is BreakerState.HALF_OPEN
    assert (await manager.query(req("a"))).text == "ok"  # the next caller gets the trial
    assert manager.circuit_state("a") is BreakerState.CLOSED


def test_reregistering_resets_the_breaker() -> None:
    manager = AgentManager(circuit_breaker=BreakerPolicy(failure_threshold=1))
    manager.register("a", Scripted())
    breaker = manager._breakers[AgentId("a")]
    breaker.record_failure()
    assert manager.circuit_state("a") is BreakerState.OPEN
    manager.register("a", Scripted())
    assert manager.circuit_state("a") is BreakerState.CLOSED


async def test_answers_that_carry_an_error_count_as_failures() -> None:
    manager = AgentManager(circuit_breaker=BreakerPolicy(failure_threshold=2))
    manager.register("a", lambda r: AgentResponse(agent_id=r.agent_id, error="could not compute"))
    for _ in range(2):
        assert (await manager.query(req("a"))).error == "could not compute"  # returned, not raised
    assert manager.circuit_state("a") is BreakerState.OPEN


@pytest.mark.concurrency
async def test_pool_limits_are_never_exceeded() -> None:
    manager = AgentManager(backoff=Backoff(initial_s=0.001))
    running = peak = 0
    lock_free_counter: list[int] = []

    async def agent(request: AgentRequest) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        lock_free_counter.append(running)
        await asyncio.sleep(0.002)
        running -= 1
        if len(lock_free_counter) % 7 == 0:
            raise ConnectionError("flaky")
        return "ok"

    manager.register("a", agent, policy=AgentPolicy(max_concurrency=3, max_retries=3))
    results = await asyncio.gather(*(manager.query(req("a")) for _ in range(40)), return_exceptions=True)
    assert peak == 3  # reached, never exceeded
    assert max(lock_free_counter) == 3
    assert sum(isinstance(r, AgentResponse) for r in results) >= 38


@pytest.mark.concurrency
async def test_waiting_for_a_pool_slot_counts_against_the_request_timeout() -> None:
    manager = AgentManager()
    gate = asyncio.Event()

    async def agent(request: AgentRequest) -> str:
        await gate.wait()
        return "ok"

    manager.register("a", agent, policy=AgentPolicy(max_concurrency=1))
    holder = asyncio.create_task(manager.query(req("a")))
    await asyncio.sleep(0)
    with pytest.raises(AgentTimeoutError):
        await manager.query(req("a", timeout_s=0.02))
    gate.set()
    assert (await holder).text == "ok"
    assert (await manager.query(req("a", timeout_s=1.0))).text == "ok"  # the slot was given back


@pytest.mark.concurrency
def test_a_manager_works_across_event_loops() -> None:
    manager = AgentManager()

    async def agent(request: AgentRequest) -> str:
        await asyncio.sleep(0.001)
        return "ok"

    manager.register("a", agent, policy=AgentPolicy(max_concurrency=1))

    async def burst() -> list[AgentResponse]:
        return await asyncio.gather(*(manager.query(req("a")) for _ in range(3)))

    for _ in range(2):  # e.g. two blocking quorum.run() calls sharing one manager
        assert [r.text for r in asyncio.run(burst())] == ["ok"] * 3


def test_the_manager_does_not_import_heavy_modules() -> None:
    import subprocess
    import sys

    code = (
        "import sys, quorum.agents.manager;"
        "print(sorted(m for m in ('yaml', 'sqlite3', 'pydantic', 'openai', 'anthropic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.concurrency
async def test_unpooled_agents_run_fully_parallel() -> None:
    manager = AgentManager()
    running = peak = 0

    async def agent(request: AgentRequest) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.002)
        running -= 1
        return "ok"

    manager.register("a", agent)
    await asyncio.gather(*(manager.query(req("a")) for _ in range(10)))
    assert peak == 10


async def test_budget_calls() -> None:
    manager = AgentManager()
    agent = Scripted()
    manager.register("a", agent)
    manager.open_budget("e1", Budget(max_calls=2))
    await manager.query(req("a"))
    await manager.query(req("a"))
    with pytest.raises(BudgetExceededError, match="budget exceeded: calls 3 > 2") as caught:
        await manager.query(req("a"))
    assert (caught.value.what, caught.value.limit) == ("calls", 2)
    assert agent.calls == 2
    await manager.query(req("a", execution="other"))  # other executions are not limited
    assert manager.close_budget("e1") == BudgetUsage(calls=2, tokens_in=0, tokens_out=0, cost_usd=0.0)
    assert manager.close_budget("e1") is None
    await manager.query(req("a"))  # closed: no limit any more


async def test_budget_tokens_and_cost() -> None:
    manager = AgentManager()
    agent = Scripted(tokens=(10, 5), cost=0.4)
    manager.register("a", agent)
    manager.open_budget("e1", Budget(max_tokens=20))
    await manager.query(req("a"))
    with pytest.raises(BudgetExceededError, match="tokens 30 > 20"):
        await manager.query(req("a"))
    with pytest.raises(BudgetExceededError, match="tokens 30 > 20"):
        await manager.query(req("a"))  # refused before calling
    assert agent.calls == 2
    manager.open_budget("e2", Budget(max_cost=1.0))
    await manager.query(req("a", execution="e2"))
    await manager.query(req("a", execution="e2"))
    with pytest.raises(BudgetExceededError, match="cost"):
        await manager.query(req("a", execution="e2"))
    usage = manager.budget_usage("e2")
    assert usage is not None
    assert usage.tokens == 45
    assert usage.cost_usd == pytest.approx(1.2)


@pytest.mark.concurrency
async def test_call_budget_holds_under_concurrency() -> None:
    manager = AgentManager()
    invoked = 0

    async def agent(request: AgentRequest) -> str:
        nonlocal invoked
        invoked += 1
        await asyncio.sleep(0.001)
        return "ok"

    manager.register("a", agent)
    manager.open_budget("e1", Budget(max_calls=4))
    results = await asyncio.gather(*(manager.query(req("a")) for _ in range(10)), return_exceptions=True)
    assert invoked == 4
    assert sum(isinstance(r, BudgetExceededError) for r in results) == 6


def test_budget_from_task_mapping() -> None:
    assert Budget.from_mapping({"maxTokens": 200000, "maxCost": 2.5, "maxCalls": 100}) == Budget(
        max_tokens=200000, max_cost=2.5, max_calls=100
    )
    assert Budget.from_mapping({"max_calls": 3}) == Budget(max_calls=3)
    from quorum.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        Budget(max_calls=-1)


async def test_budget_does_not_count_against_the_breaker() -> None:
    manager = AgentManager(circuit_breaker=BreakerPolicy(failure_threshold=1))
    manager.register("a", Scripted())
    manager.open_budget("e1", Budget(max_calls=0))
    for _ in range(3):
        with pytest.raises(BudgetExceededError):
            await manager.query(req("a"))
    assert manager.circuit_state("a") is BreakerState.CLOSED


async def test_configure_requires_a_registered_agent() -> None:
    manager = AgentManager(backoff=Backoff(initial_s=0.001))
    with pytest.raises(AgentError, match="no such agent"):
        manager.configure("nope", AgentPolicy())
    manager.register("a", Scripted(ConnectionError("x")))
    manager.configure("a", AgentPolicy(max_retries=1))
    assert manager.policy("a").max_retries == 1
    assert (await manager.query(req("a"))).text == "answer 2"


async def test_managers_close_their_agents() -> None:
    closed: list[str] = []

    class Closable(Scripted):
        async def aclose(self) -> None:
            closed.append("x")

    async with AgentManager() as manager:
        manager.register("a", Closable())
    assert closed == ["x"]


def _unused(*args: Any) -> None:  # keeps the Any import honest for type checkers of tests
    return None


# -- the per-call timeout ------------------------------------------------------------------------


async def test_a_call_times_out_no_earlier_than_its_limit_and_little_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = AgentManager(default_timeout_s=0.064)
    manager.register("a", slow)
    loop = asyncio.get_running_loop()
    timers: list[tuple[float, float]] = []  # (when the call's timer is due, the loop's time as it was set)
    call_at = loop.call_at

    def spy(when: float, callback: Callable[..., object], *args: Any,
            context: contextvars.Context | None = None) -> asyncio.TimerHandle:
        if isinstance(getattr(callback, "__self__", None), asyncio.Timeout):
            timers.append((when, loop.time()))
        return call_at(when, callback, *args, context=context)

    monkeypatch.setattr(loop, "call_at", spy)
    started = loop.time()
    with pytest.raises(AgentTimeoutError) as caught:
        await manager.query(req("a"))
    elapsed = loop.time() - started
    assert caught.value.timeout_s == 0.064
    assert elapsed >= 0.064  # not early: a lower bound, which a busy machine cannot break
    # Little later: the timer is set for the limit (asyncio.timeout). Checked on the deadline it was
    # given, not on when a busy machine got round to running it.
    [(when, now)] = timers
    assert started + 0.064 <= when <= now + 0.064 * (1 + 1 / 64)


async def test_an_agent_that_asks_another_in_its_own_task_times_out_as_a_timeout() -> None:
    manager = AgentManager(default_timeout_s=0.05)
    manager.register("inner", lambda request: "quick")

    async def outer(request: AgentRequest) -> str:
        # Same task, same limit, same time slice: both calls fall in one shared bucket. The inner one
        # leaves it at once; the outer one must still time out as a timeout, not a bare cancel.
        inner = await manager.query(dataclasses.replace(request, agent_id=AgentId("inner")))
        await asyncio.sleep(1.0)
        return inner.text

    manager.register("outer", outer)
    with pytest.raises(AgentTimeoutError):
        await manager.query(req("outer"))
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0  # both timers' cancel requests were withdrawn


@pytest.mark.concurrency
async def test_cancelling_a_call_from_outside_is_not_a_timeout() -> None:
    manager = AgentManager(default_timeout_s=5.0)
    manager.register("a", slow)
    call = asyncio.create_task(manager.query(req("a")))
    await asyncio.sleep(0.01)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert call.cancelled()


@pytest.mark.concurrency
async def test_a_timeout_and_an_outside_cancel_together_stay_a_cancel() -> None:
    manager = AgentManager(default_timeout_s=0.02)
    started = asyncio.Event()

    async def stubborn(request: AgentRequest) -> str:
        started.set()
        try:
            await asyncio.sleep(1.0)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # still cleaning up when the caller cancels too
            raise
        return "late"

    manager.register("a", stubborn)
    call = asyncio.create_task(manager.query(req("a")))
    await started.wait()
    await asyncio.sleep(0.04)  # the timer has fired; the agent is cleaning up
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


async def test_an_answer_that_beats_the_cancellation_is_kept() -> None:
    manager = AgentManager(default_timeout_s=0.02)

    async def shielded(request: AgentRequest) -> str:
        try:
            await asyncio.sleep(1.0)
        except asyncio.CancelledError:
            return "answered anyway"  # swallows the timer's cancellation, like asyncio.timeout allows
        return "late"

    manager.register("a", shielded)
    assert (await manager.query(req("a"))).text == "answered anyway"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0  # the timer's cancel request was withdrawn


def test_shared_timers_start_afresh_in_a_new_loop() -> None:
    manager = AgentManager(default_timeout_s=0.03)
    manager.register("a", slow)

    async def once() -> None:
        with pytest.raises(AgentTimeoutError):
            await manager.query(req("a"))

    asyncio.run(once())
    asyncio.run(once())


# -- answers are frozen --------------------------------------------------------------------------


async def test_answers_are_deep_frozen_copies() -> None:
    manager = AgentManager()
    kept: dict[str, Any] = {"stance": "bullish", "n": 1, "items": [1, {"x": [2]}], "nested": {"y": [3]}}
    manager.register("a", lambda r: kept)
    response = await manager.query(req("a"))
    kept["n"] = 2
    kept["items"].append(9)
    kept["nested"]["y"].append(4)
    assert response.data["n"] == 1
    assert response.data["items"] == (1, {"x": (2,)})
    assert response.data["nested"] == {"y": (3,)}
    with pytest.raises(TypeError):
        response.data["n"] = 5  # type: ignore[index]
    with pytest.raises(TypeError):
        response.data["nested"]["z"] = 1
    assert response.stance == "bullish"
