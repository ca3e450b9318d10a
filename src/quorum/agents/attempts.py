"""Calling an agent: one attempt under its time limit, and the retries of transient failures.

An attempt is cut off by ``asyncio.timeout``; what it raises becomes an :class:`~quorum.errors.AgentError`
(its text redacted) unless it is one of quorum's own errors. Retries wait for the agent's rate limit and
pool slot within the request's deadline, then back off, at least as long as a server's Retry-After asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.agents.resilience import Backoff, honour_retry_after
from quorum.agents.routes import Route
from quorum.agents.secrets import redact
from quorum.definition.backoff import Draw
from quorum.errors import AgentError, AgentTimeoutError, QuorumError

__all__ = ("Retries", "attempt")


async def attempt(route: Route, request: AgentRequest, limit_s: float | None) -> AgentResponse:
    """One call of the agent, cancelled after ``limit_s`` seconds (``None``: no limit)."""
    try:
        async with asyncio.timeout(limit_s):
            return await route.agent.query(request)
    except TimeoutError:
        raise AgentTimeoutError(request.agent_id, limit_s or 0.0) from None
    except QuorumError:
        raise
    except Exception as exc:
        message = redact(f"{type(exc).__name__}: {exc}")
        raise AgentError(request.agent_id, message, transient=isinstance(exc, ConnectionError)) from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Retries:
    """How the manager retries a call: the backoff, the longest Retry-After worth waiting for, and the
    clock, sleep and random draw (all injectable, so that tests run on a fake timeline)."""

    backoff: Backoff
    max_retry_after_s: float
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    rand: Draw

    async def call(
        self, route: Route, request: AgentRequest, *, default_timeout_s: float | None
    ) -> AgentResponse:
        """Attempts until success, a permanent failure, the retry limit, or the request's deadline."""
        deadline = None if request.timeout_s is None else self.clock() + request.timeout_s
        retry = 0
        while True:
            try:
                return await self._attempt_in_turn(route, request, deadline, default_timeout_s)
            except AgentError as exc:
                if not exc.transient or retry >= route.policy.max_retries:
                    raise
                retry += 1
                delay = honour_retry_after(
                    self.backoff.delay(retry, self.rand),
                    getattr(exc, "retry_after_s", None),
                    limit_s=self.max_retry_after_s,
                )
                if delay is None or (deadline is not None and self.clock() + delay >= deadline):
                    raise
                await self.sleep(delay)

    async def _attempt_in_turn(
        self, route: Route, request: AgentRequest, deadline: float | None, default_timeout_s: float | None
    ) -> AgentResponse:
        """Wait for the rate limit and a pool slot (within the request's deadline), then one attempt."""
        semaphore = route.semaphore()
        try:
            async with asyncio.timeout(self._remaining(request, deadline)):
                if route.limiter is not None:
                    await route.limiter.acquire()
                if semaphore is not None:
                    await semaphore.acquire()
        except TimeoutError:
            raise AgentTimeoutError(request.agent_id, request.timeout_s or 0.0) from None
        try:
            limit = route.policy.timeout_s
            remaining = self._remaining(request, deadline)
            if remaining is not None:
                limit = remaining if limit is None else min(limit, remaining)
            elif limit is None:
                limit = default_timeout_s
            return await attempt(route, request, limit)
        finally:
            if semaphore is not None:
                semaphore.release()

    def _remaining(self, request: AgentRequest, deadline: float | None) -> float | None:
        """Seconds left before the request's deadline (``None``: it has none)."""
        if deadline is None:
            return None
        remaining = deadline - self.clock()
        if remaining <= 0:
            raise AgentTimeoutError(request.agent_id, request.timeout_s or 0.0)
        return remaining
