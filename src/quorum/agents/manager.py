"""AgentManager: holds agents by id and queries them — with pools, rate limits, retries, a circuit
breaker, a response cache and budgets, each only when configured.

The engine relies on :class:`~quorum.agents.protocol.AgentDirectory` (``has_agent``, ``agent_ids``,
``query``). An agent registered without a policy, with no cache, rate limit or budget in play, is called
once under its time limit (:attr:`Route.plain <quorum.agents.routes.Route.plain>`).

Per call, in order: budget (calls) → circuit breaker → cache → [rate limit → pool slot → attempt with
timeout] repeated for transient failures with backoff → cache store → budget (tokens, cost).
Errors other than quorum's own are wrapped in :class:`~quorum.errors.AgentError` (their text redacted).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from quorum.agents.attempts import Retries, attempt
from quorum.agents.budget import Budget, BudgetTracker, BudgetUsage
from quorum.agents.cache import (
    ON_CACHE_WARNING,
    CacheWarning,
    ReplayMissError,
    ResponseCache,
    cache_key,
    request_material,
)
from quorum.agents.function import AgentCallable, FunctionAgent
from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import Agent, AgentRequest, AgentResponse
from quorum.agents.resilience import Backoff, BreakerPolicy, BreakerState, CircuitBreaker, RateLimiter
from quorum.agents.routes import Route
from quorum.errors import AgentError, BudgetExceededError
from quorum.ids import AgentId

__all__ = ("AgentManager",)

_PLAIN = AgentPolicy()


class AgentManager:
    def __init__(
        self,
        *,
        default_timeout_s: float | None = 60.0,
        cache: ResponseCache | None = None,
        backoff: Backoff | None = None,
        max_retry_after_s: float = 60.0,
        circuit_breaker: BreakerPolicy | None = None,
        rate_limits: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """``circuit_breaker`` applies to agents whose policy sets none; ``rate_limits`` maps a provider
        (``openai``) to requests per minute; a server's Retry-After longer than ``max_retry_after_s``
        ends the retries. ``clock``/``sleep``/``rand`` are injectable for tests."""
        self.default_timeout_s = default_timeout_s
        self.default_breaker = circuit_breaker
        self._retries = Retries(
            backoff=backoff or Backoff(),
            max_retry_after_s=max_retry_after_s,
            clock=clock,
            sleep=sleep,
            rand=rand,
        )
        self._cache = cache
        self._clock = clock
        self._sleep = sleep
        self._agents: dict[AgentId, Agent] = {}
        self._policies: dict[AgentId, AgentPolicy] = {}
        self._routes: dict[AgentId, Route] = {}
        self._breakers: dict[AgentId, CircuitBreaker] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._budgets: dict[str, BudgetTracker] = {}
        for provider, rpm in (rate_limits or {}).items():
            self._limiters[provider] = RateLimiter(rpm, clock=clock, sleep=sleep)

    @property
    def backoff(self) -> Backoff:
        """The waits between retries of transient failures."""
        return self._retries.backoff

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
        self._routes[key] = Route(self._agents[key], policy, breaker=breaker, limiter=limiter, cached=cached)

    async def aclose(self) -> None:
        """Close agents that hold connections (LLM clients) and the cache file."""
        for agent in list(self._agents.values()):
            close = getattr(agent, "aclose", None)
            if close is not None:
                await close()
        if self._cache is not None:
            await self._cache.aclose()

    async def __aenter__(self) -> AgentManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the directory the engine uses --------------------------------------------------------------

    def has_agent(self, agent_id: str, /) -> bool:
        return agent_id in self._agents

    def agent_ids(self) -> list[AgentId]:
        return sorted(self._agents)

    def unready(self, agent_id: str, /) -> str | None:
        """Why ``agent_id`` cannot be called at all (an LLM agent without an API key), known before any
        call; None when it can (or it is not an agent here). The executor checks this before a run."""
        check = getattr(self._agents.get(AgentId(agent_id)), "unready", None)
        return check() if callable(check) else None

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
        budget = self._budgets.get(request.execution_id)
        if route.plain and budget is None:
            return await attempt(route, request, self._time_limit(route, request))
        return await self._managed(route, request, budget)

    def _time_limit(self, route: Route, request: AgentRequest) -> float | None:
        """The agent's own limit and the request's, whichever is shorter; else the manager's default."""
        if route.policy.timeout_s is not None:
            if request.timeout_s is not None:
                return min(route.policy.timeout_s, request.timeout_s)
            return route.policy.timeout_s
        return request.timeout_s if request.timeout_s is not None else self.default_timeout_s

    async def _managed(
        self, route: Route, request: AgentRequest, budget: BudgetTracker | None
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
                hit = (
                    await cache.lookup(key, ignore_expiry=cache.mode == "replay")
                    if cache.mode != "record"
                    else None
                )
                if hit is not None:
                    if breaker is not None:
                        breaker.release()
                    return hit.with_(cached=True, agent_id=request.agent_id)
                if cache.warning is not None:
                    _tell_unavailable(cache.warning, request)
                if cache.mode == "replay":
                    raise ReplayMissError(request.agent_id, key)
            response = await self._retries.call(route, request, default_timeout_s=self.default_timeout_s)
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
            told = cache.warning is not None
            await cache.store(key, response, ttl_s=cache.ttl_for(route.policy.cache_ttl_s))
            if not told and cache.warning is not None:  # it went away while this call ran
                _tell_unavailable(cache.warning, request)
        if budget is not None:
            budget.add(response)
        return response


def _tell_unavailable(warning: CacheWarning, request: AgentRequest) -> None:
    """Tell the engine of the request's execution that the cache is off (its ``cache:unavailable``)."""
    hook = request.metadata.get(ON_CACHE_WARNING)
    if hook is not None:
        try:
            hook(request, warning.location, warning.reason)
        except Exception:  # a listener's failure must not turn an outage into a failed call
            logging.getLogger("quorum.agents.cache").exception("the cache warning's listener failed")
