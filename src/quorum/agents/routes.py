"""Route: one registered agent with what the manager needs to call it, resolved at registration."""

from __future__ import annotations

import asyncio

from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import Agent
from quorum.agents.resilience import CircuitBreaker, RateLimiter

__all__ = ("Route",)


class Route:
    """An agent, its policy, and the breaker, rate limiter and pool that apply to it (each optional)."""

    __slots__ = ("_loop", "_semaphore", "agent", "breaker", "cached", "limiter", "policy")

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

    @property
    def plain(self) -> bool:
        """Nothing to guard, pool, cache or retry: a call is one attempt under its time limit."""
        return (
            self.breaker is None
            and self.limiter is None
            and not self.cached
            and self.policy.max_concurrency is None
            and self.policy.max_retries == 0
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
