"""Backoff, a per-agent circuit breaker, a per-provider rate limiter (token bucket), and the shared
timers that bound each call.

The first three take an injectable clock (and sleep) so tests run them on a fake timeline.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from quorum.errors import AgentError

__all__ = (
    "Backoff",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "RateLimiter",
    "SharedTimers",
)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

log = logging.getLogger("quorum.agents")


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Wait before retry n (1 = first retry): ``min(initial_s * multiplier**(n-1), max_s)`` ± ``jitter``.

    A server's Retry-After is honoured (the wait is at least that long) unless it exceeds
    ``max_retry_after_s``, in which case retrying is pointless and :meth:`delay` returns ``None``.
    """

    initial_s: float = 0.5
    max_s: float = 20.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_retry_after_s: float = 60.0

    def delay(self, retry: int, *, rand: float, retry_after_s: float | None = None) -> float | None:
        base = min(self.initial_s * self.multiplier ** max(retry - 1, 0), self.max_s)
        wait = max(0.0, base * (1.0 + self.jitter * (2.0 * rand - 1.0)))
        if retry_after_s is not None:
            if retry_after_s > self.max_retry_after_s:
                return None
            wait = max(wait, retry_after_s)
        return wait


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


class Deadline(dict["asyncio.Task[Any]", int]):
    """The calls sharing one :class:`SharedTimers` timer: each task -> its ``cancelling()`` count when
    it entered (what :meth:`SharedTimers.leave` compares against, as ``asyncio.timeout`` does).

    A call is one entry in this dict, not an object of its own: a 10,000-agent fan-out holds 10,000
    calls at once, and every full garbage collection walks each object they keep alive."""

    __slots__ = ("fired",)

    def __init__(self) -> None:
        super().__init__()
        self.fired = False
        """Set when the timer went off: every task still in here then had ``cancel()`` from it."""


class SharedTimers:
    """Per-call timeouts that share event-loop timers (the manager's hot path).

    ``asyncio.timeout`` puts one timer in the loop's heap per call and leaves it there, cancelled, until
    it is due or swept: with a 60 s default timeout, a 10,000-agent fan-out keeps 10,000 timers alive.
    Here a deadline is rounded *up* to a bucket ``limit / 64`` wide and every call whose deadline falls
    in the same bucket shares one timer, so a call costs a dict insertion and removal. A call times out
    no earlier than its limit and at most 1/64 of it later (60 s: within 0.94 s; 50 ms: within 0.8 ms).

    Semantics are those of ``asyncio.timeout``: when the bucket's timer fires, each call still in it has
    its task cancelled; :meth:`leave` turns that cancellation into ``TimeoutError`` unless someone else
    also cancelled the task (then the ``CancelledError`` goes on). One instance serves one event loop;
    it starts afresh when used from another one.
    """

    __slots__ = ("_buckets", "_loop")

    _SLICES = 64

    def __init__(self) -> None:
        self._buckets: dict[float, Deadline] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def enter(self, limit_s: float) -> Deadline:
        """Start timing the current task; pair with :meth:`leave` (same task) in a ``finally``/``except``."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._buckets = {}
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("SharedTimers.enter() must be called from a task")
        width = limit_s / self._SLICES
        deadline = loop.time() + limit_s
        if width > 0:
            deadline = math.ceil(deadline / width) * width
        buckets = self._buckets
        bucket = buckets.get(deadline)
        if bucket is None or task in bucket:
            # A task already timed in this bucket (an agent that asks another agent, in its own task)
            # gets a timer of its own: one entry per task is what leave() can tell apart.
            fresh = Deadline()
            if bucket is None:
                buckets[deadline] = fresh
            bucket = fresh
            loop.call_at(deadline, self._fire, deadline, bucket)
        bucket[task] = task.cancelling()
        return bucket

    def _fire(self, deadline: float, bucket: Deadline) -> None:
        if self._buckets.get(deadline) is bucket:
            del self._buckets[deadline]
        # The entries stay: each call's leave() reads its own (and removes it).
        bucket.fired = True
        for task in bucket:
            if not task.done():
                task.cancel()

    @staticmethod
    def leave(bucket: Deadline, error: BaseException | None = None) -> bool:
        """Stop timing; True when ``error`` (a ``CancelledError``) is this timer's doing: a timeout."""
        task = asyncio.current_task()
        if task is None:
            return False
        cancelling = bucket.pop(task, None)
        if cancelling is None or not bucket.fired:
            return False
        return task.uncancel() <= cancelling and isinstance(error, asyncio.CancelledError)
