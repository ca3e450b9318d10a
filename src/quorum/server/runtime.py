"""What the server holds while it runs: the configuration, the history store, the executors it drives
executions with, and the feeds of the journals its clients watch.

An execution this server drives is controlled through its executor; any other one in the store (run by
``quorum run`` in another terminal, another server) through the store's control requests, exactly as
``quorum pause|resume|abort`` do, and is picked up by its own process at its next step boundary. An
execution whose process is gone is taken over here on resume, as ``quorum resume`` would.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from quorum.errors import QuorumError
from quorum.fanout.subscriber import live_source
from quorum.server.feeds import FeedHub
from quorum.server.problems import ApiError
from quorum.server.settings import ServeSettings

if TYPE_CHECKING:
    from quorum.agents.choices import AgentChoices
    from quorum.config import Config
    from quorum.definition.loader import TaskEntry, TaskLoader
    from quorum.definition.model import Task
    from quorum.engine.executor import TaskExecutor
    from quorum.engine.handle import ExecutionHandle
    from quorum.events import Event
    from quorum.history.base import ExecutionRecord, HistoryStore
    from quorum.telemetry.eta import Eta

__all__ = ("ConfigFlags", "Runtime")

Action = Literal["pause", "resume", "abort"]
_TERMINAL = ("completed", "failed", "aborted", "timeout")
_SHUTDOWN_SETTLE_S = 30.0
_JOURNALS = 16
"""How many executions' journals are kept in memory (the most recently read ones)."""
_log = logging.getLogger("quorum.server")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigFlags:
    """The command line's --db and --tasks-dir, kept to load the configuration again with a model."""

    db: str | None = None
    tasks_dirs: tuple[str, ...] | None = None
    agents_dirs: tuple[str, ...] | None = None


