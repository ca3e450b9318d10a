"""Backoff: how long to wait before a retry. Phase retries and agent-call retries both use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ("Backoff", "Draw")

Draw = Callable[[], float]
"""A uniform random number in [0, 1): ``random.random``, ``random.Random(seed).random``, ``lambda: 0.5``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential backoff with jitter. The wait before retry ``n`` (1 = the first retry) is
    ``min(initial_s * multiplier**(n - 1), max_s)``, scaled by a random factor in
    ``[1 - jitter, 1 + jitter]`` so that clients failing together do not retry together."""

    initial_s: float = 0.5
    max_s: float = 20.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: Draw) -> float:
        """Seconds to wait before retry number ``attempt``."""
        base = min(self.initial_s * self.multiplier ** max(attempt - 1, 0), self.max_s)
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rng() - 1.0)))
