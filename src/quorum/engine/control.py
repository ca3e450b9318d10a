"""ExecutionControl: pause, resume and interrupts of one execution, and the clocks a pause stops.

- **Pause** closes the gate that every step, round-table turn, phase start and retry passes
  (:meth:`boundary`); calls in flight finish. A pause asked before the execution starts is applied as it
  starts. Paused time counts neither against the execution's time limit nor against running phases'
  ``timeout:`` (each is a :meth:`phase_clock`).
- **Interrupts** stop the execution from outside its phases: abort, the time limit, a failed history
  store, and detach (leave a paused execution for another process). The first one wins; which statuses
  each may come from is :data:`INTERRUPTIBLE`. An interrupt sets the execution's abort signal and, while
  the phases are being driven, cancels them (the live execution settles the outcome).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Final

from quorum.engine.context import ExecutionContext
from quorum.engine.log import EngineLogger
from quorum.engine.ports import Emitter, Interrupt
from quorum.engine.recorder import Backlog
from quorum.engine.status import ExecutionStatus
from quorum.errors import InvalidTransitionError
from quorum.events import EventType

__all__ = ("INTERRUPTIBLE", "ExecutionControl")

_S = ExecutionStatus

INTERRUPTIBLE: Final[Mapping[Interrupt, frozenset[ExecutionStatus]]] = {
    Interrupt.ABORT: frozenset({_S.PENDING, _S.RUNNING, _S.PAUSED, _S.WAITING}),
    Interrupt.STORE: frozenset({_S.PENDING, _S.RUNNING, _S.PAUSED, _S.WAITING}),
    Interrupt.TIMEOUT: frozenset({_S.RUNNING}),
    Interrupt.DETACH: frozenset({_S.PAUSED, _S.WAITING}),
}
"""The statuses each interrupt may stop an execution from."""


class ExecutionControl:
    __slots__ = (
        "_backlog", "_cancel_drive", "_clocks", "_ctx", "_deadline", "_deferred_pause", "_emitter", "_log",
        "_remaining_s", "_resumed", "_waiting_for", "finished", "interrupted", "on_change", "store_error",
        "time_limit_s"
    )

    def __init__(
        self,
        ctx: ExecutionContext,
        emitter: Emitter,
        log: EngineLogger,
        *,
        time_limit_s: float | None,
        used_s: float = 0.0,
        backlog: Backlog | None = None,
    ) -> None:
        self._ctx = ctx
        self._emitter = emitter
        self._log = log
        self._backlog = backlog
        self._resumed: asyncio.Event | None = None
        """Set when the gate opens again; None while it is open (most executions never pause, and each
        of thousands at once would otherwise hold an event for nothing)."""
        self._deferred_pause: str | None = None
        self.interrupted: tuple[Interrupt, str] | None = None
        self.store_error: BaseException | None = None
        self.finished = False
        self._cancel_drive: Callable[[], object] | None = None
        self.time_limit_s = time_limit_s
        self._remaining_s = None if time_limit_s is None else max(0.0, time_limit_s - used_s)
        self._deadline: asyncio.TimerHandle | None = None
        self._clocks: dict[asyncio.Timeout, float | None] = {}
        """Each running phase clock -> the time it had left when the execution paused (None: running)."""
        self._waiting_for: set[str] | None = None
        """The approval gates a step waits at (None: none, the usual case)."""
        self.on_change: Callable[[str, str], object] | None = None
        """Told ``("pause", reason)`` / ``("resume", "")`` after the execution paused or resumed: the
        live execution passes it on to its child executions (:class:`~quorum.engine.links.ChildLinks`)."""

    # --- the gate -------------------------------------------------------------------------------------
    async def boundary(self) -> None:
        """Wait here while paused, and while the history store is too far behind (backpressure)."""
        resumed = self._resumed
        if resumed is not None:
            await resumed.wait()
        if self._backlog is not None and self._backlog.over:
            await self._backlog.drained()

    def hold(self) -> None:
        """Keep the gate shut from the start (an execution resumed in the paused state)."""
        self._shut()

    def _shut(self) -> None:
        if self._resumed is None:
            self._resumed = asyncio.Event()

    def _reopen(self) -> None:
        resumed, self._resumed = self._resumed, None
        if resumed is not None:
            resumed.set()

    # --- driving --------------------------------------------------------------------------------------
    def begin(self, cancel_drive: Callable[[], object]) -> None:
        """The phases are about to be driven: apply a deferred pause, start the time limit, and let an
        interrupt cancel them through ``cancel_drive`` from now on."""
        if self._deferred_pause is not None:
            reason, self._deferred_pause = self._deferred_pause, None
            self._reopen()
            self.pause(reason)
        elif self._ctx.status is _S.RUNNING:
            self._arm_deadline()
        self._cancel_drive = cancel_drive

    def queued(self, cancel_drive: Callable[[], object]) -> None:
        """The execution waits for its turn to start (the executor's ``max_concurrent_executions``): an
        abort cancels the wait through ``cancel_drive``."""
        self._cancel_drive = cancel_drive

    def end(self) -> None:
        """The phases are no longer driven (they ended, or were cancelled)."""
        self._cancel_drive = None
        self._disarm_deadline()

    # --- pause and resume -----------------------------------------------------------------------------
    def pause(self, reason: str = "") -> None:
        ctx = self._ctx
        if ctx.status is _S.PENDING and not self.finished:
            self._deferred_pause = reason
            self._shut()
            return
        if ctx.status not in (_S.RUNNING, _S.WAITING) or self.interrupted is not None:
            raise InvalidTransitionError(ctx.status.value, _S.PAUSED.value)
        clocks_run = ctx.status is _S.RUNNING
        ctx.pause(reason)
        self._shut()
        if clocks_run:
            self._stop_clocks()
        self._emitter.emit(EventType.EXECUTION_PAUSED, data={"reason": reason})
        self._log.info("execution %s paused: %s", ctx.id, reason)
        if self.on_change is not None:
            self.on_change("pause", reason)

    def resume(self) -> None:
        ctx = self._ctx
        if ctx.status is _S.PENDING and self._deferred_pause is not None:
            self._deferred_pause = None
            self._reopen()
            return
        if ctx.status is not _S.PAUSED or self.interrupted is not None:
            raise InvalidTransitionError(ctx.status.value, _S.RUNNING.value)
        waiting = bool(self._waiting_for)
        paused_s = ctx.resume(waiting=waiting)
        if not waiting:  # still waiting for approval: the clocks stay stopped
            self._restart_clocks()
        self._reopen()
        self._emitter.emit(EventType.EXECUTION_RESUMED,
                           data={"paused_ms": paused_s * 1000.0, "status": ctx.status.value})
        self._log.info("execution %s resumed", ctx.id)
        if self.on_change is not None:
            self.on_change("resume", "")

    # --- waiting for approval -------------------------------------------------------------------------
    def wait_started(self, gate_id: str) -> None:
        """A step waits for people at ``gate_id``: ``waiting``, with the clocks stopped as for a pause."""
        if self._waiting_for is None:
            self._waiting_for = set()
        self._waiting_for.add(gate_id)
        if self._ctx.status is _S.RUNNING:
            self._ctx.wait_for_approval()
            self._stop_clocks()

    def wait_ended(self, gate_id: str) -> None:
        if self._waiting_for is None:
            return
        self._waiting_for.discard(gate_id)
        if not self._waiting_for:
            self._waiting_for = None
            if self._ctx.status is _S.WAITING and self.interrupted is None and not self.finished:
                self._ctx.approval_given()
                self._restart_clocks()

    def _stop_clocks(self) -> None:
        self._disarm_deadline()
        now = asyncio.get_running_loop().time()
        for clock in self._clocks:
            when = clock.when()
            if when is not None:
                self._clocks[clock] = max(0.0, when - now)
                clock.reschedule(None)

    def _restart_clocks(self) -> None:
        now = asyncio.get_running_loop().time()
        for clock, remaining in self._clocks.items():
            if remaining is not None:
                clock.reschedule(now + remaining)
                self._clocks[clock] = None
        self._arm_deadline()

    @contextlib.asynccontextmanager
    async def phase_clock(self, timeout_s: float | None) -> AsyncIterator[asyncio.Timeout]:
        """A phase's ``timeout:``, stopped while the execution is paused."""
        async with asyncio.timeout(timeout_s) as clock:
            self._clocks[clock] = None
            try:
                yield clock
            finally:
                del self._clocks[clock]

    # --- interrupts -----------------------------------------------------------------------------------
    def interrupt(self, kind: Interrupt, reason: str) -> bool:
        """Stop the execution now (see :data:`INTERRUPTIBLE`). False when it is already ending."""
        if self.finished or self.interrupted is not None:
            return False
        if self._ctx.status not in INTERRUPTIBLE[kind]:
            raise InvalidTransitionError(self._ctx.status.value, kind.value)
        self.interrupted = (kind, reason)
        self._ctx.get_abort_signal().abort(reason, kind=kind.value)
        self._disarm_deadline()
        if self._cancel_drive is not None:
            self._cancel_drive()
        return True

    def detach(self) -> None:
        if self.finished:
            return  # it has just ended: nothing left to leave
        status = self._ctx.status
        if status not in (_S.PAUSED, _S.WAITING) or self.interrupted is not None:
            raise InvalidTransitionError(status.value if self.interrupted is None else "ending", "detached")
        self.interrupt(Interrupt.DETACH, "detached: left paused for another process")

    def store_failed(self, exc: BaseException) -> None:
        """The history store cannot record this execution any more: it stops as failed."""
        self.store_error = exc
        self._log.error("execution %s: history store failed: %s", self._ctx.id, exc)
        self.interrupt(Interrupt.STORE, f"history store failed: {exc}")

    def apply(self, action: str, reason: str) -> None:
        """A control request from another process (``quorum pause|resume|abort <id>``)."""
        try:
            if action == "pause":
                self.pause(reason or "requested")
            elif action == "resume":
                self.resume()
            elif action == "abort":
                self.interrupt(Interrupt.ABORT, reason or "requested")
        except InvalidTransitionError as exc:
            self._log.info("execution %s: ignored %s request: %s", self._ctx.id, action, exc)

    # --- the time limit -------------------------------------------------------------------------------
    def _arm_deadline(self) -> None:
        if self._remaining_s is None or self.finished or self._deadline is not None:
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_at(loop.time() + self._remaining_s, self._on_deadline)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._remaining_s = max(0.0, self._deadline.when() - asyncio.get_running_loop().time())
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        self._remaining_s = 0.0
        if self._ctx.status is _S.RUNNING:
            self.interrupt(Interrupt.TIMEOUT, f"execution exceeded its time limit of {self.time_limit_s:g}s")
