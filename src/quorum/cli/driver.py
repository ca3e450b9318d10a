"""Driving one execution in the foreground for ``quorum run`` and ``quorum resume``: progress and Ctrl-C.

- The first Ctrl-C pauses the execution (at its next step boundary; calls in flight finish and are
  recorded); then this process detaches from it (``TaskExecutor.detach``: the journal is flushed, the
  lease released, the status stays ``paused``) and the command ends normally with exit status 5,
  printing how to resume. A second Ctrl-C, while it pauses, aborts it (exit status 4). A third leaves
  at once.
- A pause asked for by another process (``quorum pause <id>``) keeps this process waiting, paused,
  until ``quorum resume <id>`` or ``quorum abort <id>``.
- An execution that reaches an ``approval:`` step is left waiting in the history (detached: no process
  needed while people decide); the command ends with exit status 6, printing how to decide
  (``quorum approve <id>``). Without a history (``--no-history``) it waits here for its deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quorum.cli.common import ExitCode
from quorum.events import Event, EventType

if TYPE_CHECKING:
    from quorum.cli.render import EventSink
    from quorum.engine.executor import TaskExecutor
    from quorum.engine.handle import ExecutionHandle
    from quorum.engine.results import ExecutionResult
    from quorum.history.base import HistoryStore
    from quorum.telemetry.tracker import EtaTracker

__all__ = ("Outcome", "RunSession", "leave_now")

_SETTLE_S = 30.0
"""How long a Ctrl-C pause waits for the calls in flight to finish before leaving anyway (they are
then run again on resume, as after a crash)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    execution_id: str
    result: ExecutionResult | None
    """None when the command leaves the execution paused or waiting for approval (detached)."""
    left: str = "paused"
    """What a detached execution was left as: ``paused`` or ``waiting``."""
    gates: tuple[Mapping[str, Any], ...] = ()
    """The approvals it waits for, when ``waiting`` (``approval:requested`` data)."""

    @property
    def status(self) -> str:
        return self.left if self.result is None else self.result.status.value


