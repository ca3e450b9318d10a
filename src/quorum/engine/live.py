"""LiveExecution: one execution in flight — its events, pause, abort, timeouts and final status.

The phases are run by :class:`~quorum.engine.scheduler.PhaseScheduler`, each phase's attempts by
:func:`~quorum.engine.attempts.run_attempts`. A non-optional phase that fails after its last attempt, a
false ``validation:`` step or an exhausted budget fails the execution at once: everything else in
flight is cancelled and kept as partial results.

Abort and timeout cancel the execution's root task; every phase, step and agent call below it is
cancelled at once (structured: task groups all the way down), and the execution's
:class:`~quorum.signals.AbortSignal` is set for work that polls it. Pause closes a gate that every step
(and every turn of a round table, every phase start, every retry) passes; paused time is taken off the
execution's deadline and off running phases' timeouts.

Detach (of a paused execution) cancels the root task like an abort, but settles nothing: no event is
emitted, the status stays ``paused``; the recorder flushes the journal and the lease is released, so
that another process can take the execution over from its journal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from quorum.engine.attempts import Fatal
from quorum.engine.poller import ControlPoller
from quorum.engine.recorder import Backlog, Recorder
from quorum.engine.results import ExecutionResult
from quorum.engine.scheduler import PhaseScheduler
from quorum.engine.snapshot import Snapshots
from quorum.engine.status import ExecutionStatus
from quorum.engine.verdict import compute_verdict
from quorum.engine.waiting import Waiters
from quorum.errors import (
    ExecutionInterrupt,
    InvalidTransitionError,
    StepValidationError,
)
from quorum.events import Event, EventType
from quorum.history.base import ExecutionRecord
from quorum.ids import PhaseName

if TYPE_CHECKING:
    from quorum.engine.context import ExecutionContext
    from quorum.engine.executor import TaskExecutor
    from quorum.history.base import Lease

__all__ = ("LiveExecution",)

_S = ExecutionStatus
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class _Gate(Waiters):
    """``asyncio.Event``'s interface for the pause gate, without its deque (see :class:`Waiters`)."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        super().__init__()
        self._open = True

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        self._release()

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> None:
        if not self._open:
            await self._wait_once()


