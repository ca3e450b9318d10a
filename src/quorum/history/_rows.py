"""Rows <-> records, shared by the SQL backends: both keep the same columns, in the same order, with JSON
as text, so that an execution row or a journal row means the same thing in SQLite and in PostgreSQL.

Only how a row is fetched differs (a sqlite3 tuple, an asyncpg ``Record``: both index by position).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from quorum.definition.model import frozen_mapping
from quorum.events import Event
from quorum.history._blobs import loads
from quorum.history._rules import RowState
from quorum.history.base import ExecutionRecord
from quorum.ids import AgentId, ExecutionId, PhaseName

__all__ = (
    "EVENT_COLUMNS",
    "LIST_FILTERS",
    "RECORD_COLUMNS",
    "STATE_COLUMNS",
    "event_from_row",
    "loads_or_none",
    "record_from_row",
    "state_from_row",
)

RECORD_COLUMNS: Final = (
    "id, task, status, created_at, updated_at, started_at, ended_at, duration_ms, input, task_hash,"
    " phase_hashes, task_source, verdict, error, last_sequence, owner, epoch, lease_expires_at,"
    " recovery_attempts, agent_choices, task_version, parent_id"
)
"""The columns of :func:`record_from_row`, in its order (the task definition is read apart)."""

LIST_FILTERS: Final = ("status", "task", "task_version", "parent_id")
"""The columns ``list_executions`` filters on (each by equality), named as its keyword arguments."""

STATE_COLUMNS: Final = (
    "status, last_sequence, updated_at, started_at, ended_at, duration_ms, verdict, error, last_checkpoint,"
    " epoch"
)
"""The columns of :func:`state_from_row`: what appending events changes."""

EVENT_COLUMNS: Final = (
    "e.execution_id, e.sequence, e.type, e.timestamp, e.task, e.phase, e.step, e.agent, e.duration_ms,"
    " e.error, e.data, e.blobs"
)
"""A journal row (``events e``): :func:`event_from_row` takes it with its data already decoded."""


def loads_or_none(text: str | None) -> Any:
    return None if text is None else loads(text)


def record_from_row(row: Sequence[Any]) -> ExecutionRecord:
    verdict = loads_or_none(row[12])
    choices = loads_or_none(row[19])
    return ExecutionRecord(
        id=ExecutionId(row[0]), task=row[1], status=row[2], created_at=row[3], updated_at=row[4],
        started_at=row[5], ended_at=row[6], duration_ms=row[7], input=frozen_mapping(loads_or_none(row[8])),
        task_hash=row[9], phase_hashes=frozen_mapping(loads_or_none(row[10])), task_source=row[11],
        verdict=None if verdict is None else frozen_mapping(verdict), error=row[13], last_sequence=row[14],
        owner=row[15], epoch=row[16], lease_expires_at=row[17], recovery_attempts=row[18],
        agent_choices=frozen_mapping(choices) if isinstance(choices, Mapping) else None,
        task_version=row[20], parent_id=None if row[21] is None else ExecutionId(row[21]),
    )


def state_from_row(execution_id: str, row: Sequence[Any]) -> RowState:
    return RowState(
        id=execution_id, status=row[0], last_sequence=row[1], updated_at=row[2], started_at=row[3],
        ended_at=row[4], duration_ms=row[5], verdict=loads_or_none(row[6]), error=row[7],
        last_checkpoint=row[8], epoch=row[9],
    )


def event_from_row(row: Sequence[Any], data: Mapping[str, Any] | None) -> Event:
    return Event(
        type=row[2], execution_id=ExecutionId(row[0]), sequence=row[1], timestamp=row[3], task=row[4],
        phase=None if row[5] is None else PhaseName(row[5]), step=row[6],
        agent=None if row[7] is None else AgentId(row[7]), duration_ms=row[8], error=row[9],
        data=frozen_mapping(data),
    )
