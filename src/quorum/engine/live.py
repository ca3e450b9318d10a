"""LiveExecution: one execution in flight, composed of the parts that run it.

It wires an :class:`~quorum.engine.emitter.EventEmitter` (events), an
:class:`~quorum.engine.control.ExecutionControl` (pause, resume, interrupts, clocks), the phase DAG
(:class:`~quorum.engine.scheduler.PhaseScheduler`) over a :class:`~quorum.engine.phase.PhaseRunner`
(retries) of :class:`~quorum.engine.attempt.AttemptRunner` s (steps) and an
:class:`~quorum.engine.calls.AgentCaller`; with a history store also a
:class:`~quorum.engine.recorder.Recorder` and the services that keep the execution attached to the
store (:mod:`quorum.engine.services`). Then it drives the phases and settles the outcome.

Everything it starts runs in one task group, its *scope*: the journal's flusher, the control poller,
async event handlers. Nothing outlives :meth:`run`. A non-optional phase that fails after its last
attempt, a false ``validation:`` step or an exhausted budget fails the execution at once: everything
else in flight is cancelled and kept as partial results. Abort and timeout cancel the phases the same
way, and set the execution's :class:`~quorum.signals.AbortSignal` for work that polls it.

Detach (of a paused execution) cancels the phases like an abort, but settles nothing: no event is
emitted, the status stays ``paused``; the journal is flushed and the lease released, so that another
process can take the execution over from its journal.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Container, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quorum.agents.protocol import AgentDirectory
from quorum.engine.approvals import Approvals, Decision
from quorum.engine.attempt import AttemptRunner
from quorum.engine.bus import EventBus, Subscription
from quorum.engine.calls import AgentCaller
from quorum.engine.context import ExecutionContext
from quorum.engine.control import ExecutionControl
from quorum.engine.emitter import EventEmitter
from quorum.engine.links import ChildLinks
from quorum.engine.log import EngineLogger
from quorum.engine.options import RunOptions
from quorum.engine.phase import AttemptFactory, PhaseRunner
from quorum.engine.ports import Interrupt
from quorum.engine.recorder import Backlog, Recorder
from quorum.engine.results import ExecutionResult
from quorum.engine.scheduler import PhaseScheduler
from quorum.engine.scope import Admission
from quorum.engine.services import ControlPoller, LeaseKeeper
from quorum.engine.snapshot import Snapshots
from quorum.engine.status import ExecutionStatus
from quorum.engine.verdict import compute_verdict
from quorum.errors import (
    ExecutionInterrupt,
    InvalidDecisionError,
    InvalidTransitionError,
    StepValidationError,
    leaf_exceptions,
)
from quorum.events import EventType
from quorum.history.base import HistoryStore, Lease
from quorum.ids import PhaseName
from quorum.steps.registry import StepRegistry

__all__ = ("LiveExecution", "RunEnvironment", "TakeOver")

_S = ExecutionStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnvironment:
    """The executor-wide collaborators every execution of an executor runs with."""

    bus: EventBus
    log: EngineLogger
    directory: AgentDirectory
    registry: StepRegistry
    store: HistoryStore | None = None
    backlog: Backlog | None = None
    admission: Admission | None = None
    """Bounds the executions driven at once (``max_concurrent_executions``)."""
    durable_start: bool = False
    """Wait for the start event to be written before any phase runs (it carries the definition a
    resume needs, and the store outlives this process)."""
    children: ChildLinks | None = None
    """The child executions (``task:`` steps) running here, by parent: a pause or resume of an
    execution is passed on to its children."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeOver:
    """What an execution continues from when this process takes it over from its journal."""

    completed_calls: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    start_attempts: Mapping[str, int] = field(default_factory=dict)
    used_s: float = 0.0
    """Running time in earlier processes (it counts against the time limit)."""
    recovered: bool = False
    """Its earlier driver is gone (crash, or detach): announce ``execution:resumed``."""
    pending_control: Sequence[tuple[str, str]] = ()
    """Control requests made while no process drove it: honoured as it starts."""
    approvals: Sequence[tuple[str, Mapping[str, Any]]] = ()
    """Its journal's approval events (gates requested, decisions made), as ``(type, data)``."""


_NEW = TakeOver()
"""A new execution takes nothing over (one shared value: it is frozen)."""


