"""ClusterExecutor: start, follow and control executions that run on a Ray cluster.

::

    async with ClusterExecutor(RayRunner("ray://head:10001", store_url=PG)) as cluster:
        result = await cluster.execute("investment-committee-meeting", inputs)   # an ExecutionResult
        handle = await cluster.start(task, inputs)
        async for event in handle.events(): ...                                 # from the journal
        await cluster.pause_execution(handle.id); await cluster.resume_execution(handle.id)

Here the task is loaded and checked (inputs, agents, step types) before anything reaches the cluster;
the definition travels with the execution. Control goes through the shared store as ``quorum pause``
from another machine does: the driver holding the execution's lease picks it up within its control
poll. An execution nobody drives any more (paused, and its driver lost; or waiting for an approval a
decision now answers) is given to a driver again.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from quorum.cluster.follow import follow_journal
from quorum.cluster.runner import RayRunner
from quorum.cluster.spread import spread_phases
from quorum.definition.model import Task
from quorum.engine.approvals import APPROVE, Decision, open_gates
from quorum.engine.context import new_execution_id
from quorum.engine.executor import TaskExecutor
from quorum.engine.results import ExecutionResult
from quorum.errors import (
    ExecutionNotFoundError,
    InvalidDecisionError,
    InvalidTransitionError,
    QuorumError,
    StoreError,
)
from quorum.events import Event
from quorum.history.base import TERMINAL_STATUSES, HistoryStore

__all__ = ("ClusterExecutor", "ClusterHandle")


class ClusterHandle:
    """One execution running on the cluster: its result, its events, its control."""

    def __init__(self, execution_id: str, ref: Any, store: HistoryStore) -> None:
        self.id = execution_id
        self.ref = ref
        self._store = store

    @property
    def done(self) -> bool:
        import ray

        ready, _ = ray.wait([self.ref], timeout=0)
        return bool(ready)

    async def result(self) -> ExecutionResult:
        """Its result once it has ended (wherever it ended: the node that drove it last)."""
        import ray

        try:
            data = await self.ref
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, QuorumError):
                raise cause from None
            raise StoreError(f"execution {self.id}: its driver failed: {cause!r}") from None
        return ExecutionResult.from_dict(data)

    def events(self, *, after: int = 0) -> AsyncIterator[Event]:
        """Its events as the journal records them (from ``after``), until it has ended."""
        return follow_journal(self._store, self.id, after=after, given_up=self._gave_up)

    def _gave_up(self) -> bool:
        # the drive call ended without recording an end (it failed before the execution was created)
        return self.done

    async def status(self) -> str:
        record = await self._store.get_execution(self.id)
        return "pending" if record is None else record.status


class ClusterExecutor:
    """The cluster's counterpart of :class:`~quorum.engine.executor.TaskExecutor`'s run and control
    methods, over a :class:`RayRunner`. ``tasks_dir`` finds task names here (never on the nodes)."""

    def __init__(self, runner: RayRunner, *, tasks_dir: str | os.PathLike[str] | None = "tasks") -> None:
        self.runner = runner
        self._local = TaskExecutor(tasks_dir=tasks_dir, agent_manager=runner.settings.agents())
        self._store: HistoryStore | None = None

    @property
    def history_store(self) -> HistoryStore:
        if self._store is None:
            raise RuntimeError("open the ClusterExecutor first (async with ClusterExecutor(...))")
        return self._store

    async def open(self) -> None:
        if self._store is None:
            from quorum.history.stores import open_store

            store = open_store(self.runner.settings.store_url)
            await store.open()
            self._store = store
        self.runner.drivers()

    async def aclose(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await store.close()
        await self._local.aclose()

    async def __aenter__(self) -> ClusterExecutor:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- running ------------------------------------------------------------------------------------
    async def start(self, task: Task | str | os.PathLike[str], input: Mapping[str, Any] | None = None, *,
                    execution_id: str | None = None) -> ClusterHandle:
        """Check here, then start on the cluster; returns at once (the record appears when a driver
        has taken it)."""
        parsed = self._local.load_task(task)
        checked = self._local.check(parsed, input or {})
        spread_phases(parsed)  # a bad ``cluster: {spread: ...}`` is refused here, not on a node
        eid = execution_id or new_execution_id()
        return ClusterHandle(eid, self.runner.submit(eid, parsed, checked), self.history_store)

    async def execute(self, task: Task | str | os.PathLike[str],
                      input: Mapping[str, Any] | None = None) -> ExecutionResult:
        return await (await self.start(task, input)).result()

    def attach(self, execution_id: str, *, resume: bool = False) -> ClusterHandle:
        """A driver for an execution that is in the store but driven by nobody; its handle."""
        return ClusterHandle(execution_id, self.runner.submit(execution_id, None, {}, resume=resume),
                             self.history_store)

    # --- control ------------------------------------------------------------------------------------
    async def pause_execution(self, execution_id: str, reason: str = "") -> None:
        await self._request(execution_id, "pause", reason)

    async def abort_execution(self, execution_id: str, reason: str = "aborted") -> None:
        await self._request(execution_id, "abort", reason)

    async def resume_execution(self, execution_id: str) -> ClusterHandle | None:
        """Resume a paused execution: its driver is asked to; one nobody drives gets a driver (its
        handle is returned)."""
        await self._record(execution_id)
        if await self._orphan(execution_id):
            return self.attach(execution_id, resume=True)
        await self.history_store.request_control(execution_id, "resume", "requested through the cluster")
        return None

    async def decide(self, execution_id: str, decision: str = APPROVE, *, by: str, comment: str = "",
                     gate: str | None = None) -> ClusterHandle | None:
        """A person's decision at an approval gate, given to the driver through the store."""
        store = self.history_store
        await self._record(execution_id)
        gates = open_gates(await store.read_journal(execution_id))
        chosen = [g for g in gates if gate is None or g.id == gate]
        if len(chosen) != 1:
            waiting = ", ".join(g.id for g in gates) or "none"
            raise InvalidDecisionError(f"execution {execution_id}: name the gate to decide at "
                                       f"(waiting: {waiting})")
        made = Decision(gate=chosen[0].id, decision=decision, by=by, comment=comment, at=time.time())
        chosen[0].check(made)
        await store.request_control(execution_id, "decide", made.to_request())
        if await self._orphan(execution_id):
            return self.attach(execution_id)
        return None

    async def _request(self, execution_id: str, action: Any, reason: str) -> None:
        await self._record(execution_id)
        await self.history_store.request_control(execution_id, action, reason)

    async def _record(self, execution_id: str) -> None:
        record = await self.history_store.get_execution(execution_id)
        if record is None:
            raise ExecutionNotFoundError(execution_id)
        if record.status in TERMINAL_STATUSES:
            raise InvalidTransitionError(record.status, "running")

    async def _orphan(self, execution_id: str) -> bool:
        return any(r.id == execution_id for r in await self.history_store.list_orphans())
