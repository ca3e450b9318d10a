"""RunningClock: how long an execution has run, across pauses and across the processes that drove it.

An execution's ``duration_ms`` is its *running time*: the time it spent in ``running``, summed over
every process that drove it. Paused time does not count, nor the time when no process drove it
(between a crash or a detach and the resume that took it over). Each process adds the stretches it
drove (monotonic clock); a process that takes an execution over starts from the running time its
journal records (:mod:`quorum.engine.journal`), where a process that died running is counted up to its
last recorded event. ``started_at``/``ended_at`` of the context stay wall-clock times, so
``ended_at - started_at`` is the elapsed time and may be longer.
"""

from __future__ import annotations

import time

__all__ = ("RunningClock",)


class RunningClock:
    __slots__ = ("_running_since", "active_s", "paused_at", "paused_s")

    def __init__(self) -> None:
        self.active_s = 0.0
        """Running time of the stretches already closed."""
        self.paused_s = 0.0
        """Total time spent paused (it does not count against the time limit)."""
        self.paused_at: float | None = None
        self._running_since: float | None = None

    @property
    def running_s(self) -> float:
        if self._running_since is None:
            return self.active_s
        return self.active_s + max(0.0, time.monotonic() - self._running_since)

    def run(self) -> None:
        """A running stretch starts now."""
        self._running_since = time.monotonic()

    def pause(self) -> None:
        self.paused_at = time.monotonic()
        self._close_stretch(self.paused_at)

    def resume(self) -> float:
        """Running again; returns how long the pause lasted (seconds)."""
        now = time.monotonic()
        paused = 0.0 if self.paused_at is None else now - self.paused_at
        self.paused_s += paused
        self.paused_at = None
        self._running_since = now
        return paused

    def hold_paused(self) -> None:
        """Paused (as read back from a record): the pause lasts from now."""
        self.paused_at = time.monotonic()

    def take_over(self, running_s: float, *, running: bool) -> None:
        """This process drives the execution from now on; it had already run ``running_s`` seconds."""
        self.active_s = running_s
        self._running_since = time.monotonic() if running else None

    def end(self) -> None:
        now = time.monotonic()
        if self.paused_at is not None:
            self.paused_s += now - self.paused_at
            self.paused_at = None
        self._close_stretch(now)

    def stop(self) -> None:
        """Neither running nor paused (back to pending)."""
        self.paused_at = None
        self._running_since = None

    def reset(self) -> None:
        """Forget how long it ran and paused (a fork is a new execution with its own clock)."""
        self.active_s = 0.0
        self.paused_s = 0.0
        self.stop()

    def _close_stretch(self, now: float) -> None:
        if self._running_since is not None:
            self.active_s += max(0.0, now - self._running_since)
            self._running_since = None
