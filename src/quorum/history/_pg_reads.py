"""The PostgreSQL store's reads: SQL over one asyncpg connection, rows mapped by :mod:`._rows` (shared
with SQLite), blob markers resolved from one recursive fetch per call (:mod:`._pg_blobs`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from quorum.definition.model import frozen_mapping
from quorum.events import Event
from quorum.history._pg_blobs import blob_loader, decode_payload
from quorum.history._rows import EVENT_COLUMNS, RECORD_COLUMNS, event_from_row, record_from_row
from quorum.history._rules import is_orphan
from quorum.history.base import ACTIVE_STATUSES, ExecutionRecord, HistoryStats

__all__ = (
    "completed_calls",
    "get_execution",
    "latest_checkpoint",
    "list_executions",
    "list_orphans",
    "read_journal",
    "stats",
)

_ACTIVE: Final = sorted(ACTIVE_STATUSES)


async def get_execution(conn: Any, execution_id: str) -> ExecutionRecord | None:
    row = await conn.fetchrow(f"SELECT {RECORD_COLUMNS}, task_definition FROM executions WHERE id = $1",
                              execution_id)
    if row is None:
        return None
    record = record_from_row(row)
    digest = row[-1]
    if digest is not None:
        definition = (await blob_loader(conn, [digest]))(digest)
        if isinstance(definition, Mapping):
            record = dataclasses.replace(record, task_definition=frozen_mapping(definition))
    return record


async def list_executions(
    conn: Any, limit: int, status: str | None, task: str | None, task_version: str | None,
    parent_id: str | None,
) -> list[ExecutionRecord]:
    # Only the filters given are in the statement: each combination is its own prepared statement, whose
    # plan (generic: the pool plans once, see ``postgres``) can use that filter's index.
    given = [(column, value) for column, value in (("status", status), ("task", task),
                                                   ("task_version", task_version), ("parent_id", parent_id))
             if value is not None]
    where = " AND ".join(f"{column} = ${n}" for n, (column, _) in enumerate(given, start=2))
    rows = await conn.fetch(
        f"SELECT {RECORD_COLUMNS} FROM executions{' WHERE ' + where if where else ''}"
        " ORDER BY created_at DESC, created_order DESC LIMIT $1",
        max(limit, 0), *(value for _, value in given),
    )
    return [record_from_row(r) for r in rows]


async def _events(conn: Any, rows: Sequence[Any]) -> list[Event]:
    load = await blob_loader(conn, [r[11] for r in rows])
    return [event_from_row(r, decode_payload(r[10], r[11], load)) for r in rows]


async def read_journal(conn: Any, execution_id: str, after: int, limit: int | None) -> list[Event]:
    rows = await conn.fetch(
        f"SELECT {EVENT_COLUMNS} FROM events e WHERE e.execution_id = $1 AND e.sequence > $2"
        " ORDER BY e.sequence LIMIT $3",
        execution_id, after, None if limit is None else max(limit, 0),
    )
    return await _events(conn, rows)


async def completed_calls(conn: Any, execution_id: str) -> dict[str, Mapping[str, Any]]:
    rows = await conn.fetch(
        "SELECT c.call_key, e.data, e.blobs FROM calls c"
        " JOIN events e ON e.execution_id = c.execution_id AND e.sequence = c.sequence"
        " WHERE c.execution_id = $1 ORDER BY c.sequence",
        execution_id,
    )
    load = await blob_loader(conn, [r[2] for r in rows])
    result: dict[str, Mapping[str, Any]] = {}
    for key, data, blobs in rows:
        response = (decode_payload(data, blobs, load) or {}).get("response")
        result[key] = frozen_mapping(response if isinstance(response, Mapping) else {"value": response})
    return result


async def latest_checkpoint(conn: Any, execution_id: str) -> Event | None:
    rows = await conn.fetch(
        f"SELECT {EVENT_COLUMNS} FROM events e JOIN executions x ON x.id = e.execution_id"
        " AND x.last_checkpoint = e.sequence WHERE e.execution_id = $1",
        execution_id,
    )
    return (await _events(conn, rows))[0] if rows else None


async def list_orphans(conn: Any) -> list[ExecutionRecord]:
    rows = await conn.fetch(
        f"SELECT {RECORD_COLUMNS} FROM executions WHERE status = ANY($1::text[])"
        " ORDER BY created_at, created_order",
        _ACTIVE,
    )
    now = time.time()
    records = [record_from_row(r) for r in rows]
    return [r for r in records if is_orphan(r.status, r.owner, r.lease_expires_at, now)]


async def stats(conn: Any) -> HistoryStats:
    rows = await conn.fetch("SELECT status, COUNT(*) FROM executions GROUP BY status")
    by_status = {r[0]: r[1] for r in rows}
    events, calls, size = await conn.fetchrow(
        "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM calls),"
        " (SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        "  WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace)"
    )
    return HistoryStats(
        executions=sum(by_status.values()), by_status=by_status, events=events, agent_calls=calls,
        bytes=int(size),
    )