class LiveExecution:
    __slots__ = (
        "_env", "_handlers", "_log", "_on_finished", "_root", "_start_data", "_take_over", "approvals",
        "control", "ctx", "done", "emitter", "lease", "options", "phases", "recorder"
    )

    def __init__(
        self,
        ctx: ExecutionContext,
        env: RunEnvironment,
        options: RunOptions,
        *,
        start_data: Mapping[str, Any],
        lease: Lease | None = None,
        take_over: TakeOver | None = None,
        on_finished: Callable[[LiveExecution, ExecutionResult], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.options = options
        self._env = env
        self._log = env.log
        self._start_data = start_data
        self._take_over = take_over or _NEW
        self._on_finished = on_finished
        self._root: asyncio.Task[Any] | None = None
        # The parts refer to one another, never back to this object: a finished execution is freed by
        # reference counting alone, without waiting for the garbage collector.
        self._handlers = _HandlerTasks()
        store = env.store
        recording = store is not None
        self.emitter = EventEmitter(ctx, env.bus, None, self._handlers.spawn)
        self.control = ExecutionControl(
            ctx, self.emitter, env.log, time_limit_s=options.time_limit_s, used_s=self._take_over.used_s,
            backlog=env.backlog if recording else None,
        )
        if env.children is not None and ctx.task.has_task_steps:
            self.control.on_change = functools.partial(env.children.tell, ctx.id)
        self.recorder = (
            Recorder(store, on_failure=self.control.store_failed, backlog=env.backlog)
            if store is not None else None
        )
        self.emitter.record_with(self.recorder)
        self.lease = (
            LeaseKeeper(store, lease, ttl_s=options.lease_ttl_s, on_lost=self.control.store_failed,
                        log=env.log) if store is not None else None
        )
        if self.recorder is not None and lease is not None:
            self.recorder.epoch = lease.epoch
        caller = AgentCaller(ctx, self.emitter, env.directory, options, self._take_over.completed_calls)
        self.approvals = Approvals(self.emitter, status=lambda: ctx.status.value,
                                   on_wait=self.control.wait_started, on_waited=self.control.wait_ended,
                                   recorded=self._take_over.approvals)
        new_attempt: AttemptFactory = functools.partial(
            AttemptRunner, ctx, caller=caller, gate=self.control, emitter=self.emitter, registry=env.registry,
            directory=env.directory, approvals=self.approvals,
        )
        self.phases = PhaseRunner(
            ctx, emitter=self.emitter, control=self.control, options=options, new_attempt=new_attempt,
            log=env.log, snapshots=Snapshots() if recording else None,
            start_attempts=self._take_over.start_attempts,
        )
        self.done: asyncio.Future[ExecutionResult] = asyncio.get_running_loop().create_future()

    def events(self, *, maxsize: int, types: Container[str] | None) -> Subscription:
        """This execution's events from now on; the iteration ends when the execution ends."""
        subscription = self._env.bus.subscribe(maxsize=maxsize, execution_id=self.ctx.id, types=types)
        if self.done.done():
            subscription.close()
        return subscription

    @property
    def current_phases(self) -> tuple[PhaseName, ...]:
        return tuple(self.phases.current)

    # --- control from outside -------------------------------------------------------------------------
    def pause(self, reason: str = "") -> None:
        self.control.pause(reason)

    def resume(self) -> None:
        self.control.resume()

    def abort(self, reason: str) -> bool:
        return self.control.interrupt(Interrupt.ABORT, reason)

    def decide(self, decision: Decision) -> None:
        """Count a person's decision at an approval gate (InvalidDecisionError when it cannot be)."""
        if self.control.finished or self.ctx.status.terminal:
            raise InvalidDecisionError(f"execution {self.ctx.id} has ended ({self.ctx.status.value})")
        self.approvals.decide(decision)

    def apply_control(self, action: str, reason: str) -> None:
        """A control request from another process: pause/resume/abort, or a decision (``decide``)."""
        if action != "decide":
            self.control.apply(action, reason)
            return
        try:
            self.decide(Decision.from_request(reason))
        except InvalidDecisionError as exc:
            self._log.warning("execution %s: ignored a decision: %s", self.ctx.id, exc)

    def detach(self) -> None:
        """Stop driving this paused execution here (see ``TaskExecutor.detach``)."""
        if self._env.store is None and not self.control.finished:
            raise InvalidTransitionError(f"{self.ctx.status.value} (no history store to resume it from)",
                                         "detached")
        self.control.detach()

    # --- the run --------------------------------------------------------------------------------------
    async def run(self) -> ExecutionResult:
        self._root = asyncio.current_task()
        outside_cancel = False
        close_budget = self._open_budget()
        try:
            async with asyncio.TaskGroup() as scope:
                self._handlers.scope = scope
                poller = self._start_services(scope)
                try:
                    outside_cancel = await self._drive()
                finally:
                    self.control.finished = True
                    if poller is not None:
                        poller.stop()
                    if self.recorder is not None:
                        self.recorder.close()
                await self._handlers.drain(self.options.handler_grace_s)
            if self.lease is not None:
                await self.lease.release()
        finally:
            self._handlers.scope = None
            self.control.finished = True
            if close_budget is not None:
                close_budget(self.ctx.id)
            result = self.ctx.result()
            if not self.done.done():
                self.done.set_result(result)
            self._env.bus.close_subscriptions(self.ctx.id)
            if self._on_finished is not None:
                self._on_finished(self, result)
        if outside_cancel:
            raise asyncio.CancelledError
        return result

    def _start_services(self, scope: asyncio.TaskGroup) -> ControlPoller | None:
        store, recorder, lease = self._env.store, self.recorder, self.lease
        if store is None or recorder is None or lease is None:
            return None
        scope.create_task(recorder.run(), name=f"journal {self.ctx.id}")
        poller = ControlPoller(store, self.ctx.id, interval_s=self.options.control_poll_s,
                               apply=self.apply_control, lease=lease, log=self._log)
        poller.start(scope)
        return poller

    def _open_budget(self) -> Callable[[str], object] | None:
        """Open the task's ``maxCost``/token budget with an agent manager that keeps budgets; returns
        how to close it."""
        budget = self.ctx.task.budget
        directory = self._env.directory
        opener = getattr(directory, "open_budget", None)
        if not budget or opener is None:
            return None
        from quorum.agents.budget import Budget

        opener(self.ctx.id, Budget.from_mapping(budget))
        closer: Callable[[str], object] = directory.close_budget  # type: ignore[attr-defined]
        return closer

    async def _drive(self) -> bool:
        """Run the phases; settle the final status. True when cancelled from outside."""
        ctx = self.ctx
        root = self._root
        cancel_drive = root.cancel if root is not None else lambda: None
        admission = self._env.admission
        admitted = False
        try:
            if admission is not None:
                # Waits ``pending`` for a slot; an abort meanwhile cancels the wait (and ends it here).
                self.control.queued(cancel_drive)
                await admission.acquire()
                admitted = True
            await self._start()
            self.control.begin(cancel_drive=cancel_drive)
            if self.control.interrupted is not None:
                raise asyncio.CancelledError
            scheduler = PhaseScheduler(ctx.task, ctx.phases, self.phases.run,
                                       max_concurrent=self.options.max_concurrent_phases)
            await scheduler.run()
            verdict = compute_verdict(ctx.task, ctx, self.approvals.decided())
        except BaseException as exc:
            return self._settle(exc)
        finally:
            self.control.end()
            if admitted and admission is not None:
                admission.release()
        if ctx.status is _S.PAUSED:
            ctx.resume()
        ctx.complete(verdict)
        self.emitter.emit(EventType.EXECUTION_COMPLETE, duration_ms=ctx.duration_ms,
                          data={"status": ctx.status.value, "verdict": verdict})
        self._log.info("execution %s completed in %.1f ms", ctx.id, ctx.duration_ms or 0.0)
        return False

    async def _start(self) -> None:
        """Announce the start (or the take-over) and apply what was asked before it."""
        ctx, take_over = self.ctx, self._take_over
        if ctx.status is _S.PENDING:
            ctx.start()
            capped = self.options.capped(ctx.task)
            if capped:
                lowered = ", ".join(f"{k} {v['asked']:g} -> {v['allowed']:g}" for k, v in capped.items())
                self._log.warning("execution %s: the executor's ceilings lower %s", ctx.id, lowered)
            self.emitter.emit(EventType.EXECUTION_START,
                              data={**self._start_data, "capped": capped} if capped else self._start_data)
            self._log.info("execution %s of %s started", ctx.id, ctx.task.name)
            if self.recorder is not None and self._env.durable_start:
                await self.recorder.durable(ctx.sequence)
        elif ctx.status is _S.PAUSED:
            self.control.hold()  # paused before it was taken over: it stays paused until resumed
        elif take_over.recovered:
            self.emitter.emit(EventType.EXECUTION_RESUMED,
                              data={"recovered": True, "owner": self.lease.lease.owner
                                    if self.lease is not None and self.lease.lease is not None else None,
                                    "reused_calls": len(take_over.completed_calls)})
            self._log.info("execution %s resumed from the history store", ctx.id)
        for action, reason in take_over.pending_control:
            self.apply_control(action, reason)

    def _settle(self, exc: BaseException) -> bool:
        """The outcome of a drive that raised. True when it was cancelled from outside."""
        root = self._root
        if root is not None:
            while root.cancelling():
                root.uncancel()  # the cancellation was ours (an interrupt) or is settled here
        leaves = leaf_exceptions(exc)
        interrupted = self.control.interrupted
        if interrupted is None:
            raised = [e for e in leaves if isinstance(e, ExecutionInterrupt)]
            if raised:
                kind = Interrupt.TIMEOUT if raised[0].kind == "timeout" else Interrupt.ABORT
                interrupted = (kind, raised[0].reason)
        if interrupted is not None:
            self._settle_interrupt(*interrupted)
            return False
        errors = [e for e in leaves if isinstance(e, Exception)]
        if not errors:
            if all(isinstance(e, asyncio.CancelledError) for e in leaves):
                self._settle_interrupt(Interrupt.ABORT, "cancelled")
                return True
            raise exc
        self._settle_failure(errors[0])
        return False

    def _settle_failure(self, error: Exception) -> None:
        ctx = self.ctx
        ctx.fail(error)
        data: dict[str, Any] = {"status": ctx.status.value, "error_type": type(error).__name__}
        if isinstance(error, StepValidationError):
            data["validation"] = True
            data["condition"] = error.condition
        self.emitter.emit(EventType.EXECUTION_ERROR, phase=getattr(error, "phase", None),
                          duration_ms=ctx.duration_ms, error=str(error), data=data)
        self._log.error("execution %s failed: %s", ctx.id, error)

    def _settle_interrupt(self, kind: Interrupt, reason: str) -> None:
        ctx = self.ctx
        ctx.get_abort_signal().abort(reason, kind=kind.value)
        if kind is Interrupt.DETACH:
            self._log.info("execution %s detached, paused", ctx.id)  # nothing is recorded as ended
            return
        if ctx.status is _S.PAUSED and kind is Interrupt.TIMEOUT:
            ctx.resume()
        if kind is Interrupt.TIMEOUT:
            ctx.timeout(self.options.time_limit_s)
            self.emitter.emit(EventType.EXECUTION_TIMEOUT, duration_ms=ctx.duration_ms, error=ctx.error,
                              data={"status": ctx.status.value, "limit_s": self.options.time_limit_s})
            self._log.warning("execution %s timed out", ctx.id)
        elif kind is Interrupt.STORE:
            ctx.fail(self.control.store_error or reason)
            self.emitter.emit(EventType.EXECUTION_ERROR, duration_ms=ctx.duration_ms, error=ctx.error,
                              data={"status": ctx.status.value, "error_type": "StoreError"})
        else:
            ctx.abort(reason)
            self.emitter.emit(EventType.EXECUTION_ABORTED, duration_ms=ctx.duration_ms, error=ctx.error,
                              data={"status": ctx.status.value, "reason": reason})
            self._log.info("execution %s aborted: %s", ctx.id, reason)


class _HandlerTasks:
    """The async event handlers still running, as tasks of the execution's scope."""

    __slots__ = ("_tasks", "scope")

    def __init__(self) -> None:
        self.scope: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[None]] | None = None  # made for the first async handler

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        if self.scope is None:  # the execution has ended: nothing may outlive it
            coroutine.close()
            return
        task = self.scope.create_task(coroutine)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_s: float) -> None:
        """Give the handlers still running ``grace_s`` seconds to finish, then cancel them."""
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in late:
            task.cancel()