class LiveExecution:
    __slots__ = (
        "_deadline", "_driving", "_finished", "_gate", "_handler_tasks", "_held_timeouts", "_interrupt",
        "_pause_requested", "_phase_timeouts", "_remaining_s", "_root", "_store_error", "_timer",
        "abort_signal", "agent_timeout", "backlog", "bus", "completed_calls", "ctx", "current_phases",
        "directory", "done", "executor", "lease", "limit_s", "log", "max_agents", "max_phases",
        "pending_control", "recorder", "recovered_at", "registry", "snapshots", "start_attempts", "store",
        "task",
    )

    def __init__(
        self,
        executor: TaskExecutor,
        ctx: ExecutionContext,
        *,
        completed_calls: Mapping[str, Mapping[str, Any]] | None = None,
        start_attempts: Mapping[str, int] | None = None,
        lease: Lease | None = None,
        used_s: float = 0.0,
        recovered_at: float | None = None,
    ) -> None:
        self.executor = executor
        self.ctx = ctx
        self.task = ctx.task
        self.bus = executor._bus
        self.log = executor._log
        self.directory = executor.agent_manager
        self.registry = executor._registry
        self.max_phases = max(1, ctx.task.max_concurrent_phases or executor.max_concurrent_phases)
        self.max_agents: int | None = ctx.task.max_concurrent_agents or executor.max_concurrent_agents
        self.agent_timeout: float | None = executor.agent_timeout
        self.limit_s: float | None = ctx.task.max_execution_time_s or executor.max_execution_time
        self.completed_calls = completed_calls
        self.start_attempts = dict(start_attempts or {})
        self.abort_signal = ctx.get_abort_signal()
        self.store = executor.history_store
        self.lease = lease
        self.recorder: Recorder | None = (
            Recorder(self.store, on_failure=self.store_failed, backlog=executor._backlog)
            if self.store is not None else None
        )
        self.backlog: Backlog | None = executor._backlog if self.recorder is not None else None
        self.current_phases: dict[PhaseName, int] = {}
        self._gate = _Gate()
        self._pause_requested: str | None = None
        self._interrupt: tuple[str, str] | None = None
        self._store_error: BaseException | None = None
        self._root: asyncio.Task[Any] | None = None
        self._driving = False
        self._finished = False
        self._timer: asyncio.TimerHandle | None = None
        self._remaining_s: float | None = None if self.limit_s is None else max(0.0, self.limit_s - used_s)
        self.recovered_at = recovered_at
        self.pending_control: Sequence[tuple[str, str]] = ()
        self.snapshots = Snapshots()
        self._deadline: float | None = None
        # Made when first needed (most executions have no phase timeout and no async handler): an
        # empty set is ~0.2 KB, a used one ~0.7 KB, for each of 2,000 executions at once.
        self._phase_timeouts: set[asyncio.Timeout] | None = None
        self._held_timeouts: dict[asyncio.Timeout, float] = {}
        self._handler_tasks: set[asyncio.Task[Any]] | None = None
        self.done: asyncio.Future[ExecutionResult] = asyncio.get_running_loop().create_future()

    # --- events -----------------------------------------------------------------------------------
    def wants(self, event_type: str) -> bool:
        return self.recorder is not None or self.bus.wants(event_type)

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
    ) -> Event | None:
        ctx = self.ctx
        ctx.sequence += 1
        if self.recorder is None and not self.bus.wants(event_type):
            return None
        event = Event(
            type=event_type, execution_id=ctx.id, sequence=ctx.sequence, timestamp=time.time(),
            task=self.task.name, phase=phase, step=step, agent=agent, duration_ms=duration_ms,  # type: ignore[arg-type]
            error=error, data=_EMPTY if data is None else data,
        )
        if self.recorder is not None:
            self.recorder.add(event)
        bus = self.bus
        if bus._handlers or bus._subscriptions:
            bus.publish(event, self._spawn)
        return event

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        if self._handler_tasks is None:
            self._handler_tasks = set()
        self._handler_tasks.add(task)
        task.add_done_callback(self._handler_tasks.discard)

    # --- control ----------------------------------------------------------------------------------
    def phase_clock_started(self, timeout: asyncio.Timeout) -> None:
        """A phase's ``timeout:`` is running: a pause stops it too (and a resume restarts it)."""
        if self._phase_timeouts is None:
            self._phase_timeouts = set()
        self._phase_timeouts.add(timeout)

    def phase_clock_stopped(self, timeout: asyncio.Timeout) -> None:
        if self._phase_timeouts is not None:
            self._phase_timeouts.discard(timeout)

    async def boundary(self) -> None:
        """Wait here while paused (steps, round-table turns, phase starts and retries pass it), and
        while the history store is too far behind (the executor's ``journal_backlog``)."""
        if not self._gate.is_set():
            await self._gate.wait()
        backlog = self.backlog
        if backlog is not None and backlog.over:
            await backlog.drained()

    @property
    def status(self) -> ExecutionStatus:
        return self.ctx.status

    def pause(self, reason: str = "") -> None:
        ctx = self.ctx
        if ctx.status is _S.PENDING and not self._finished:
            self._pause_requested = reason  # applied as soon as it starts
            self._gate.clear()
            return
        if ctx.status is not _S.RUNNING or self._interrupt is not None:
            raise InvalidTransitionError(ctx.status.value, _S.PAUSED.value)
        ctx.pause(reason)
        self._gate.clear()
        self._disarm_timer()
        now = asyncio.get_running_loop().time()
        for timeout in self._phase_timeouts or ():  # phase clocks stop too
            when = timeout.when()
            if when is not None:
                self._held_timeouts[timeout] = max(0.0, when - now)
                timeout.reschedule(None)
        self.emit(EventType.EXECUTION_PAUSED, data={"reason": reason})
        self.log.info("execution %s paused: %s", ctx.id, reason)

    def resume(self) -> None:
        ctx = self.ctx
        if ctx.status is _S.PENDING and self._pause_requested is not None:
            self._pause_requested = None
            self._gate.set()
            return
        if ctx.status is not _S.PAUSED or self._interrupt is not None:
            raise InvalidTransitionError(ctx.status.value, _S.RUNNING.value)
        paused = ctx.resume()
        now = asyncio.get_running_loop().time()
        held, self._held_timeouts = self._held_timeouts, {}
        for timeout, remaining in held.items():
            if self._phase_timeouts is not None and timeout in self._phase_timeouts:
                timeout.reschedule(now + remaining)
        self._arm_timer()
        self._gate.set()
        self.emit(EventType.EXECUTION_RESUMED, data={"paused_ms": paused * 1000.0})
        self.log.info("execution %s resumed", ctx.id)

    def interrupt(self, kind: str, reason: str) -> bool:
        """Abort (or time out) now: cancel everything in flight. False when already ending."""
        if self._finished or self._interrupt is not None:
            return False
        self._interrupt = (kind, reason)
        self.abort_signal.abort(reason, kind=kind)
        self._disarm_timer()
        if self._driving and self._root is not None:
            self._root.cancel()
        return True

    def detach(self) -> None:
        """Stop driving this paused execution here (see ``TaskExecutor.detach``)."""
        if self._finished:
            return  # it has just ended: nothing left to leave
        status = self.ctx.status
        if status is not _S.PAUSED or self._interrupt is not None:
            raise InvalidTransitionError(status.value if self._interrupt is None else "ending", "detached")
        self.interrupt("detach", "detached: left paused for another process")

    def store_failed(self, exc: BaseException) -> None:
        self._store_error = exc
        self.log.error("execution %s: history store failed: %s", self.ctx.id, exc)
        self.interrupt("store", f"history store failed: {exc}")

    # --- time limit -------------------------------------------------------------------------------
    def _arm_timer(self) -> None:
        if self._remaining_s is None or self._finished:
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self._remaining_s
        self._timer = loop.call_at(self._deadline, self._on_timeout)

    def _disarm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            if self._deadline is not None:
                self._remaining_s = max(0.0, self._deadline - asyncio.get_running_loop().time())

    def _on_timeout(self) -> None:
        self._timer = None
        self.interrupt("timeout", f"execution exceeded its time limit of {self.limit_s:g}s")

    # --- the execution ----------------------------------------------------------------------------
    def _open_budget(self) -> bool:
        budget = self.task.budget
        opener = getattr(self.directory, "open_budget", None)
        if not budget or opener is None:
            return False
        from quorum.agents.budget import Budget

        opener(self.ctx.id, Budget.from_mapping(budget))
        return True

    async def run(self) -> ExecutionResult:
        self._root = asyncio.current_task()
        outside_cancel = False
        budgeted = self._open_budget()
        try:
            if self.recorder is None:
                try:
                    outside_cancel = await self._drive()
                finally:
                    self._finished = True
            else:
                async with asyncio.TaskGroup() as services:
                    services.create_task(self.recorder.run())
                    poller = ControlPoller(self, services)
                    poller.schedule()
                    try:
                        outside_cancel = await self._drive()
                    finally:
                        self._finished = True
                        poller.stop()
                        self.recorder.close()
            if self._handler_tasks:
                await self._drain_handlers()
            await self._release_lease()
        finally:
            self._finished = True
            self._disarm_timer()
            if budgeted:
                self.directory.close_budget(self.ctx.id)  # type: ignore[attr-defined]
            result = self.ctx.result()
            if not self.done.done():
                self.done.set_result(result)
            if self.bus._subscriptions:
                self.bus.close_subscriptions(self.ctx.id)
            self.executor._finished(self, result)
        if outside_cancel:
            raise asyncio.CancelledError
        return result

    async def _drive(self) -> bool:
        """Run the phases; settle the final status. True when cancelled from outside."""
        ctx = self.ctx
        try:
            if ctx.status is _S.PENDING:
                ctx.start()
                self.emit(EventType.EXECUTION_START, data=self.executor._start_data(self))
                self.log.info("execution %s of %s started", ctx.id, self.task.name)
                if self.recorder is not None and not _RECORD_KEEPS_TASK and _survives_crash(self.store):
                    # The start event carries the task definition (the store's row does not): without
                    # it durable, a crash now would leave an execution that cannot be resumed.
                    await self.recorder.durable(ctx.sequence)
            elif self.recovered_at is not None and ctx.status is _S.PAUSED:
                self._gate.clear()  # paused before the crash: it stays paused until resumed
            elif self.recovered_at is not None:
                self.emit(EventType.EXECUTION_RESUMED,
                          data={"recovered": True, "owner": self.lease.owner if self.lease else None,
                                "reused_calls": len(self.completed_calls or ())})
                self.log.info("execution %s resumed from the history store", ctx.id)
            elif ctx.status is _S.PAUSED:
                self._gate.clear()
            for action, reason in self.pending_control:
                self.apply_control(action, reason)  # asked before a crash: honoured now
            self.pending_control = ()
            if self._pause_requested is not None:
                reason, self._pause_requested = self._pause_requested, None
                self._gate.set()
                self.pause(reason)
            elif ctx.status is _S.RUNNING:
                self._arm_timer()
            self._driving = True
            if self._interrupt is not None:
                raise asyncio.CancelledError
            await PhaseScheduler(self).run()
            verdict = compute_verdict(self.task, ctx)
        except BaseException as exc:
            return self._settle_error(exc)
        finally:
            self._driving = False
            self._disarm_timer()
        if ctx.status is _S.PAUSED:
            ctx.resume()
        ctx.complete(verdict)
        self.emit(EventType.EXECUTION_COMPLETE, duration_ms=ctx.duration_ms,
                  data={"status": ctx.status.value, "verdict": verdict})
        self.log.info("execution %s completed in %.1f ms", ctx.id, ctx.duration_ms or 0.0)
        return False

    def _settle_error(self, exc: BaseException) -> bool:
        ctx = self.ctx
        root = self._root
        if root is not None:
            while root.cancelling():
                root.uncancel()
        interrupt = self._interrupt
        outside = False
        if interrupt is None:
            leaves = _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
            raised = [e for e in leaves if isinstance(e, ExecutionInterrupt)]
            if raised:
                interrupt = (raised[0].kind, raised[0].reason)
        if interrupt is None and isinstance(exc, asyncio.CancelledError):
            interrupt, outside = ("abort", "cancelled"), True
        if interrupt is None:
            error: BaseException = exc
            if isinstance(exc, BaseExceptionGroup):
                fatal = [e for e in _leaves(exc) if isinstance(e, Fatal)]
                error = fatal[0].error if fatal else _leaves(exc)[0]
            elif isinstance(exc, Fatal):
                error = exc.error
            if not isinstance(error, Exception):
                raise exc
            ctx.fail(error)
            data: dict[str, Any] = {"status": ctx.status.value, "error_type": type(error).__name__}
            if isinstance(error, StepValidationError):
                data["validation"] = True
                data["condition"] = error.condition
            self.emit(EventType.EXECUTION_ERROR, phase=getattr(error, "phase", None),
                      duration_ms=ctx.duration_ms, error=str(error), data=data)
            self.log.error("execution %s failed: %s", ctx.id, error)
            return outside
        kind, reason = interrupt
        self.abort_signal.abort(reason, kind=kind)
        if kind == "timeout":
            if ctx.status is _S.PAUSED:
                ctx.resume()
            ctx.timeout(self.limit_s)
            self.emit(EventType.EXECUTION_TIMEOUT, duration_ms=ctx.duration_ms, error=ctx.error,
                      data={"status": ctx.status.value, "limit_s": self.limit_s})
            self.log.warning("execution %s timed out", ctx.id)
        elif kind == "detach":
            # Left paused, for another process: nothing is recorded as ended.
            self.log.info("execution %s detached, paused", ctx.id)
        elif kind == "store":
            ctx.fail(self._store_error or reason)
            self.emit(EventType.EXECUTION_ERROR, duration_ms=ctx.duration_ms, error=ctx.error,
                      data={"status": ctx.status.value, "error_type": "StoreError"})
        else:
            ctx.abort(reason)
            self.emit(EventType.EXECUTION_ABORTED, duration_ms=ctx.duration_ms, error=ctx.error,
                      data={"status": ctx.status.value, "reason": reason})
            self.log.info("execution %s aborted: %s", ctx.id, reason)
        return outside

    # --- services ---------------------------------------------------------------------------------
    def apply_control(self, action: str, reason: str) -> None:
        try:
            if action == "pause":
                self.pause(reason or "requested")
            elif action == "resume":
                self.resume()
            elif action == "abort":
                self.interrupt("abort", reason or "requested")
        except InvalidTransitionError as exc:
            self.log.info("execution %s: ignored %s request: %s", self.ctx.id, action, exc)

    async def _release_lease(self) -> None:
        lease, store = self.lease, self.store
        if lease is None or store is None:
            return
        self.lease = None
        try:
            await store.release_lease(lease)
        except Exception as exc:  # an expired or taken lease: nothing left to release
            self.log.warning("execution %s: releasing the lease failed: %s", self.ctx.id, exc)

    async def _drain_handlers(self) -> None:
        if not self._handler_tasks:
            return
        pending = set(self._handler_tasks)
        _, late = await asyncio.wait(pending, timeout=self.executor.handler_grace_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)


_RECORD_KEEPS_TASK = "task_definition" in getattr(ExecutionRecord, "__dataclass_fields__", {})
"""Stores keep the task definition with the execution row (written before the run starts)."""


def _survives_crash(store: Any) -> bool:
    """Whether the store outlives this process (an in-memory one does not: waiting for it buys nothing).
    A store may say so with a ``persistent`` attribute."""
    flag = getattr(store, "persistent", None)
    if flag is not None:
        return bool(flag)
    from quorum.history.memory import MemoryHistoryStore

    return not isinstance(store, MemoryHistoryStore)


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            out.extend(_leaves(exc))
        else:
            out.append(exc)
    return out
