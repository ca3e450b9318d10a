"""The driver: the body of the Ray actor that drives executions on a node.

One driver drives many executions at once (an async actor, one event loop), each with a
:class:`~quorum.engine.executor.TaskExecutor` over the shared PostgreSQL store, so everything an
execution does is in the journal, under its lease, as locally. ``drive`` is what Ray calls; it is
idempotent, because Ray calls it again — on a restarted driver on another node — when the node of the
first call is lost:

- no record yet: the execution starts here, under the id the caller chose;
- a record that has ended: its stored result is returned (the first call finished, its answer was lost);
- a record still going: it is taken over from its journal (``resume_execution``) as soon as its lease
  is free — at once when the old driver's process is known dead, else when the lease expires — and
  completed agent calls are answered from the journal. A paused one stays paused (held by the new
  driver) until it is resumed.

The lease is the only thing that decides who drives: a driver that lost it (its node came back after a
partition) is refused by the store's epoch fencing on its next write and ends its copy as failed, which
writes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from quorum.agents.manager import AgentManager
from quorum.cluster.settings import AgentFactory, DriverSettings
from quorum.cluster.spread import CallSpreader, spread_agents, spread_phases
from quorum.definition.model import Task
from quorum.engine.executor import TaskExecutor
from quorum.engine.handle import ExecutionHandle
from quorum.engine.recovery import UnresumableError, stored_context
from quorum.errors import ConfigurationError, ExecutionNotFoundError, ResumeRefusedError
from quorum.history.base import TERMINAL_STATUSES, HistoryStore

__all__ = ("ExecutionDriver", "install_pool")

_TAKEOVER_POLL_S = 0.2


def install_pool() -> None:
    """Make the ``executor: process`` agents of this process run as Ray tasks.

    The agents ask :func:`quorum.agents.workers.shared_pool` for their pool; here it is set to a
    :class:`~quorum.cluster.pool.RayTaskPool` before any agent is built."""
    from quorum.agents.workers import installed_pool, use_pool
    from quorum.cluster.pool import RayTaskPool

    if not isinstance(installed_pool(), RayTaskPool):
        previous = use_pool(RayTaskPool())
        if previous is not None:
            previous.close()


class ExecutionDriver:
    """Drives executions on the node it was placed on (wrapped with ``ray.remote`` by the runner)."""

    def __init__(self) -> None:
        install_pool()
        self._stores: dict[str, HistoryStore] = {}
        self._executors: dict[tuple[str, AgentFactory, float, float], TaskExecutor] = {}
        self._spreaders: dict[AgentFactory, CallSpreader] = {}
        self._lock = asyncio.Lock()

    async def where(self) -> dict[str, Any]:
        """The node and process this driver runs in, and how many ``executor: process`` calls it sent
        to Ray as tasks."""
        import os

        import ray

        from quorum.agents.workers import shared_pool

        pool = shared_pool()
        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                "ray_task_calls": getattr(pool, "calls", 0),
                "spread_calls": sum(s.calls for s in self._spreaders.values())}

    async def call_servers(self) -> list[dict[str, Any]]:
        """Where this driver's call servers run (:mod:`quorum.cluster.spread`), each with its calls."""
        return [w for s in self._spreaders.values() for w in await s.where()]

    async def drive(self, execution_id: str, task: Mapping[str, Any] | None, input: Mapping[str, Any],
                    settings: DriverSettings, *, resume: bool = False) -> dict[str, Any]:
        """Run (start, or take over) one execution to its end; its result as a dict. ``task`` (its
        definition) starts it when the store has no record of it; ``resume`` makes a paused one go on."""
        executor = await self._executor(settings)
        store = executor.history_store
        assert store is not None
        spreader = self._spreaders[settings.agents]
        record = await store.get_execution(execution_id)
        try:
            if record is None:
                if task is None:
                    raise ExecutionNotFoundError(execution_id)
                definition = Task.from_dict(task)
                self._spread(spreader, executor, execution_id, definition)
                handle = await executor.start(definition, input, execution_id=execution_id)
            elif record.status in TERMINAL_STATUSES:
                return (await stored_context(store, execution_id)).result().to_dict()
            else:
                if record.task_definition:
                    self._spread(spreader, executor, execution_id, Task.from_dict(record.task_definition))
                taken = await self._take_over(executor, execution_id, settings, resume=resume)
                if isinstance(taken, dict):
                    return taken
                handle = taken
            return (await handle.result()).to_dict()
        finally:
            spreader.untrack(execution_id)

    @staticmethod
    def _spread(spreader: CallSpreader, executor: TaskExecutor, execution_id: str, task: Task) -> None:
        """The task's spread phases (its ``cluster: {spread: ...}``) go to the call servers."""
        phases = spread_phases(task)
        if phases and not isinstance(executor.agent_manager, AgentManager):
            raise ConfigurationError(f"task {task.name!r} spreads phases over the cluster, which needs "
                                     "an AgentManager from the agent factory")
        spreader.track(execution_id, phases)

    async def _take_over(self, executor: TaskExecutor, execution_id: str, settings: DriverSettings, *,
                         resume: bool) -> ExecutionHandle | dict[str, Any]:
        store = executor.history_store
        assert store is not None
        deadline = time.monotonic() + settings.takeover_deadline_s
        while True:
            record = await store.get_execution(execution_id)
            if record is not None and record.status in TERMINAL_STATUSES:
                return (await stored_context(store, execution_id)).result().to_dict()
            try:
                handle = await self._resume(executor, execution_id, settings, keep_paused=not resume)
            except UnresumableError:
                raise
            except ResumeRefusedError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(_TAKEOVER_POLL_S)  # its lease is still held: wait for it to expire
                continue
            return handle

    @staticmethod
    async def _resume(executor: TaskExecutor, execution_id: str, settings: DriverSettings, *,
                      keep_paused: bool) -> ExecutionHandle:
        """``resume_execution``; one paused when its driver was lost stays paused (held here by the
        engine) unless ``keep_paused`` is false."""
        return await executor.resume_execution(execution_id, keep_paused=keep_paused)

    async def _executor(self, settings: DriverSettings) -> TaskExecutor:
        key = (settings.store_url, settings.agents, settings.lease_ttl_s, settings.control_poll_s)
        async with self._lock:
            executor = self._executors.get(key)
            if executor is None:
                store = await self._store(settings.store_url)
                spreader = self._spreaders.setdefault(settings.agents, CallSpreader(settings.agents))
                executor = self._executors[key] = TaskExecutor(
                    tasks_dir=None, agent_manager=spread_agents(settings.agents(), spreader),
                    history_store=store,
                    lease_ttl_s=settings.lease_ttl_s, control_poll_s=settings.control_poll_s,
                )
            return executor

    async def _store(self, url: str) -> HistoryStore:
        store = self._stores.get(url)
        if store is None:
            from quorum.history.stores import open_store

            store = open_store(url)
            if type(store).__name__ != "PostgresHistoryStore":
                raise ConfigurationError(f"a cluster needs the PostgreSQL history store, not {url!r}")
            await store.open()
            self._stores[url] = store
        return store