@dataclass(slots=True)
class Runtime:
    cfg: Config
    flags: ConfigFlags
    settings: ServeSettings
    store: HistoryStore
    hub: FeedHub = field(init=False)
    _executors: list[TaskExecutor] = field(default_factory=list)
    _default: TaskExecutor | None = None
    _handles: dict[str, ExecutionHandle] = field(default_factory=dict)
    _watchers: set[asyncio.Task[Any]] = field(default_factory=set)
    _agent_ids: frozenset[str] | None = None
    _loader: TaskLoader | None = None
    _journals: collections.OrderedDict[str, list[Event]] = field(default_factory=collections.OrderedDict)
    loop: asyncio.AbstractEventLoop = field(init=False)

    def __post_init__(self) -> None:
        self.loop = asyncio.get_running_loop()  # where a signal handler hands begin_shutdown over
        # a beat at most half a heartbeat apart: each idle client's heartbeat comes within 1-1.5 intervals
        self.hub = FeedHub(self.store, poll_s=self.settings.poll_s, beat_s=self.settings.heartbeat_s / 2,
                           live=live_source(self.cfg.events))
        # Built now rather than at the first POST /executions: its imports and agent manager take seconds
        # of the loop, which every stream open at that moment would wait out. A configuration it cannot
        # build from is answered at that first request instead, as a problem with the CLI's wording.
        with contextlib.suppress(QuorumError):
            self.default_executor()

    # --- executors ---------------------------------------------------------------------------------
    def _new_executor(self, cfg: Config, choices: AgentChoices | None = None) -> TaskExecutor:
        from quorum.cli.run_cmd import build_executor

        executor = build_executor(cfg, self.store, choices, metrics=True)
        # events of the executions driven here wake their feeds at once (others are polled)
        executor.on("*", lambda event: self.hub.poke(event.execution_id, event.sequence))
        self._executors.append(executor)
        return executor

    def default_executor(self) -> TaskExecutor:
        if self._default is None:
            self._default = self._new_executor(self.cfg)
        return self._default

    def drives(self, execution_id: str) -> TaskExecutor | None:
        for executor in self._executors:
            if any(a.id == execution_id for a in executor.get_active_executions()):
                return executor
        return None

    def _keep(self, handle: ExecutionHandle) -> None:
        self._handles[handle.id] = handle

        async def watch() -> None:
            with contextlib.suppress(Exception):  # its outcome is in the journal either way
                await handle.result()
            self._handles.pop(handle.id, None)

        task = asyncio.ensure_future(watch())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    # --- tasks ---------------------------------------------------------------------------------------
    def task_loader(self) -> TaskLoader:
        """One loader for the server's life: a task file is parsed once, and again only when it changed
        (the loader checks the mtime, size and inode of each file and of the files it includes), so
        ``GET /tasks`` costs a ``stat`` per file instead of a parse."""
        from quorum.definition.loader import TaskLoader

        if self._loader is None:
            self._loader = TaskLoader(list(self.cfg.tasks_dirs))
        return self._loader

    def load_task(self, name: str) -> Task:
        """A task by name only: a client names tasks, it does not point the server at its files."""
        if "/" in name or "\\" in name or name.startswith(".") or name.endswith(".md"):
            raise ApiError(422, f"task {name!r}: give a task name (see GET /api/v1/tasks), not a path")
        return self.task_loader().load(name)

    def scan_tasks(self) -> list[TaskEntry]:
        """Every task file on the search path, loaded or with its error (``TaskLoader.scan``), cached."""
        return self.task_loader().scan()

    # --- journals ------------------------------------------------------------------------------------
    async def journal(self, record: ExecutionRecord) -> Sequence[Event]:
        """The execution's journal so far (at least up to ``record.last_sequence``): read whole once, then
        only what was appended since — a journal only grows, and its events become durable in sequence
        order (what the event feeds rely on too) — for the most recently read executions. A page that
        reads the execution at every phase boundary costs the new events, not the whole run again."""
        cached = self._journals.get(record.id)
        after = cached[-1].sequence if cached else 0
        fresh = await self.store.read_journal(record.id, after=after)
        # another request may have read meanwhile: extend the longer of the two complete prefixes
        current = self._journals.get(record.id)
        if current is None or (current[-1].sequence if current else 0) < after:
            current = cached if cached is not None else []
        last = current[-1].sequence if current else 0
        current.extend(e for e in fresh if e.sequence > last)
        self._journals[record.id] = current
        self._journals.move_to_end(record.id)
        while len(self._journals) > _JOURNALS:
            self._journals.popitem(last=False)
        return tuple(current)

    async def eta(self, record: ExecutionRecord, events: Sequence[Event]) -> Eta | None:
        """:func:`quorum.telemetry.eta.estimate` over the journal in hand (not read again); the model of
        the task version is learned again only when another execution of it has completed."""
        from quorum.telemetry.eta import estimate

        return await estimate(self.store, record, journal=events)

    def known_agent_ids(self) -> frozenset[str] | None:
        """The agent ids tasks may name (to catch typos in POST /tasks/validate), looked up once."""
        if self._agent_ids is None:
            from quorum.cli.definitions import _known_agent_ids

            self._agent_ids = _known_agent_ids(self.cfg)
        return self._agent_ids

    # --- starting ------------------------------------------------------------------------------------
    async def start(self, task_name: str, input: Mapping[str, Any], model: str | None) -> ExecutionHandle:
        from quorum.definition.parser import TaskParser

        task = self.load_task(task_name)
        checked = TaskParser().validate_task_requirements(task, dict(input))  # InputValidationError: 422
        if model:
            from quorum.config import load_config

            cfg = load_config(db=self.flags.db, tasks_dirs=self.flags.tasks_dirs,
                              agents_dirs=self.flags.agents_dirs, models=[model])
            executor = self._new_executor(cfg)
        else:
            executor = self.default_executor()
        handle = await executor.start(task, checked)
        self._keep(handle)
        return handle

    async def fork(self, record: ExecutionRecord, checkpoint: str | None) -> ExecutionHandle:
        from quorum.cli.choices import recorded_choices
        from quorum.cli.fork_cmd import _checkpoint_id

        checkpoint_id = None if checkpoint is None else await _checkpoint_id(self.store, record, checkpoint)
        executor = self._new_executor(self.cfg, recorded_choices(self.cfg, record, models_given=False))
        handle = await executor.fork(record.id, checkpoint_id)
        self._keep(handle)
        return handle

    # --- control -------------------------------------------------------------------------------------
    async def control(self, record: ExecutionRecord, action: Action, reason: str) -> str:
        """Ask for pause/resume/abort; returns what was done, in the CLI's words."""
        from quorum.cli.store import owner_alive

        if record.status in _TERMINAL:
            verb = "resume" if action == "resume" else action
            raise ApiError(409, f"execution {record.id} is already {record.status}; "
                           f"there is nothing to {verb}")
        reason = reason or f"{action} requested over the API"
        executor = self.drives(record.id)
        if executor is not None:
            return await self._control_here(executor, record, action, reason)
        if action == "pause" and record.status == "paused":
            return f"execution {record.id} is already paused"
        if action == "resume" and not await owner_alive(self.store, record):
            handle = await self.default_executor().resume_execution(record.id)
            self._keep(handle)
            return f"execution {record.id} is resumed here (its process was gone)"
        if action == "resume" and record.status != "paused":
            raise ApiError(409, f"execution {record.id} is running in another process ({record.owner}); "
                           "there is nothing to resume")
        await self.store.request_control(record.id, action, reason)
        if await owner_alive(self.store, record):
            return (f"{action} requested for execution {record.id}; the process driving it "
                    f"({record.owner}) acts on it")
        return (f"{action} requested for execution {record.id}; its process is gone: the request is kept and "
                "honoured when the execution is recovered")

    async def decide(self, record: ExecutionRecord, gate: str, decision: str, by: str, comment: str) -> str:
        """Count a decision at an approval gate: here when this server drives the execution, through the
        store when another process does, else the execution is taken over here and goes on."""
        from quorum.errors import InvalidDecisionError

        if record.status in _TERMINAL:
            raise ApiError(409, f"execution {record.id} is already {record.status}; "
                           "there is nothing to decide")
        executor = self.drives(record.id) or self.default_executor()
        try:
            handle = await executor.decide(record.id, decision, by=by, comment=comment, gate=gate)
        except InvalidDecisionError as exc:
            raise ApiError(409, str(exc)) from None
        if handle is not None:
            self._keep(handle)
            return f"{decision} by {by} at {gate}: execution {record.id} is taken over here and goes on"
        if self.drives(record.id) is not None:
            return f"{decision} by {by} at {gate} counted"
        return f"{decision} by {by} at {gate} sent to the process driving execution {record.id}"

    async def _control_here(self, executor: TaskExecutor, record: ExecutionRecord, action: Action,
                            reason: str) -> str:
        if action == "pause":
            await executor.pause_execution(record.id, reason)
            return f"pause requested for execution {record.id}"
        if action == "resume":
            await executor.resume_execution(record.id)
            return f"execution {record.id} resumed"
        await _without_waiting(executor.abort_execution(record.id, reason))
        return f"abort requested for execution {record.id}"

    # --- stopping ------------------------------------------------------------------------------------
    def begin_shutdown(self) -> None:
        """Ctrl-C: end the event streams first, so that the server's graceful shutdown, which waits for
        open requests, does not wait for clients that would never leave on their own."""
        self.hub.end_all()

    async def close(self) -> None:
        """Leave every execution driven here paused and detached (resumable by ``quorum resume`` or
        the next server), then close the executors and the feeds. Nothing recorded is lost."""
        from quorum.cli.run_cmd import close_executor

        await self.hub.close()
        for executor in self._executors:
            for active in executor.get_active_executions():
                with contextlib.suppress(QuorumError):
                    await executor.pause_execution(active.id, "quorum serve stopped")
        for executor in self._executors:
            for active in executor.get_active_executions():
                await self._detach(executor, active.id)
            await close_executor(executor)
        for task in list(self._watchers):
            task.cancel()

    async def _detach(self, executor: TaskExecutor, execution_id: str) -> None:
        handle = self._handles.get(execution_id)
        deadline = asyncio.get_running_loop().time() + _SHUTDOWN_SETTLE_S
        while handle is not None and not handle.done and handle.status.value != "paused":
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        try:
            await executor.detach(execution_id)
        except QuorumError as exc:
            # not paused in time: it stays as the journal has it, and `quorum recover` takes it over
            _log.warning("execution %s could not be detached cleanly: %s", execution_id, exc)



_BACKGROUND: set[asyncio.Future[object]] = set()


async def _without_waiting(call: Awaitable[object]) -> None:
    """Start an engine call that finishes when the execution does, without holding the request."""
    task = asyncio.ensure_future(call)
    _BACKGROUND.add(task)
    task.add_done_callback(_ignore_result)


def _ignore_result(task: asyncio.Future[object]) -> None:
    _BACKGROUND.discard(task)
    if not task.cancelled():
        task.exception()


