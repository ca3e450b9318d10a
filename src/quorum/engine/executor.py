"""TaskExecutor: the public face of the engine (issue 3's API).

::

    executor = TaskExecutor(tasks_dir="tasks", agent_manager=manager, history_store=store)
    result = await executor.execute("investment-committee-meeting", {...})
    handle = await executor.start(task, input); await handle.result()

``execute``/``start`` accept a task name, a path or a parsed :class:`~quorum.definition.model.Task`.
Before anything runs, the input is checked against the task's requirements, every static agent id
against the agent directory, and every custom step type and aggregator against the registry.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time
from collections.abc import AsyncIterator, Container, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from quorum.agents.protocol import AgentDirectory
from quorum.definition.model import StepKind, Task
from quorum.engine.bus import EventBus, Handler
from quorum.engine.context import ExecutionContext
from quorum.engine.handle import ActiveExecution, ExecutionHandle
from quorum.engine.live import LiveExecution
from quorum.engine.log import EngineLogger
from quorum.engine.recorder import Backlog
from quorum.engine.results import ExecutionResult, thaw
from quorum.engine.retry import Sleep
from quorum.errors import (
    DefinitionError,
    ExecutionNotFoundError,
    InvalidTransitionError,
    Problem,
    ResumeRefusedError,
)
from quorum.events import Event
from quorum.history.base import ExecutionRecord, HistoryStore, Lease
from quorum.ids import ExecutionId
from quorum.steps.protocol import Aggregator, StepStrategy
from quorum.steps.registry import StepRegistry

if TYPE_CHECKING:
    from quorum.definition.loader import TaskLoader

__all__ = ("TaskExecutor",)

_RECORD_FIELDS = frozenset(ExecutionRecord.__dataclass_fields__)


class TaskExecutor:
    """Runs tasks. One executor may run many executions at once, in one event loop.

    Options (keyword-only after the seed's): ``max_concurrent_agents`` bounds the agent calls of one
    prompt step in flight at once (None: unbounded — the agent manager's pools still apply);
    ``agent_timeout`` (seconds) bounds every agent call; ``sleep`` replaces the wait between retries
    (a fake clock for tests); ``control_poll_s`` is how often a history store is asked for pause/resume/
    abort requests from other processes; ``handler_grace_s`` is how long an execution waits at its end
    for async event handlers still running (then they are cancelled); ``journal_backlog`` bounds the
    recorded events of all its executions not yet written by the history store (above it, executions
    wait at their next step until half are: memory stays bounded when the store cannot keep up; None:
    no bound); ``model_overrides`` (``--model``
    values: ``provider:model`` for every agent, ``<agent-id>=provider:model`` for one) applies to the
    default agent manager, the one the executor builds when ``agent_manager`` is None.

    The executor closes what it created: ``aclose()`` (or leaving ``async with``) closes the default
    agent manager it built (LLM clients, the response cache); an ``agent_manager`` given to it is the
    caller's to close.
    """

    def __init__(
        self,
        tasks_dir: str | os.PathLike[str] | None = "tasks",
        agents_dir: str | os.PathLike[str] | None = None,
        agent_manager: AgentDirectory | None = None,
        history_store: HistoryStore | None = None,
        logger: Any = None,
        max_execution_time: float | None = 300.0,
        max_concurrent_phases: int = 4,
        *,
        max_concurrent_agents: int | None = None,
        agent_timeout: float | None = None,
        sleep: Sleep | None = None,
        control_poll_s: float = 0.2,
        lease_ttl_s: float = 30.0,
        handler_grace_s: float = 5.0,
        history_limit: int = 100,
        journal_backlog: int | None = 50_000,
        model_overrides: Iterable[str] | str | None = None,
    ) -> None:
        self.tasks_dir = tasks_dir
        self.agents_dir = agents_dir
        self._agent_manager = agent_manager
        self._owns_manager = False
        self.model_overrides = model_overrides
        self.history_store = history_store
        self.max_execution_time = max_execution_time
        self.max_concurrent_phases = max_concurrent_phases
        self.max_concurrent_agents = max_concurrent_agents
        self.agent_timeout = agent_timeout
        self.control_poll_s = control_poll_s
        self.lease_ttl_s = lease_ttl_s
        self.handler_grace_s = handler_grace_s
        self._sleep = sleep
        self._log = EngineLogger(logger)
        self._bus = EventBus(on_handler_error=self._handler_failed)
        self._registry = StepRegistry()
        self._live: dict[ExecutionId, LiveExecution] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Finished executions of this process, newest first (their contexts: results and forks).
        self._history: collections.deque[ExecutionContext] = collections.deque(maxlen=history_limit)
        self._backlog = Backlog(journal_backlog)
        self._loader: TaskLoader | None = None
        self._owner: str | None = None
        self._rng = random.Random()
        self._task_dicts: dict[int, tuple[Task, dict[str, Any]]] = {}

    # --- collaborators ----------------------------------------------------------------------------
    @property
    def agent_manager(self) -> AgentDirectory:
        if self._agent_manager is None:
            self._agent_manager = _default_manager(self.tasks_dir, self.agents_dir, self.model_overrides)
            self._owns_manager = True
        return self._agent_manager

    def load_task(self, task: Task | str | os.PathLike[str]) -> Task:
        if isinstance(task, Task):
            return task
        if self._loader is None:
            from quorum.definition.loader import TaskLoader

            self._loader = TaskLoader([self.tasks_dir] if self.tasks_dir is not None else [])
        return self._loader.load(task)

    # --- registration -----------------------------------------------------------------------------
    def register_step_strategy(self, step_type: str, handler: StepStrategy) -> None:
        self._registry.register_step_strategy(step_type, handler)

    def register_aggregator(self, name: str, aggregator: Aggregator) -> None:
        self._registry.register_aggregator(name, aggregator)

    # --- events -----------------------------------------------------------------------------------
    def on(self, event_type: str, handler: Handler) -> None:
        """Call ``handler(event)`` (sync or async) for each event of that type; ``"*"`` for all."""
        self._bus.on(event_type, handler)

    def off(self, event_type: str, handler: Handler | None = None) -> None:
        self._bus.off(event_type, handler)

    def events(
        self, *, execution_id: str | None = None, types: Container[str] | None = None, maxsize: int = 10_000
    ) -> AsyncIterator[Event]:
        """Every event of every execution from now on (bounded buffer, oldest dropped when full).

        The iteration does not end by itself; break out of it (or use ``handle.events()``, which ends
        with its execution)."""
        return self._bus.subscribe(maxsize=maxsize, execution_id=execution_id, types=types)

    def _handler_failed(self, handler: Handler, event: Event, exc: BaseException) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        self._log.error("event handler %s failed on %s #%d: %r", name, event.type, event.sequence, exc)

    # --- running ----------------------------------------------------------------------------------
    async def execute(
        self, task: Task | str | os.PathLike[str], input: Mapping[str, Any] | None = None
    ) -> ExecutionResult:
        """Run to the end and return the result (partial when failed, aborted or timed out).

        Cancelling the caller aborts the execution and waits for it to end."""
        handle = await self.start(task, input)
        try:
            return await handle.result()
        except asyncio.CancelledError:
            live = self._live.get(handle.id)
            if live is not None:
                live.interrupt("abort", "cancelled by the caller")
                await asyncio.wait([live.done])
            raise

    async def start(
        self,
        task: Task | str | os.PathLike[str],
        input: Mapping[str, Any] | None = None,
        *,
        execution_id: str | None = None,
    ) -> ExecutionHandle:
        """Check everything, then start the execution in the background; returns at once."""
        parsed = self.load_task(task)
        checked = self.check(parsed, input or {})
        ctx = ExecutionContext(parsed, checked, execution_id=execution_id)
        return await self._launch(ctx)

    def check(self, task: Task, input: Mapping[str, Any]) -> dict[str, Any]:
        """Validate input, agent ids, step strategies and aggregators; returns the coerced input."""
        coerced: dict[str, Any] = dict(input)
        if task.requirements:
            from quorum.definition.parser import TaskParser

            coerced = TaskParser().validate_task_requirements(task, input)
        problems: list[Problem] = []
        directory = self.agent_manager
        known = None
        for phase in task.phases:
            for agent in phase.agents:
                if not directory.has_agent(agent):
                    known = known or ", ".join(directory.agent_ids()) or "none"
                    problems.append(Problem(message=f"unknown agent {agent!r} in phase {phase.name!r}",
                                            source=task.source, line=phase.line,
                                            hint=f"registered agents: {known}"))
            for step in phase.steps:
                if step.kind is StepKind.AGENT and step.agent and not directory.has_agent(step.agent):
                    known = known or ", ".join(directory.agent_ids()) or "none"
                    problems.append(Problem(message=f"unknown agent {step.agent!r} in step {step.raw!r}",
                                            source=task.source, line=step.line,
                                            hint=f"registered agents: {known}"))
                elif step.kind is StepKind.CUSTOM and self._registry.strategy(step.type or "") is None:
                    problems.append(Problem(
                        message=f"no step strategy registered for step type {step.type!r}",
                        source=task.source, line=step.line,
                        hint=f"call executor.register_step_strategy({step.type!r}, handler)"))
                elif step.kind is StepKind.AGGREGATE and self._registry.aggregator(step.type or "") is None:
                    problems.append(Problem(
                        message=f"unknown aggregator {step.type!r}", source=task.source, line=step.line,
                        hint="built-in: consensus, vote, average, merge, collect; or register_aggregator"))
        if problems:
            raise DefinitionError(problems, source=task.source)
        return coerced

    async def _launch(
        self,
        ctx: ExecutionContext,
        *,
        completed_calls: Mapping[str, Mapping[str, Any]] | None = None,
        start_attempts: Mapping[str, int] | None = None,
        create_record: bool = True,
        lease: Lease | None = None,
        used_s: float = 0.0,
        recovered_at: float | None = None,
        pending_control: Sequence[tuple[str, str]] = (),
    ) -> ExecutionHandle:
        if ctx.id in self._live:
            raise ValueError(f"execution {ctx.id} is already running")
        store = self.history_store
        if store is not None and lease is None:
            if create_record:
                await store.create_execution(self._record(ctx))
            lease = await store.acquire_lease(ctx.id, self.owner, ttl_s=self.lease_ttl_s)
            if lease is None:
                raise ResumeRefusedError(f"execution {ctx.id} is owned by another process")
        live = LiveExecution(self, ctx, completed_calls=completed_calls, start_attempts=start_attempts,
                             lease=lease, used_s=used_s, recovered_at=recovered_at)
        live.pending_control = pending_control
        if live.recorder is not None and lease is not None:
            live.recorder.epoch = lease.epoch
        self._live[ctx.id] = live
        root = asyncio.get_running_loop().create_task(live.run(), name=f"quorum-execution-{ctx.id}")
        self._tasks.add(root)
        root.add_done_callback(self._root_done)
        return ExecutionHandle(live)

    def _root_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("execution task crashed: %r", task.exception())

    def _finished(self, live: LiveExecution, result: ExecutionResult) -> None:
        self._live.pop(live.ctx.id, None)
        if result.status.terminal:  # not a detached one: it goes on elsewhere
            self._history.appendleft(live.ctx)

    @property
    def owner(self) -> str:
        if self._owner is None:
            from quorum.history.owner import process_owner

            self._owner = process_owner()
        return self._owner

    def _record(self, ctx: ExecutionContext) -> ExecutionRecord:
        task = ctx.task
        now = time.time()
        extra: dict[str, Any] = {}
        if "task_definition" in _RECORD_FIELDS:  # stores that keep the definition with the row
            extra["task_definition"] = self._task_dict(task)
        return ExecutionRecord(
            id=ctx.id, task=task.name, status=ctx.status.value, created_at=ctx.created_at, updated_at=now,
            input=ctx.input, task_hash=task.content_hash,
            phase_hashes={p.name: p.content_hash for p in task.phases}, task_source=task.source, **extra,
        )

    def _start_data(self, live: LiveExecution) -> dict[str, Any]:
        ctx = live.ctx
        data: dict[str, Any] = {"input": ctx.input, "task_hash": ctx.task.content_hash,
                                "phases": list(ctx.task.phase_names)}
        if live.recorder is not None and "task_definition" not in _RECORD_FIELDS:
            data["task"] = self._task_dict(ctx.task)  # the row does not keep it: the journal does
        return data

    def _task_dict(self, task: Task) -> dict[str, Any]:
        """``task.to_dict()``, computed once per Task object (tasks are frozen; it is not cheap)."""
        cached = self._task_dicts.get(id(task))
        if cached is None or cached[0] is not task:
            if len(self._task_dicts) >= 64:
                self._task_dicts.clear()
            cached = self._task_dicts[id(task)] = (task, task.to_dict())
        return cached[1]

    # --- control ----------------------------------------------------------------------------------
    def _get_live(self, execution_id: str) -> LiveExecution:
        live = self._live.get(ExecutionId(execution_id))
        if live is None:
            raise ExecutionNotFoundError(execution_id)
        return live

    async def pause_execution(self, execution_id: str, reason: str = "") -> None:
        """Pause at the next step boundary (calls in flight finish and are recorded)."""
        self._get_live(execution_id).pause(reason)

    async def resume_execution(self, execution_id: str) -> ExecutionHandle:
        """Resume a paused execution of this process; or one found in the history store (a crashed
        process's) from its journal. Returns its handle."""
        live = self._live.get(ExecutionId(execution_id))
        if live is not None:
            live.resume()
            return ExecutionHandle(live)
        if self.history_store is None:
            raise ExecutionNotFoundError(execution_id)
        from quorum.engine.resume import resume_from_store

        handle: ExecutionHandle = await resume_from_store(self, execution_id)
        return handle

    async def recover(self, *, wait: bool = True) -> list[ExecutionHandle]:
        """Resume the executions a dead process left running or paused in the history store.

        In the foreground by default (returns when they have ended); ``wait=False`` returns the
        handles at once. Paused ones stay paused; pending pause/abort requests are honoured."""
        from quorum.engine.resume import recover

        handles: list[ExecutionHandle] = await recover(self, wait=wait)
        return handles

    async def detach(self, execution_id: str) -> ExecutionResult:
        """Stop driving a paused execution in this process, leaving it paused for another process.

        Nothing is recorded as ended: the journal is flushed, the lease released, the history store
        keeps the status ``paused``, and the execution leaves ``get_active_executions()``. Another
        process (or this one) continues it with ``resume_execution(id)`` / ``quorum resume <id>``, from
        its journal. Agent calls still in flight are cancelled and run again on resume (as after a
        crash): let them finish first when that matters. Returns the state it was left in (status
        ``paused``; the final status if it ended before the detach took effect). Refused
        (:class:`InvalidTransitionError`) unless it is paused and recorded in a history store."""
        live = self._live.get(ExecutionId(execution_id))
        if live is None:
            return self.get_result(execution_id)  # it has ended here already (or ExecutionNotFoundError)
        if self.history_store is None:
            raise InvalidTransitionError(f"{live.ctx.status.value} (no history store to resume it from)",
                                         "detached")
        live.detach()
        return await asyncio.shield(live.done)

    async def abort_execution(self, execution_id: str, reason: str = "aborted") -> ExecutionResult:
        """Abort now: every call in flight is cancelled; returns the (partial) result."""
        live = self._get_live(execution_id)
        live.interrupt("abort", reason)
        return await asyncio.shield(live.done)

    def get_active_executions(self) -> list[ActiveExecution]:
        return [
            ActiveExecution(id=live.ctx.id, task=live.task.name, status=live.ctx.status,
                            current_phases=tuple(live.current_phases), started_at=live.ctx.started_at)
            for live in self._live.values()
        ]

    def get_result(self, execution_id: str) -> ExecutionResult:
        """The result of an execution finished in this process (or the live state of a running one)."""
        live = self._live.get(ExecutionId(execution_id))
        if live is not None:
            return live.ctx.result()
        for ctx in self._history:
            if ctx.id == execution_id:
                return ctx.result()
        raise ExecutionNotFoundError(execution_id)

    async def get_execution_history(
        self, limit: int = 10, *, status: str | None = None, task: str | None = None
    ) -> list[ExecutionRecord]:
        """Finished (and, from a store, running) executions, newest first."""
        if self.history_store is not None:
            return await self.history_store.list_executions(limit=limit, status=status, task=task)
        out: list[ExecutionRecord] = []
        for ctx in self._history:
            if (status is None or ctx.status == status) and (task is None or ctx.task.name == task):
                out.append(_record_of(ctx.result()))
                if len(out) >= limit:
                    break
        return out

    # --- checkpoints: continue or fork ------------------------------------------------------------
    async def run_context(self, ctx: ExecutionContext) -> ExecutionHandle:
        """Run a pending (e.g. restored) context on from its finished phases.

        With a history store, an execution that was already recorded cannot run again under its id
        (its outcome is recorded once): fork it instead."""
        if self.history_store is not None and ctx.sequence > 0:
            raise ResumeRefusedError(
                f"execution {ctx.id} is already in the history; fork it from a checkpoint instead "
                "(executor.fork(execution_id, checkpoint_id))"
            )
        return await self._launch(ctx)

    async def fork(
        self,
        execution: str | ExecutionContext,
        checkpoint_id: str | None = None,
        *,
        rerun: Iterable[str] = (),
        task: Task | str | os.PathLike[str] | None = None,
    ) -> ExecutionHandle:
        """A new execution that starts from another one's state (which is left untouched).

        From ``checkpoint_id`` when given, else from everything it had settled. ``rerun`` names phases
        to run again (with everything downstream of them). With ``task`` (e.g. the edited file), the
        fork runs that definition and also re-runs every phase whose content hash changed, and what
        depends on it — the way on when a resume is refused because the task file changed."""
        source = execution if isinstance(execution, ExecutionContext) else self._context_of(execution)
        new_task = source.task if task is None else self.load_task(task)
        data = source.to_dict()
        known = set(new_task.phase_names)
        data["phases"] = {n: p for n, p in data["phases"].items() if n in known}
        copy = ExecutionContext.from_dict({**data, "id": _fresh_id()}, task=new_task)
        if checkpoint_id is not None:
            copy.restore_checkpoint(checkpoint_id)
        again = set(rerun)
        if task is not None:
            before = {p.name: p.content_hash for p in source.task.phases}
            again |= {p.name for p in new_task.phases if before.get(p.name) != p.content_hash}
        copy.rewind(again)
        # A new execution: its own clock and its own journal, numbered from 1.
        copy.created_at = time.time()
        copy.reset_clock()
        copy.sequence = 0
        return await self._launch(copy)

    def _context_of(self, execution_id: str) -> ExecutionContext:
        live = self._live.get(ExecutionId(execution_id))
        if live is not None:
            return live.ctx
        for ctx in self._history:
            if ctx.id == execution_id:
                return ctx
        raise ExecutionNotFoundError(execution_id)

    async def aclose(self) -> None:
        """Abort every live execution and wait for all of them to end; then close the agent manager if
        this executor built it (detach paused executions first to leave them for another process)."""
        for live in list(self._live.values()):
            live.interrupt("abort", "executor closed")
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._owns_manager and self._agent_manager is not None:
            manager, self._agent_manager, self._owns_manager = self._agent_manager, None, False
            close = getattr(manager, "aclose", None)
            if close is not None:
                await close()

    async def __aenter__(self) -> TaskExecutor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _fresh_id() -> str:
    from quorum.engine.context import new_execution_id

    return new_execution_id()


def _record_of(result: ExecutionResult) -> ExecutionRecord:
    return ExecutionRecord(
        id=result.id, task=result.task, status=result.status.value,
        created_at=result.started_at or 0.0, updated_at=result.ended_at or 0.0,
        started_at=result.started_at, ended_at=result.ended_at, duration_ms=result.duration_ms,
        input=result.input, verdict=None if result.verdict is None else thaw(result.verdict),
        error=result.error,
    )


def _default_manager(
    tasks_dir: Any, agents_dir: Any, model_overrides: Iterable[str] | str | None = None
) -> AgentDirectory:
    try:
        from quorum.agents.defaults import default_agent_manager
    except ImportError:
        from quorum.agents.manager import AgentManager

        if model_overrides:
            from quorum.errors import ConfigurationError

            raise ConfigurationError("model_overrides need quorum.agents.defaults (not available)") from None
        return AgentManager()
    dirs = [d for d in (agents_dir,) if d is not None]
    if tasks_dir is not None:
        beside = os.path.join(os.fspath(tasks_dir), os.pardir, "agents")
        if os.path.isdir(beside):
            dirs.insert(0, os.path.normpath(beside))
    manager: AgentDirectory = default_agent_manager(agents_dirs=dirs, model_overrides=model_overrides)
    return manager