class RunSession:
    def __init__(self, store: HistoryStore | None, *, view: EventSink | None) -> None:
        self._executor: TaskExecutor | None = None
        self._store = store
        self._view = view
        self._handle: ExecutionHandle | None = None
        self._interrupts = 0
        self._paused_by_us = False
        self._paused = asyncio.Event()
        self._waiting = asyncio.Event()
        self._gates: dict[str, Mapping[str, Any]] = {}
        self._in_flight = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._tasks: set[asyncio.Task[object]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._eta: EtaTracker | None = None
        self._family: set[str] = set()
        """The executions this one's ``task:`` steps started, and theirs in turn (shown with it)."""
        self._early: list[Event] | None = [] if store is not None and view is not None else None
        """The execution's events until its ETA model is learned (then replayed to the tracker)."""

    def install(self) -> None:
        """Take Ctrl-C over from now on (call it first thing in the event loop: a Ctrl-C pressed while
        the agents are being loaded must not cancel the command half-way through creating the record)."""
        loop = self._loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            self._loop = None

    def uninstall(self) -> None:
        if self._loop is not None:
            try:
                self._loop.remove_signal_handler(signal.SIGINT)
            except (NotImplementedError, RuntimeError):
                pass
            self._loop = None

    def bind(self, executor: TaskExecutor) -> None:
        self._executor = executor
        executor.on("*", self._on_event)

    def _on_event(self, event: Event) -> None:
        handle = self._handle
        if event.type == EventType.CHILD_STARTED and (
                handle is None or event.execution_id == handle.id or event.execution_id in self._family):
            self._family.add(str(event.data.get("child_id")))
        if handle is not None and event.execution_id != handle.id:
            if event.execution_id in self._family and self._view is not None:
                self._view.on_child_event(event)
            return
        if self._eta is not None:
            self._eta(event)
        elif self._early is not None:
            self._early.append(event)
        kind = event.type
        if kind == EventType.AGENT_START:
            self._in_flight += 1
            self._settled.clear()
        elif kind in (EventType.AGENT_RESPONSE, EventType.AGENT_ERROR):
            self._in_flight = max(0, self._in_flight - 1)
            if self._in_flight == 0:
                self._settled.set()
        elif kind == EventType.EXECUTION_PAUSED:
            if self._paused_by_us:
                self._paused.set()
            else:
                self._note(f"paused from elsewhere: `quorum resume {event.execution_id}` continues it, "
                           f"`quorum abort {event.execution_id}` ends it")
        elif kind == EventType.APPROVAL_REQUESTED:
            self._gates[str(event.data.get("gate"))] = event.data
            if self._store is not None:
                self._waiting.set()  # leave it to the history while people decide
        elif kind == EventType.APPROVAL_DECIDED and event.data.get("outcome") is not None:
            self._gates.pop(str(event.data.get("gate")), None)
        elif kind == EventType.EXECUTION_RESUMED and not event.data.get("recovered"):
            # resumed from elsewhere (`quorum resume`); a recovery's "resumed" only marks its start
            self._paused_by_us = False
            self._paused.clear()
        if self._view is not None:
            self._view.on_event(event)

    def _note(self, text: str) -> None:
        if self._view is not None:
            self._view.note(text)

    async def drive(self, start: Callable[[], Awaitable[ExecutionHandle]]) -> Outcome:
        """Start (or resume) the execution and follow it to its end, or to a pause by Ctrl-C."""
        await asyncio.sleep(0)  # run the Ctrl-C callbacks of signals that came during the set-up
        if self._interrupts:
            from quorum.cli.common import CliError

            raise CliError("interrupted before the execution started; nothing was run",
                           code=ExitCode.INTERRUPTED)
        handle = self._handle = await start()
        if self._view is not None:
            self._view.attach(handle.context)
            if self._early is not None:
                self._spawn(self._learn_eta(handle.id))
        for _ in range(self._interrupts):  # pressed while it was being created
            self._interrupts -= 1
            self._on_sigint()
        result_task = asyncio.ensure_future(handle.result())
        paused_task = asyncio.ensure_future(self._paused.wait())
        waiting_task = asyncio.ensure_future(self._waiting.wait())
        try:
            return await self._follow(handle, result_task, paused_task, waiting_task)
        finally:
            waiting_task.cancel()

    async def _follow(self, handle: ExecutionHandle, result_task: asyncio.Future[ExecutionResult],
                      paused_task: asyncio.Future[Any], waiting_task: asyncio.Future[Any]) -> Outcome:
        while True:
            done, _ = await asyncio.wait({result_task, paused_task, waiting_task},
                                         return_when=asyncio.FIRST_COMPLETED)
            if result_task in done:
                paused_task.cancel()
                return Outcome(execution_id=handle.id, result=result_task.result())
            if waiting_task in done:
                self._waiting.clear()
                outcome = await self._leave_waiting(handle)
                if outcome is not None:
                    paused_task.cancel()
                    return outcome
                waiting_task = asyncio.ensure_future(self._waiting.wait())
                continue
            if await self._leave_paused(result_task):
                outcome = await self._detach(handle)
                if outcome is not None:
                    paused_task.cancel()
                    return outcome
            if result_task.done():
                return Outcome(execution_id=handle.id, result=result_task.result())
            paused_task = asyncio.ensure_future(self._paused.wait())

    async def _leave_paused(self, result_task: asyncio.Future[ExecutionResult]) -> bool:
        """After our own pause took effect: let the calls in flight finish (up to ``_SETTLE_S``).
        False when the execution ended (or was resumed) meanwhile."""
        settle: asyncio.Future[Any] = asyncio.ensure_future(self._settled.wait())
        waiting: set[asyncio.Future[Any]] = {settle, result_task}
        await asyncio.wait(waiting, timeout=_SETTLE_S, return_when=asyncio.FIRST_COMPLETED)
        settle.cancel()
        return not result_task.done() and self._paused_by_us

    async def _leave_waiting(self, handle: ExecutionHandle) -> Outcome | None:
        """Leave an execution that waits for approval to the history. None when it is not waiting any
        more (decided meanwhile, or ending): follow it on."""
        from quorum.errors import InvalidTransitionError

        assert self._executor is not None
        await asyncio.sleep(0)  # let the gate settle: a decision already recorded closes it at once
        if handle.status.value != "waiting":
            return None
        try:
            result = await self._executor.detach(handle.id)
        except InvalidTransitionError:
            return None
        if result.status.terminal:
            return Outcome(execution_id=handle.id, result=result)
        return Outcome(execution_id=handle.id, result=None, left="waiting", gates=tuple(self._gates.values()))

    async def _detach(self, handle: ExecutionHandle) -> Outcome | None:
        """Leave the paused execution to the history (journal flushed, lease released) for
        `quorum resume`. None when it was resumed or is ending meanwhile: follow it on."""
        from quorum.errors import InvalidTransitionError

        assert self._executor is not None
        try:
            result = await self._executor.detach(handle.id)
        except InvalidTransitionError:
            self._paused.clear()  # not paused any more; a later pause of ours sets it again
            return None
        if result.status.terminal:  # it ended before the detach took effect
            return Outcome(execution_id=handle.id, result=result)
        return Outcome(execution_id=handle.id, result=None)

    # --- Ctrl-C --------------------------------------------------------------------------------------
    def _on_sigint(self) -> None:
        self._interrupts += 1
        handle = self._handle
        if handle is None:
            self._note("Ctrl-C: the execution will be paused as soon as it has started")
            return
        if handle.done:
            return  # it has just ended; the report follows
        if self._interrupts == 1 and self._store is None:
            # nothing could resume it later: stop it instead
            self._interrupts = 2
            self._note("Ctrl-C: no history to resume from (--no-history), so aborting")
            self._abort(handle.id, "interrupted (Ctrl-C)")
        elif self._interrupts == 1:
            self._paused_by_us = True
            self._note("Ctrl-C: pausing at the next step boundary (Ctrl-C again to abort)")
            self._spawn(self._pause(handle.id))
        elif self._interrupts == 2:
            self._paused_by_us = False
            self._note("Ctrl-C again: aborting")
            self._abort(handle.id, "interrupted (Ctrl-C twice)")
        else:
            if self._view is not None:
                try:
                    self._view.close()
                except Exception:  # leaving anyway; a broken terminal must not keep us here
                    pass
            sys.stderr.write("\ninterrupted; the execution is left as the history records it "
                             f"(quorum show {handle.id})\n")
            leave_now(ExitCode.INTERRUPTED)

    def _abort(self, execution_id: str, reason: str) -> None:
        if self._executor is not None:
            self._spawn(self._executor.abort_execution(execution_id, reason))

    async def _pause(self, execution_id: str) -> None:
        from quorum.errors import InvalidTransitionError

        if self._executor is None:
            return
        try:
            await self._executor.pause_execution(execution_id, "interrupted (Ctrl-C)")
        except InvalidTransitionError:
            # already paused by another process: leave it paused, now at our request
            handle = self._handle
            if handle is not None and handle.status.value == "paused":
                self._paused.set()
            else:
                self._paused_by_us = False

    async def _learn_eta(self, execution_id: str) -> None:
        """The ETA of this run from the history of its task version, shown by the view and updated at
        every phase boundary (nothing when there is no history: no guess)."""
        from quorum.telemetry.tracker import EtaTracker

        early = self._early or []
        start = next((e for e in early if e.type == EventType.EXECUTION_START), None)
        if start is None or self._store is None or self._view is None:
            self._early = None  # a resumed run: its boundaries before this process are not here
            return
        tracker = EtaTracker()
        view = self._view
        show = getattr(view, "show_eta", None)
        if show is not None:
            tracker.on_eta.append(show)
        tracker.on_slow.append(lambda e: view.note(f"phase {e.phase} is running longer than usual "
                                                   f"(past the p95 of {e.data.get('p95_s', 0):.1f} s)"))
        try:
            await tracker.learn(self._store, start.task or "", str(start.data.get("task_hash") or ""))
        except Exception:  # the ETA is a nicety: a history that cannot say leaves the run alone
            self._early = None
            return
        for event in early:
            tracker(event)
        self._eta, self._early = tracker, None

    def _spawn(self, coro: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def leave_now(code: int) -> None:
    """End the process at once, leaving the history as it is (the third Ctrl-C: the user wants out now,
    even while a pause or an abort is still settling).

    Returning through ``asyncio.run`` would cancel the execution's task, which the engine records as an
    abort; leaving at once instead is what a crash does: the journal holds what was committed, and an
    execution whose process is gone is taken over by ``quorum resume`` / ``quorum recover``. (A
    paused execution is left cleanly with ``TaskExecutor.detach``, not this.)
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
