"""Phase retries: how long to wait, and the switch that makes tests fast.

The delay before retry ``n`` (1 = the first retry) comes from the policy's
:class:`~quorum.definition.backoff.Backoff`, the one agent-call retries use too:
``min(backoffMs * 2**(n-1), maxBackoffMs)``, scaled by a random factor in ``[1 - jitter, 1 + jitter]``.
Events ``phase:retry`` carry the delay that was computed, even when tests skip the wait.

``set_testing(True)`` (or :func:`quorum.testing.fast_retries`) turns every wait into zero, like
stamina's ``set_testing``; an executor can also be given its own ``sleep`` (a fake clock).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from quorum.definition.model import RetryPolicy

__all__ = ("Sleep", "backoff_delay_ms", "is_testing", "retry_sleep", "set_testing")

Sleep = Callable[[float], Awaitable[None]]
"""``await sleep(seconds)``."""

_testing = False


def set_testing(on: bool = True) -> None:
    """Make every retry wait zero seconds (process-wide). Meant for tests."""
    global _testing
    _testing = on


def is_testing() -> bool:
    return _testing


def backoff_delay_ms(policy: RetryPolicy, attempt: int, *, rng: random.Random | None = None) -> float:
    """The delay before retry number ``attempt`` in milliseconds, with jitter drawn from ``rng``."""
    seconds = policy.backoff.delay(attempt, (rng or random).random)
    # Rounded to the microsecond: whole milliseconds from the task file stay whole after the trip
    # through seconds (1001 ms would come back as 1000.9999999999999).
    return round(seconds * 1000.0, 3)


async def retry_sleep(seconds: float, sleep: Sleep | None = None) -> None:
    """Wait before a retry: through ``sleep`` when given (a fake clock), not at all when testing."""
    if sleep is not None:
        await sleep(seconds)
    elif _testing:
        await asyncio.sleep(0)
    else:
        await asyncio.sleep(seconds)
