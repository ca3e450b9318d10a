"""What the history store is told about an execution when it starts, and back from a result.

A store that keeps the task definition with the execution row (``ExecutionRecord.task_definition``)
gets it there, before the run starts; otherwise the ``execution:start`` event carries it, because a
resume in another process needs it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from quorum.definition.model import Task, frozen_mapping
from quorum.engine.context import ExecutionContext
from quorum.engine.results import ExecutionResult, thaw
from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("RECORD_KEEPS_TASK", "StartRecords", "record_of", "survives_crash")

RECORD_KEEPS_TASK = "task_definition" in ExecutionRecord.__dataclass_fields__
"""Stores keep the task definition with the execution row (written before the run starts)."""


class StartRecords:
    """Builds the row and the start event's data of each new execution."""

    def __init__(self) -> None:
        self._task_dicts: dict[int, tuple[Task, Mapping[str, Any]]] = {}

    def record(self, ctx: ExecutionContext) -> ExecutionRecord:
        task = ctx.task
        extra: dict[str, Any] = {"task_definition": self._task_dict(task)} if RECORD_KEEPS_TASK else {}
        return ExecutionRecord(
            id=ctx.id, task=task.name, status=ctx.status.value, created_at=ctx.created_at,
            updated_at=time.time(), input=ctx.input, task_hash=task.content_hash, task_version=task.version,
            parent_id=ctx.parent_id,
            phase_hashes={p.name: p.content_hash for p in task.phases}, task_source=task.source, **extra,
        )

    def start_data(self, ctx: ExecutionContext, *, recorded: bool) -> dict[str, Any]:
        """The data of ``execution:start`` (``recorded``: a history store journals it)."""
        data: dict[str, Any] = {"input": ctx.input, "task_hash": ctx.task.content_hash,
                                "phases": list(ctx.task.phase_names)}
        if recorded and not RECORD_KEEPS_TASK:
            data["task"] = self._task_dict(ctx.task)  # the row does not keep it: the journal does
        return data

    def _task_dict(self, task: Task) -> Mapping[str, Any]:
        """``task.to_dict()``, once per Task object (tasks are frozen, and many executions share one)."""
        cached = self._task_dicts.get(id(task))
        if cached is None or cached[0] is not task:
            if len(self._task_dicts) >= 64:
                self._task_dicts.clear()
            # Read-only: the stores encode a read-only definition once for all its executions.
            cached = self._task_dicts[id(task)] = (task, frozen_mapping(task.to_dict()))
        return cached[1]


def survives_crash(store: HistoryStore) -> bool:
    """Whether the store outlives this process (an in-memory one does not: waiting for it buys
    nothing). A store may say so with a ``persistent`` attribute."""
    flag = getattr(store, "persistent", None)
    if flag is not None:
        return bool(flag)
    from quorum.history.memory import MemoryHistoryStore

    return not isinstance(store, MemoryHistoryStore)


def record_of(result: ExecutionResult) -> ExecutionRecord:
    """A history row for an execution of this process (when there is no store to ask)."""
    return ExecutionRecord(
        id=result.id, task=result.task, status=result.status.value,
        created_at=result.started_at or 0.0, updated_at=result.ended_at or 0.0,
        started_at=result.started_at, ended_at=result.ended_at, duration_ms=result.duration_ms,
        input=result.input, verdict=None if result.verdict is None else thaw(result.verdict),
        error=result.error,
    )
