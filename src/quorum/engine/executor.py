"""TaskExecutor: the public face of the engine.

::

    executor = TaskExecutor(tasks_dir="tasks", agent_manager=manager, history_store=store)
    result = await executor.execute("investment-committee-meeting", {...})
    handle = await executor.start(task, input); await handle.result()

``execute``/``start`` accept a task name, a path or a parsed :class:`~quorum.definition.model.Task`.
Before anything runs, the input and every name the task uses are checked
(:func:`~quorum.engine.preflight.check_before_run`). Each execution is a
:class:`~quorum.engine.live.LiveExecution`, run as a task of the executor's scope
(:class:`~quorum.engine.scope.ExecutorScope`).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import time
from collections.abc import AsyncIterator, Callable, Container, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from quorum.agents.choices import AgentChoices
from quorum.agents.protocol import AgentDirectory
from quorum.definition.composition import ALLOCATE_STEP, TASK_STEP
from quorum.definition.model import Task
from quorum.engine.allocation import allocate_step
from quorum.engine.approvals import APPROVE, Decision, Gate, open_gates
from quorum.engine.bus import EventBus, Handler
from quorum.engine.children import TaskStep
from quorum.engine.context import ExecutionContext, new_execution_id
from quorum.engine.handle import ActiveExecution, ExecutionHandle
from quorum.engine.links import ChildLinks
from quorum.engine.live import LiveExecution, RunEnvironment, TakeOver
from quorum.engine.log import EngineLogger
from quorum.engine.options import UNSET, Ceilings, RunOptions, Unset
from quorum.engine.ports import Emitter
from quorum.engine.preflight import check_before_run
from quorum.engine.recorder import Backlog
from quorum.engine.records import RECORD_KEEPS_TASK, StartRecords, record_of, survives_crash
from quorum.engine.recovery import RecoveryPlan, Refusal, plan_resume, recover, stored_context
from quorum.engine.results import ExecutionResult
from quorum.engine.retry import Sleep
from quorum.engine.scope import Admission, ExecutorScope
from quorum.errors import ExecutionNotFoundError, InvalidDecisionError, ResumeRefusedError
from quorum.events import Event, EventType
from quorum.history.base import TERMINAL_STATUSES, ExecutionRecord, HistoryStore, Lease
from quorum.ids import ExecutionId
from quorum.steps.protocol import Aggregator, StepStrategy
from quorum.steps.registry import StepRegistry

if TYPE_CHECKING:
    from quorum.definition.loader import TaskLoader
    from quorum.planning._plan import DryRunPlan

__all__ = ("TaskExecutor",)

class TaskExecutor:
    """Runs tasks. One executor may run many executions at once, in one event loop.

    ``max_execution_time`` (seconds, default 300), ``max_concurrent_phases`` (default 4) and
    ``max_concurrent_agents`` are the limits of an execution whose task sets none; passed explicitly,
    each is also a ceiling: a task may ask for less, never more (the ``execution:start`` event records
    what was capped, under ``capped``). ``max_concurrent_executions`` bounds the executions driven at
    once (paused ones included); the others wait, ``pending``, in the order they were started, and can
    be aborted while they wait.

    Options (keyword-only after the seed's): ``max_concurrent_agents`` bounds the agent calls of one
    prompt step in flight at once (None: unbounded — the agent manager's pools still apply);
    ``agent_timeout`` (seconds) bounds every agent call; ``sleep`` replaces the wait between retries
    (a fake clock for tests); ``control_poll_s`` is how often a history store is asked for pause/resume/
    abort requests from other processes; ``handler_grace_s`` is how long an execution waits at its end
    for async event handlers still running (then they are cancelled); ``journal_backlog`` bounds the
    recorded events of all its executions not yet written by the history store (above it, executions
    wait at their next step until half are: memory stays bounded when the store cannot keep up; None:
    no bound); ``model_overrides`` (``--model`` values: ``provider:model`` for every agent,
    ``<agent-id>=provider:model`` for one) applies to the default agent manager, the one the executor
    builds when ``agent_manager`` is None. ``agent_choices`` (:class:`~quorum.agents.choices.AgentChoices`)
    says what the agents were built with besides their files (model overrides, base URLs): each new
    execution records them, and an execution taken over with other choices than it recorded gets an
    ``execution:resumed`` event that records the change (a resume with another ``--model``).

    The executor closes what it created: ``aclose()`` (or leaving ``async with``) aborts what still
    runs and closes the default agent manager it built (LLM clients, the response cache); an
    ``agent_manager`` given to it is the caller's to close.
    """

    def __init__(
        self,
        tasks_dir: str | os.PathLike[str] | None = "tasks",
        agents_dir: str | os.PathLike[str] | None = None,
        agent_manager: AgentDirectory | None = None,
        history_store: HistoryStore | None = None,
        logger: Any = None,
        max_execution_time: float | Unset | None = UNSET,
        max_concurrent_phases: int | Unset = UNSET,
        *,
        max_concurrent_agents: int | Unset | None = UNSET,
        max_concurrent_executions: int | None = None,
        agent_timeout: float | None = None,
        sleep: Sleep | None = None,
        control_poll_s: float = 0.2,
        lease_ttl_s: float = 30.0,
        handler_grace_s: float = 5.0,
        history_limit: int = 100,
        journal_backlog: int | None = 50_000,
        model_overrides: Iterable[str] | str | None = None,
        agent_choices: AgentChoices | None = None,
    ) -> None:
        self.tasks_dir = tasks_dir
        self.agents_dir = agents_dir
        self._agent_manager = agent_manager
        self._owns_manager = False
        self.model_overrides = model_overrides
        self.agent_choices = agent_choices
        self.history_store = history_store
        # Given explicitly, a limit is also a ceiling: no task may ask for more (the seed's defaults,
        # 300 s and 4 phases, are only defaults).
        ceilings = Ceilings(
            max_concurrent_phases=None if max_concurrent_phases is UNSET else max_concurrent_phases,
            max_concurrent_agents=None if max_concurrent_agents is UNSET else max_concurrent_agents,
            time_limit_s=None if max_execution_time is UNSET else max_execution_time,
        )
        self.options = RunOptions(
            max_concurrent_phases=4 if max_concurrent_phases is UNSET else max_concurrent_phases,
            max_concurrent_agents=None if max_concurrent_agents is UNSET else max_concurrent_agents,
            agent_timeout_s=agent_timeout,
            time_limit_s=300.0 if max_execution_time is UNSET else max_execution_time,
            control_poll_s=control_poll_s, lease_ttl_s=lease_ttl_s, handler_grace_s=handler_grace_s,
            retry_sleep=sleep, ceilings=ceilings,
        )
        if max_concurrent_executions is not None and max_concurrent_executions < 1:
            raise ValueError(f"max_concurrent_executions must be at least 1, not {max_concurrent_executions}")
        self._admission = Admission(max_concurrent_executions) if max_concurrent_executions else None
        self._log = EngineLogger(logger)
        self._bus = EventBus(on_handler_error=self._handler_failed)
        self._registry = StepRegistry()
        self._children = ChildLinks()
        # ``task:`` steps run child executions through this executor; ``allocate:`` splits a budget.
        self._registry.install(TASK_STEP, TaskStep(self, poll_s=control_poll_s))
        self._registry.install(ALLOCATE_STEP, allocate_step)
        self._live: dict[ExecutionId, LiveExecution] = {}
        self._scope = ExecutorScope()
        # Finished executions of this process, newest first (their contexts: results and forks).
        self._history: collections.deque[ExecutionContext] = collections.deque(maxlen=history_limit)
        self._backlog = Backlog(journal_backlog)
        self._loader: TaskLoader | None = None
        self._owner: str | None = None
        self._records = StartRecords()
        self._env: RunEnvironment | None = None
        self._child_env: RunEnvironment | None = None

    # --- collaborators --------------------------------------------------------------------------------
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

    @property
    def step_registry(self) -> StepRegistry:
        """The step strategies and aggregators this executor's tasks may use (built-in, registered,
        installed)."""
        return self._registry

    @property
    def journal_backlog(self) -> int:
        """Events recorded by this executor's executions and not yet written by its history store."""
        return self._backlog.pending

    @property
    def owner(self) -> str:
        """``host:pid:nonce`` of this process, as its leases name it."""
        if self._owner is None:
            from quorum.history.owner import process_owner

            self._owner = process_owner()
        return self._owner

    # --- registration ---------------------------------------------------------------------------------
    def register_step_strategy(self, step_type: str, handler: StepStrategy) -> None:
        self._registry.register_step_strategy(step_type, handler)

    def register_aggregator(self, name: str, aggregator: Aggregator) -> None:
        self._registry.register_aggregator(name, aggregator)

    # --- events ---------------------------------------------------------------------------------------
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

    # --- running --------------------------------------------------------------------------------------
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
                live.abort("cancelled by the caller")
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
        return await self._launch(ExecutionContext(parsed, checked, execution_id=execution_id))

    async def dry_run(
        self, task: Task | str | os.PathLike[str], input: Mapping[str, Any] | None = None
    ) -> DryRunPlan:
        """What an execution of ``task`` with ``input`` would do, without calling an agent or recording
        anything: the phases that run or are skipped (decided from the inputs where they can be), the
        calls per phase, the critical path, and the expected time and cost with the basis of each
        figure (this task version's history, agent latencies, timeouts, prices). Raises what
        :meth:`start` raises for a bad input."""
        from quorum.planning._plan import dry_run

        return await dry_run(self, self.load_task(task), input or {})

    def check(self, task: Task, input: Mapping[str, Any]) -> dict[str, Any]:
        """Validate input, agent ids, step strategies and aggregators; returns the coerced input."""
        return check_before_run(task, input, self.agent_manager, self._registry)

    async def _launch(
        self, ctx: ExecutionContext, *, lease: Lease | None = None, take_over: TakeOver | None = None,
        child: bool = False,
    ) -> ExecutionHandle:
        """Run ``ctx`` here: a new execution (recorded first, when there is a store), or one taken over
        (with the lease already held). A ``child`` (of a ``task:`` step) is not counted by
        ``max_concurrent_executions``: its parent holds a slot already, and waits for it."""
        if ctx.id in self._live:
            raise ValueError(f"execution {ctx.id} is already running")
        store = self.history_store
        if store is not None and lease is None:
            record = self._records.record(ctx)
            if self.agent_choices is not None:
                record = dataclasses.replace(record, agent_choices=self.agent_choices.to_dict())
            # Created already leased to this process: one write, and never an unowned row that a
            # recoverer elsewhere could take for an orphan.
            lease = await store.create_execution(record, owner=self.owner, ttl_s=self.options.lease_ttl_s)
            if lease is None:  # a store that does not lease at creation: take it as a second write
                lease = await store.acquire_lease(ctx.id, self.owner, ttl_s=self.options.lease_ttl_s)
            if lease is None:
                raise ResumeRefusedError(f"execution {ctx.id} is owned by another process")
        env = self._environment(child=child)
        live = LiveExecution(ctx, env, self.options.for_task(ctx.task),
                             start_data=self._records.start_data(ctx, recorded=store is not None),
                             lease=lease, take_over=take_over, on_finished=self._finished)
        self._live[ctx.id] = live
        await self._scope.start(self._run(live), name=f"quorum-execution-{ctx.id}")
        return ExecutionHandle(live)

    def _environment(self, *, child: bool = False) -> RunEnvironment:
        """What every execution runs with (made again only when the store or the agents change); a
        child's is the same less the admission."""
        store, directory = self.history_store, self.agent_manager
        env = self._env
        if env is None or env.store is not store or env.directory is not directory:
            env = self._env = RunEnvironment(
                bus=self._bus, log=self._log, directory=directory, registry=self._registry, store=store,
                backlog=self._backlog, admission=self._admission,
                durable_start=store is not None and not RECORD_KEEPS_TASK and survives_crash(store),
                children=self._children,
            )
            self._child_env = None
        if not child or env.admission is None:
            return env
        if self._child_env is None:
            self._child_env = dataclasses.replace(env, admission=None)
        return self._child_env

    # --- child executions (``task:`` steps, quorum.engine.children) -----------------------------------
    @property
    def child_links(self) -> ChildLinks:
        return self._children

    def live_execution(self, execution_id: str) -> LiveExecution | None:
        """The execution of that id driven by this executor now, if any."""
        return self._live.get(ExecutionId(execution_id))

    def emitter_of(self, execution_id: str) -> Emitter | None:
        live = self._live.get(ExecutionId(execution_id))
        return None if live is None else live.emitter

    def children_limit(self, task: Task) -> int | None:
        """How many children of one ``task:`` step of a parallel phase run at once (the task's
        ``maxConcurrentAgents`` under the executor's ceiling; None: all)."""
        return self.options.for_task(task).max_concurrent_agents

    async def start_child(self, task: Task, input: Mapping[str, Any], *, execution_id: str,
                          parent_id: str) -> ExecutionHandle:
        """Check and start a child execution under the id its parent's step chose."""
        checked = self.check(task, input)
        ctx = ExecutionContext(task, checked, execution_id=execution_id, parent_id=parent_id)
        return await self._launch(ctx, child=True)

    async def resume_child(self, execution_id: str, *, keep_paused: bool) -> ExecutionHandle:
        """Take a child over from the history (its parent was taken over: the child's process is gone)."""
        if self.history_store is None:
            raise ExecutionNotFoundError(execution_id)
        plan = await plan_resume(self.history_store, execution_id, owner=self.owner,
                                 lease_ttl_s=self.options.lease_ttl_s, load_task=self.load_task,
                                 keep_paused=keep_paused)
        await self._record_new_choices(plan)
        return await self._launch(plan.ctx, lease=plan.lease, take_over=plan.take_over, child=True)

    async def _run(self, live: LiveExecution) -> None:
        try:
            await live.run()
        except Exception as exc:  # a bug: it must not take the other executions of the scope down
            self._log.error("execution %s crashed: %r", live.ctx.id, exc)

    def _finished(self, live: LiveExecution, result: ExecutionResult) -> None:
        self._live.pop(live.ctx.id, None)
        if result.status.terminal:  # not a detached one: it goes on elsewhere
            self._history.appendleft(live.ctx)

    # --- control --------------------------------------------------------------------------------------
    def _get_live(self, execution_id: str) -> LiveExecution:
        live = self._live.get(ExecutionId(execution_id))
        if live is None:
            raise ExecutionNotFoundError(execution_id)
        return live

    async def pause_execution(self, execution_id: str, reason: str = "") -> None:
        """Pause at the next step boundary (calls in flight finish and are recorded)."""
        self._get_live(execution_id).pause(reason)

    async def resume_execution(
        self,
        execution_id: str,
        *,
        keep_paused: bool = False,
        upgrade_to: Task | str | os.PathLike[str] | None = None,
    ) -> ExecutionHandle:
        """Resume a paused execution of this process; or one found in the history store (a crashed
        process's) from its journal. Returns its handle.

        ``keep_paused``: take the execution over without lifting its pause — one paused when its
        driver was lost stays paused here until ``resume_execution`` is called again (what
        ``recover`` does, and a cluster node taking over a lost node's executions).

        ``upgrade_to``: go on with that version of its task instead of the one it started with
        (a Task, a file or a ``name@version`` selector): phases whose content hash is unchanged keep
        their results; changed phases and everything downstream run again
        (``quorum.engine.recovery.upgrade_plan`` says which, without changing anything). Only an
        execution that nobody drives (paused and detached, or its process gone) can be moved."""
        live = self._live.get(ExecutionId(execution_id))
        if live is not None and upgrade_to is not None:
            raise ResumeRefusedError(
                f"execution {execution_id} is running here; detach it (or let it pause and detach) "
                "before moving it onto another version of its task")
        if live is not None:
            if not keep_paused:
                live.resume()
            return ExecutionHandle(live)
        if self.history_store is None:
            raise ExecutionNotFoundError(execution_id)
        plan = await plan_resume(self.history_store, execution_id, owner=self.owner,
                                 lease_ttl_s=self.options.lease_ttl_s, load_task=self.load_task,
                                 keep_paused=keep_paused,
                                 upgrade_to=None if upgrade_to is None else self.load_task(upgrade_to))
        return await self._launch_plan(plan)

    async def decide(
        self,
        execution_id: str,
        decision: str = APPROVE,
        *,
        by: str,
        comment: str = "",
        gate: str | None = None,
    ) -> ExecutionHandle | None:
        """Record a person's decision at an approval gate (``approve``/``reject``, or one of its options).

        ``gate`` (``<phase>/<step>``) may be left out when one gate waits. An execution this executor
        drives counts it at once; one another live process drives gets it through the history store
        within a control poll; one that nobody drives (detached while waiting, or its process died) is
        taken over here and goes on (its handle is returned). InvalidDecisionError when the decision
        cannot be counted (no such waiting gate, not a choice, already decided, the same person twice)."""
        live = self._live.get(ExecutionId(execution_id))
        if live is not None:
            chosen = _one_gate(execution_id, live.approvals.open_gates, gate)
            live.decide(Decision(gate=chosen.id, decision=decision, by=by, comment=comment, at=time.time()))
            return None
        store = self.history_store
        if store is None:
            raise ExecutionNotFoundError(execution_id)
        record = await store.get_execution(execution_id)
        if record is None:
            raise ExecutionNotFoundError(execution_id)
        if record.status in TERMINAL_STATUSES:
            raise InvalidDecisionError(f"execution {execution_id} has ended ({record.status})")
        chosen = _one_gate(execution_id, open_gates(await store.read_journal(execution_id)), gate)
        made = Decision(gate=chosen.id, decision=decision, by=by, comment=comment, at=time.time())
        chosen.check(made)
        await store.request_control(execution_id, "decide", made.to_request())
        if record.owner is not None and not await _owner_gone(store, execution_id):
            return None  # its driver picks the decision up
        return await self.resume_execution(execution_id)

    async def pending_approvals(self, execution_id: str) -> list[Gate]:
        """The approval gates of an execution that wait for a decision (live here, or in the store)."""
        live = self._live.get(ExecutionId(execution_id))
        if live is not None:
            return live.approvals.open_gates
        if self.history_store is None:
            raise ExecutionNotFoundError(execution_id)
        return open_gates(await self.history_store.read_journal(execution_id))

    async def _launch_plan(self, plan: RecoveryPlan) -> ExecutionHandle:
        await self._record_new_choices(plan)
        return await self._launch(plan.ctx, lease=plan.lease, take_over=plan.take_over)

    async def _record_new_choices(self, plan: RecoveryPlan) -> None:
        """When this executor's agents were built with other choices than the execution recorded, say
        so in its journal before it goes on: from here its phases use these models (and a later
        recovery uses them too: the event replaces the row's choices)."""
        mine, store, ctx = self.agent_choices, self.history_store, plan.ctx
        if mine is None or store is None or ctx.sequence == 0:
            return  # nothing ran yet: there is nothing the new choices could mix with
        recorded = AgentChoices.from_mapping(plan.agent_choices)
        if recorded == mine:
            return
        before = "not recorded" if recorded is None else recorded.describe_models()
        event = Event(
            type=EventType.EXECUTION_RESUMED, execution_id=ctx.id, sequence=ctx.sequence + 1,
            timestamp=time.time(), task=ctx.task.name,
            data={"agent_choices": mine.to_dict(),
                  "previous_agent_choices": None if recorded is None else recorded.to_dict(),
                  "reason": f"agents changed on resume: models {mine.describe_models()} (before: {before})"},
        )
        await store.append([event], epoch=plan.lease.epoch)
        ctx.sequence += 1

    async def recover(
        self,
        *,
        wait: bool = True,
        only: Container[str] | None = None,
        on_refused: Callable[[Refusal], None] | None = None,
    ) -> list[ExecutionHandle]:
        """Resume the executions a dead process left running in the history store.

        In the foreground by default (returns when they have ended); ``wait=False`` returns the
        handles at once. Paused ones stay paused; pending pause/abort requests are honoured. ``only``
        limits it to these ids. One that can never be resumed (its task file changed) is marked failed
        with the reason; ``on_refused`` hears of every one not resumed, and why."""
        if self.history_store is None:
            return []
        return await recover(self.history_store, launch=self._launch_plan, owner=self.owner,
                             lease_ttl_s=self.options.lease_ttl_s, load_task=self.load_task, log=self._log,
                             wait=wait, only=only, on_refused=on_refused)

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
        live.detach()
        return await asyncio.shield(live.done)

    async def abort_execution(self, execution_id: str, reason: str = "aborted") -> ExecutionResult:
        """Abort now: every call in flight is cancelled; returns the (partial) result."""
        live = self._get_live(execution_id)
        live.abort(reason)
        return await asyncio.shield(live.done)

    def get_active_executions(self) -> list[ActiveExecution]:
        return [
            ActiveExecution(id=live.ctx.id, task=live.ctx.task.name, status=live.ctx.status,
                            current_phases=live.current_phases, started_at=live.ctx.started_at)
            for live in self._live.values()
        ]

    def get_result(self, execution_id: str) -> ExecutionResult:
        """The result of an execution finished in this process (or the live state of a running one)."""
        return self._context_of(execution_id).result()

    async def get_execution_history(
        self, limit: int = 10, *, status: str | None = None, task: str | None = None
    ) -> list[ExecutionRecord]:
        """Finished (and, from a store, running) executions, newest first."""
        if self.history_store is not None:
            return await self.history_store.list_executions(limit=limit, status=status, task=task)
        out: list[ExecutionRecord] = []
        for ctx in self._history:
            if (status is None or ctx.status == status) and (task is None or ctx.task.name == task):
                out.append(record_of(ctx.result()))
                if len(out) >= limit:
                    break
        return out

    # --- checkpoints: continue or fork ----------------------------------------------------------------
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
        depends on it — the way on when a resume is refused because the task file changed.

        An execution this process does not hold (another process ran it, or it ended before this one
        started) is read from the history store: the phases its journal shows settled, its checkpoints."""
        if isinstance(execution, ExecutionContext):
            source = execution
        else:
            try:
                source = self._context_of(execution)
            except ExecutionNotFoundError:
                if self.history_store is None:
                    raise
                source = await stored_context(self.history_store, execution)
        new_task = source.task if task is None else self.load_task(task)
        data = source.to_dict()
        known = set(new_task.phase_names)
        data["phases"] = {n: p for n, p in data["phases"].items() if n in known}
        copy = ExecutionContext.from_dict({**data, "id": new_execution_id()}, task=new_task)
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
            live.abort("executor closed")
        await self._scope.aclose()
        if self._owns_manager and self._agent_manager is not None:
            manager, self._agent_manager, self._owns_manager = self._agent_manager, None, False
            close = getattr(manager, "aclose", None)
            if close is not None:
                await close()

    async def __aenter__(self) -> TaskExecutor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _default_manager(
    tasks_dir: Any, agents_dir: Any, model_overrides: Iterable[str] | str | None = None
) -> AgentDirectory:
    from quorum.agents.defaults import default_agent_manager

    dirs = [d for d in (agents_dir,) if d is not None]
    if tasks_dir is not None:
        beside = os.path.join(os.fspath(tasks_dir), os.pardir, "agents")
        if os.path.isdir(beside):
            dirs.insert(0, os.path.normpath(beside))
    manager: AgentDirectory = default_agent_manager(agents_dirs=dirs, model_overrides=model_overrides)
    return manager


def _one_gate(execution_id: str, gates: list[Gate], wanted: str | None) -> Gate:
    if wanted is not None:
        for gate in gates:
            if gate.id == wanted:
                return gate
        waiting = ", ".join(g.id for g in gates) or "none"
        raise InvalidDecisionError(f"execution {execution_id} has no approval waiting at {wanted!r} "
                                   f"(waiting: {waiting})")
    if not gates:
        raise InvalidDecisionError(f"execution {execution_id} is not waiting for an approval")
    if len(gates) > 1:
        raise InvalidDecisionError(f"execution {execution_id} waits at {len(gates)} approvals: "
                                   f"name one ({', '.join(g.id for g in gates)})")
    return gates[0]


async def _owner_gone(store: HistoryStore, execution_id: str) -> bool:
    """Whether nobody drives the execution now (no lease, an expired one, or a dead owner)."""
    return any(r.id == execution_id for r in await store.list_orphans())
