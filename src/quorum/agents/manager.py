"""AgentManager: holds agents by id and queries them — with pools, rate limits, retries, a circuit
breaker, a response cache and budgets, each only when configured.

The engine relies on :class:`~quorum.agents.protocol.AgentDirectory` (``has_agent``, ``agent_ids``,
``query``). An agent registered without a policy, with no cache, rate limit or budget in play, takes the
plain path: one dict lookup and a shared-timer timeout — no locks, semaphores or hashing (the engine's
per-call overhead target is tens of microseconds).

Per call, in order: budget (calls) → circuit breaker → cache → [rate limit → pool slot → attempt with
timeout] repeated for transient failures with backoff → cache store → budget (tokens, cost).
Errors other than quorum's own are wrapped in :class:`~quorum.errors.AgentError` (their text redacted).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from quorum.agents.budget import Budget, BudgetTracker, BudgetUsage
from quorum.agents.cache import ReplayMissError, ResponseCache, cache_key, request_material
from quorum.agents.function import AgentCallable, FunctionAgent
from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import Agent, AgentRequest, AgentResponse
from quorum.agents.resilience import (
    Backoff,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    RateLimiter,
    SharedTimers,
)
from quorum.agents.secrets import redact
from quorum.errors import AgentError, AgentTimeoutError, BudgetExceededError, QuorumError
from quorum.ids import AgentId

__all__ = ("AgentManager",)

_PLAIN = AgentPolicy()
_perf = time.perf_counter


class _Route:
    """Everything needed to call one agent, resolved once at registration (not per call)."""

    __slots__ = ("_loop", "_semaphore", "agent", "breaker", "cached", "direct", "limiter", "plain", "policy")

    def __init__(
        self,
        agent: Agent,
        policy: AgentPolicy,
        *,
        breaker: CircuitBreaker | None,
        limiter: RateLimiter | None,
        cached: bool,
    ) -> None:
        self.agent = agent
        self.policy = policy
        self.breaker = breaker
        self.limiter = limiter
        self.cached = cached
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.plain = (
            breaker is None
            and limiter is None
            and not cached
            and policy.max_concurrency is None
            and policy.max_retries == 0
        )
        # An async FunctionAgent on the plain path is awaited by the manager itself: one coroutine
        # (FunctionAgent.query's) fewer per in-flight call.
        self.direct = (
            agent if self.plain and type(agent) is FunctionAgent and agent.awaits_directly else None
        )

    def semaphore(self) -> asyncio.Semaphore | None:
        """The pool of this agent in the running loop (a manager may outlive one ``asyncio.run``)."""
        n = self.policy.max_concurrency
        if n is None:
            return None
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._semaphore = asyncio.Semaphore(n)
            self._loop = loop
        return self._semaphore


def _wrap(agent_id: str, exc: Exception) -> AgentError:
    transient = isinstance(exc, ConnectionError | TimeoutError)
    return AgentError(agent_id, redact(f"{type(exc).__name__}: {exc}"), transient=transient)


class AgentManager:
    def __init__(
        self,
        *,
        default_timeout_s: float | None = 60.0,
        cache: ResponseCache | None = None,
        backoff: Backoff | None = None,
        circuit_breaker: BreakerPolicy | None = None,
        rate_limits: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """``circuit_breaker`` applies to agents whose policy sets none; ``rate_limits`` maps a provider
        (``openai``) to requests per minute. ``clock``/``sleep``/``rand`` are injectable for tests."""
        self.default_timeout_s = default_timeout_s
        self.backoff = backoff or Backoff()
        self.default_breaker = circuit_breaker
        self._cache = cache
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self._agents: dict[AgentId, Agent] = {}
        self._policies: dict[AgentId, AgentPolicy] = {}
        self._routes: dict[AgentId, _Route] = {}
        self._breakers: dict[AgentId, CircuitBreaker] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._budgets: dict[str, BudgetTracker] = {}
        self._timers = SharedTimers()
        for provider, rpm in (rate_limits or {}).items():
            self._limiters[provider] = RateLimiter(rpm, clock=clock, sleep=sleep)

    # -- registration -------------------------------------------------------------------------------

    def register(
        self, agent_id: str, agent: Agent | AgentCallable, *, policy: AgentPolicy | None = None
    ) -> None:
        """Register an agent object (with ``async query``) or a plain callable under ``agent_id``."""
        if not isinstance(agent, Agent):
            agent = FunctionAgent(agent_id, agent)
        key = AgentId(agent_id)
        self._agents[key] = agent
        if policy is not None:
            self._policies[key] = policy
        self._breakers.pop(key, None)
        self._route(key)

    def configure(self, agent_id: str, policy: AgentPolicy) -> None:
        """Replace the policy of a registered agent."""
        key = AgentId(agent_id)
        self.get(key)
        self._policies[key] = policy
        self._breakers.pop(key, None)
        self._route(key)

    def unregister(self, agent_id: str) -> None:
        key = AgentId(agent_id)
        self._agents.pop(key, None)
        self._policies.pop(key, None)
        self._routes.pop(key, None)
        self._breakers.pop(key, None)

    def policy(self, agent_id: str) -> AgentPolicy:
        return self._policies.get(AgentId(agent_id), _PLAIN)

    def set_rate_limit(self, provider: str, requests_per_minute: float | None, *, burst: int = 1) -> None:
        """Limit calls to every agent of ``provider`` (``None`` removes the limit)."""
        if requests_per_minute is None:
            self._limiters.pop(provider, None)
        else:
            self._limiters[provider] = RateLimiter(
                requests_per_minute, burst=burst, clock=self._clock, sleep=self._sleep
            )
        self._reroute()

    @property
    def cache(self) -> ResponseCache | None:
        return self._cache

    @cache.setter
    def cache(self, cache: ResponseCache | None) -> None:
        self._cache = cache
        self._reroute()

    def _reroute(self) -> None:
        for key in self._agents:
            self._route(key)

    def _route(self, key: AgentId) -> None:
        policy = self._policies.get(key, _PLAIN)
        breaker_policy = policy.breaker or self.default_breaker
        breaker: CircuitBreaker | None = None
        if breaker_policy is not None:
            breaker = self._breakers.get(key)
            if breaker is None or breaker.policy != breaker_policy:
                breaker = CircuitBreaker(key, breaker_policy, clock=self._clock)
                self._breakers[key] = breaker
        limiter = self._limiters.get(policy.provider) if policy.provider else None
        cached = self._cache is not None and self._cache.applies_to(policy.cache_ttl_s)
        self._routes[key] = _Route(self._agents[key], policy, breaker=breaker, limiter=limiter, cached=cached)

    async def aclose(self) -> None:
        """Close agents that hold connections (LLM clients) and the cache file."""
        for agent in list(self._agents.values()):
            close = getattr(agent, "aclose", None)
            if close is not None:
                await close()
        if self._cache is not None:
            self._cache.close()

    async def __aenter__(self) -> AgentManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the directory the engine uses --------------------------------------------------------------

    def has_agent(self, agent_id: str, /) -> bool:
        return agent_id in self._agents

    def agent_ids(self) -> list[AgentId]:
        return sorted(self._agents)

    def get(self, agent_id: str) -> Agent:
        try:
            return self._agents[AgentId(agent_id)]
        except KeyError:
            raise AgentError(agent_id, "no such agent") from None

    # -- budgets and health -------------------------------------------------------------------------

    def open_budget(self, execution_id: str, budget: Budget) -> BudgetTracker:
        tracker = BudgetTracker(budget)
        self._budgets[execution_id] = tracker
        return tracker

    def close_budget(self, execution_id: str) -> BudgetUsage | None:
        tracker = self._budgets.pop(execution_id, None)
        return None if tracker is None else tracker.usage()

    def budget_usage(self, execution_id: str) -> BudgetUsage | None:
        tracker = self._budgets.get(execution_id)
        return None if tracker is None else tracker.usage()

    def circuit_state(self, agent_id: str) -> BreakerState | None:
        breaker = self._breakers.get(AgentId(agent_id))
        return None if breaker is None else breaker.state

    def health(self) -> dict[str, dict[str, Any]]:
        """Per agent with a circuit breaker: its state, consecutive failures, times opened, calls refused."""
        return {
            agent: {
                "state": str(b.state),
                "failures": b.failures,
                "times_opened": b.times_opened,
                "rejected": b.rejected,
            }
            for agent, b in sorted(self._breakers.items())
        }

    # -- querying -----------------------------------------------------------------------------------

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        route = self._routes.get(request.agent_id)
        if route is None:
            raise AgentError(request.agent_id, "no such agent")
        budget = self._budgets.get(request.execution_id) if self._budgets else None
        if not route.plain or budget is not None:
            return await self._managed(route, request, budget)
        # The plain path: ``_attempt`` inlined, so that a call is one coroutine fewer (each in-flight
        # call's objects are traversed by the garbage collector; a fan-out holds thousands at once).
        limit_s = self._timeout_for(route, request)
        direct = route.direct
        try:
            if limit_s is None:
                if direct is not None:
                    started = _perf()
                    return direct.answer(await direct.fn(request), started)
                return await route.agent.query(request)
            timers = self._timers
            deadline = timers.enter(limit_s)
            try:
                if direct is not None:
                    started = _perf()
                    response = direct.answer(await direct.fn(request), started)
                else:
                    response = await route.agent.query(request)
            except asyncio.CancelledError as exc:
                if timers.leave(deadline, exc):
                    raise TimeoutError from exc
                raise
            except BaseException:
                timers.leave(deadline)
                raise
            timers.leave(deadline)
            return response
        except TimeoutError:
            raise AgentTimeoutError(request.agent_id, limit_s or 0.0) from None
        except QuorumError:
            raise
        except Exception as exc:
            raise _wrap(request.agent_id, exc) from exc

    def _timeout_for(self, route: _Route, request: AgentRequest) -> float | None:
        if route.policy.timeout_s is not None:
            if request.timeout_s is not None:
                return min(route.policy.timeout_s, request.timeout_s)
            return route.policy.timeout_s
        return request.timeout_s if request.timeout_s is not None else self.default_timeout_s

    async def _attempt(self, route: _Route, request: AgentRequest, limit_s: float | None) -> AgentResponse:
        try:
            if limit_s is None:
                return await route.agent.query(request)
            # Shared timers, not ``asyncio.timeout``: one loop timer per time slice instead of one per
            # call (the default 60 s limit is armed on every call; see SharedTimers).
            timers = self._timers
            deadline = timers.enter(limit_s)
            try:
                response = await route.agent.query(request)
            except asyncio.CancelledError as exc:
                if timers.leave(deadline, exc):
                    raise TimeoutError from exc
                raise
            except BaseException:
                timers.leave(deadline)
                raise
            timers.leave(deadline)
            return response
        except TimeoutError:
            raise AgentTimeoutError(request.agent_id, limit_s or 0.0) from None
        except QuorumError:
            raise
        except Exception as exc:
            raise _wrap(request.agent_id, exc) from exc

    async def _managed(
        self, route: _Route, request: AgentRequest, budget: BudgetTracker | None
    ) -> AgentResponse:
        breaker = route.breaker
        if breaker is not None:
            breaker.before_call()  # raises CircuitOpenError (an AgentError) while open
        try:
            if budget is not None:
                budget.start_call()
            key: str | None = None
            cache = self._cache
            if route.cached and cache is not None:
                material_of = getattr(route.agent, "cache_material", None)
                material = material_of(request) if callable(material_of) else request_material(request)
                key = cache_key(
                    request.agent_id, route.policy.model, {"m": material, "p": route.policy.parameters}
                )
                hit = cache.get(key, ignore_expiry=cache.mode == "replay") if cache.mode != "record" else None
                if hit is not None:
                    if breaker is not None:
                        breaker.release()
                    return hit.with_(cached=True, agent_id=request.agent_id)
                if cache.mode == "replay":
                    raise ReplayMissError(request.agent_id, key)
            response = await self._with_retries(route, request)
        except BudgetExceededError:
            if breaker is not None:
                breaker.release()
            raise
        except Exception:
            if breaker is not None:
                breaker.record_failure()
            raise
        except BaseException:
            if breaker is not None:
                breaker.release()
            raise
        if breaker is not None:
            # An answer carrying an error (an agent may report failure without raising) counts as one.
            if response.error is None:
                breaker.record_success()
            else:
                breaker.record_failure()
        if key is not None and cache is not None:
            cache.put(key, response, ttl_s=cache.ttl_for(route.policy.cache_ttl_s))
        if budget is not None:
            budget.add(response)
        return response

    async def _with_retries(self, route: _Route, request: AgentRequest) -> AgentResponse:
        """Attempts until success, a permanent failure, the retry limit, or the request's deadline."""
        overall = request.timeout_s
        deadline = None if overall is None else self._clock() + overall
        policy = route.policy
        retry = 0
        while True:
            try:
                return await self._one_attempt(route, request, deadline)
            except AgentError as exc:
                if not exc.transient or retry >= policy.max_retries:
                    raise
                retry += 1
                delay = self.backoff.delay(
                    retry, rand=self._rand(), retry_after_s=getattr(exc, "retry_after_s", None)
                )
                if delay is None or (deadline is not None and self._clock() + delay >= deadline):
                    raise
                await self._sleep(delay)

    def _remaining(self, request: AgentRequest, deadline: float | None) -> float | None:
        if deadline is None:
            return None
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise AgentTimeoutError(request.agent_id, request.timeout_s or 0.0)
        return remaining

    async def _one_attempt(
        self, route: _Route, request: AgentRequest, deadline: float | None
    ) -> AgentResponse:
        """Wait for the rate limit and a pool slot (within the request's deadline), then call the agent
        with the per-attempt timeout."""
        semaphore = route.semaphore()
        acquired = False
        try:
            if route.limiter is not None or semaphore is not None:
                if deadline is None:
                    if route.limiter is not None:
                        await route.limiter.acquire()
                    if semaphore is not None:
                        await semaphore.acquire()
                        acquired = True
                else:
                    try:
                        async with asyncio.timeout(self._remaining(request, deadline)):
                            if route.limiter is not None:
                                await route.limiter.acquire()
                            if semaphore is not None:
                                await semaphore.acquire()
                                acquired = True
                    except TimeoutError:
                        raise AgentTimeoutError(request.agent_id, request.timeout_s or 0.0) from None
            limit = route.policy.timeout_s
            remaining = self._remaining(request, deadline)
            if remaining is not None:
                limit = remaining if limit is None else min(limit, remaining)
            elif limit is None:
                limit = self.default_timeout_s
            return await self._attempt(route, request, limit)
        finally:
            if acquired:
                assert semaphore is not None
                semaphore.release()
