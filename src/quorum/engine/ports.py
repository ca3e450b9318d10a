"""The small interfaces the lower layers of a run are given, instead of the whole live execution.

- :class:`Emitter` — the execution's event stream (``emit`` numbers every event, journaled or not).
- :class:`Gate` — the step boundary where a paused execution waits.
- :class:`Interrupt` — why an execution is being stopped from outside its phases.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = ("Emitter", "Gate", "Interrupt")


class Interrupt(enum.StrEnum):
    ABORT = "abort"
    TIMEOUT = "timeout"
    DETACH = "detach"
    """Stop driving a paused execution here, settling nothing (another process takes it over)."""
    STORE = "store"
    """The history store failed: the execution cannot be recorded, so it stops as failed."""


class Emitter(Protocol):
    def wants(self, event_type: str) -> bool:
        """Whether anyone records or listens for ``event_type`` (to skip building costly payloads)."""
        ...

    def emit(
        self,
        event_type: str,
        *,
        phase: str | None = None,
        step: int | None = None,
        agent: str | None = None,
        duration_ms: float | None = None,
        error: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Take the next sequence number; record and publish the event if anyone wants it."""
        ...

    def streamer(self, phase: str, step: int, agent: str) -> Callable[[str], None] | None:
        """A callback publishing each streamed piece of an answer as ``agent:chunk``; None when
        nobody listens for chunks."""
        ...


class Gate(Protocol):
    async def boundary(self) -> None:
        """Return at once, unless the execution is paused (or its journal too far behind)."""
        ...
