"""Retrying and guarding agent calls: the backoff (shared with phase retries), a server's Retry-After,
a per-agent circuit breaker and a per-provider rate limiter (token bucket).

The breaker and the limiter take an injectable clock (and sleep) so tests run them on a fake timeline.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from quorum.definition.backoff import Backoff
from quorum.errors import AgentError

__all__ = (
    "Backoff",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "RateLimiter",
    "honour_retry_after",
)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

log = logging.getLogger("quorum.agents")


def honour_retry_after(delay_s: float, retry_after_s: float | None, *, limit_s: float) -> float | None:
    """The wait before a retry: the backoff's ``delay_s``, or the server's Retry-After when that is
    longer; ``None`` when the server asks for more than ``limit_s`` (retrying is pointless then)."""
    if retry_after_s is None:
        return delay_s
    if retry_after_s > limit_s:
        return None
    return max(delay_s, retry_after_s)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    """Calls go through; consecutive failures are counted."""
    OPEN = "open"
    """Calls fail at once with "circuit open" until the cool-down has passed."""
    HALF_OPEN = "half_open"
    """One trial call goes through: success closes the circuit, failure opens it again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    failure_threshold: int = 5
    reset_after_s: float = 30.0


class CircuitOpenError(AgentError):
    def __init__(self, agent_id: str, retry_in_s: float) -> None:
        super().__init__(agent_id, f"circuit open after repeated failures; next trial in {retry_in_s:.1f}s")
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    """Stops calling an agent that keeps failing (graceful degradation), and tries again later."""

    __slots__ = (
        "_clock", "_trial_running", "agent_id", "failures", "opened_at", "policy", "rejected", "state",
        "times_opened",
    )  # fmt: skip

    def __init__(self, agent_id: str, policy: BreakerPolicy, *, clock: Clock = time.monotonic) -> None:
        self.agent_id = agent_id
        self.policy = policy
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.times_opened = 0
        self.rejected = 0
        self._trial_running = False

    def before_call(self) -> None:
        """Raise :class:`CircuitOpenError` when the call must not go through."""
        if self.state is BreakerState.CLOSED:
            return
        if self.state is BreakerState.OPEN:
            waited = self._clock() - self.opened_at
            if waited < self.policy.reset_after_s:
                self.rejected += 1
                raise CircuitOpenError(self.agent_id, self.policy.reset_after_s - waited)
            self.state = BreakerState.HALF_OPEN
            log.info("circuit half-open for agent %s: one trial call", self.agent_id)
        if self._trial_running:
            self.rejected += 1
            raise CircuitOpenError(self.agent_id, 0.0)
        self._trial_running = True

    def record_success(self) -> None:
        if self.state is not BreakerState.CLOSED:
            log.info("circuit closed for agent %s", self.agent_id)
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._trial_running = False

    def record_failure(self) -> None:
        self.failures += 1
        self._trial_running = False
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and self.failures >= self.policy.failure_threshold
        ):
            self.state = BreakerState.OPEN
            self.opened_at = self._clock()
            self.times_opened += 1
            log.warning(
                "circuit opened for agent %s after %d consecutive failures", self.agent_id, self.failures
            )

    def release(self) -> None:
        """The call ended without a verdict on the agent's health (cancelled, budget)."""
        self._trial_running = False


class RateLimiter:
    """Requests per minute for one provider, as a token bucket with ``burst`` tokens.

    Each caller reserves its slot at once (the bucket may go negative) and sleeps until that slot, so
    waiting callers are served in arrival order and never wake up to find the token taken.
    """

    __slots__ = ("_clock", "_sleep", "_tokens", "_updated", "burst", "rate_per_s", "requests_per_minute")

    def __init__(
        self,
        requests_per_minute: float,
        *,
        burst: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        self.requests_per_minute = requests_per_minute
        self.rate_per_s = requests_per_minute / 60.0
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._updated = clock()

    def reserve(self) -> float:
        """Take a token; the seconds to wait before using it."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate_per_s

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self._sleep(wait)
