"""The SQL of the SQLite store: write jobs (run by the writer thread) and reads (any reader connection).

Every function takes the connection as its first argument and knows nothing of threads or event loops.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from quorum.definition.model import frozen_mapping
from quorum.errors import ExecutionNotFoundError, InvalidTransitionError, LeaseLostError, StoreError
from quorum.events import Event
from quorum.history._rows import (
    EVENT_COLUMNS,
    LIST_FILTERS,
    RECORD_COLUMNS,
    STATE_COLUMNS,
    event_from_row,
    record_from_row,
    state_from_row,
)
from quorum.history._rules import (
    RowState,
    apply_event,
    check_epoch,
    completed_call,
    is_orphan,
    lease_at_creation,
    lease_decision,
    select_pruned,
)
from quorum.history._sqlite_blobs import (
    decode_payload,
    dumps,
    encode_event_data,
    load_value,
    put_value,
    sweep,
)
from quorum.history.base import (
    ACTIVE_STATUSES,
    EXECUTION_STATUSES,
    TERMINAL_STATUSES,
    ControlAction,
    ControlRequest,
    ExecutionRecord,
    HistoryStats,
    Lease,
)
from quorum.ids import ExecutionId

__all__ = (
    "acquire_lease",
    "append",
    "completed_calls",
    "create_execution",
    "get_execution",
    "latest_checkpoint",
    "list_executions",
    "list_orphans",
    "prune",
    "read_journal",
    "release_lease",
    "renew_lease",
    "request_control",
    "stats",
    "take_control_requests",
)

# -- writes ------------------------------------------------------------------------------------------------


def create_execution(
    conn: sqlite3.Connection, record: ExecutionRecord, owner: str | None, ttl_s: float | None
) -> Lease | None:
    if record.status not in EXECUTION_STATUSES:
        raise StoreError(f"execution {record.id!r}: unknown status {record.status!r}")
    lease = lease_at_creation(record.id, owner, ttl_s, time.time())
    definition = None if record.task_definition is None else put_value(conn, record.task_definition)
    try:
        conn.execute(
            "INSERT INTO executions (id, task, status, created_at, updated_at, started_at, input, task_hash,"
            " phase_hashes, task_source, task_definition, agent_choices, task_version, parent_id, owner,"
            " epoch, lease_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id, record.task, record.status, record.created_at, record.updated_at,
                record.started_at, dumps(record.input), record.task_hash, dumps(record.phase_hashes),
                record.task_source, definition,
                None if record.agent_choices is None else dumps(record.agent_choices),
                record.task_version, record.parent_id, owner, 0 if lease is None else lease.epoch,
                None if lease is None else lease.expires_at,
            ),
        )
    except sqlite3.IntegrityError:
        raise StoreError(f"execution {record.id!r} already exists in the history") from None
    return lease


def _load_state(conn: sqlite3.Connection, execution_id: str) -> RowState:
    row = conn.execute(f"SELECT {STATE_COLUMNS} FROM executions WHERE id = ?", (execution_id,)).fetchone()
    if row is None:
        raise StoreError(
            f"execution {execution_id!r} is not in the history: create_execution() must come before its "
            "first event"
        )
    return state_from_row(execution_id, row)


def append(conn: sqlite3.Connection, events: Sequence[Event], epoch: int | None, blob_threshold: int) -> None:
    states: dict[str, RowState] = {}
    rows: list[tuple[Any, ...]] = []
    calls: list[tuple[str, str, int]] = []
    for event in events:
        eid = event.execution_id
        state = states.get(eid)
        if state is None:
            state = states[eid] = _load_state(conn, eid)
            check_epoch(state, epoch)
        apply_event(state, event)
        data, blob = None, None
        if event.data:
            data, blob = encode_event_data(conn, event.type, event.data, blob_threshold)
        rows.append(
            (
                eid, event.sequence, event.type, event.timestamp, event.task, event.phase, event.step,
                event.agent, event.duration_ms, event.error, data, blob,
            )
        )
        call = completed_call(event)
        if call is not None:
            calls.append((eid, call[0], event.sequence))
    conn.executemany(
        "INSERT INTO events (execution_id, sequence, type, timestamp, task, phase, step, agent, duration_ms,"
        " error, data, blobs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    if calls:
        # A call run again (in flight at a crash, then recorded twice) keeps its latest answer.
        conn.executemany("INSERT OR REPLACE INTO calls VALUES (?, ?, ?)", calls)
    conn.executemany(
        "UPDATE executions SET status = ?, last_sequence = ?, updated_at = ?, started_at = ?, ended_at = ?,"
        " duration_ms = ?, verdict = ?, error = ?, last_checkpoint = ?,"
        # the event that ends an execution ends its lease too: nothing is left to drive
        " owner = CASE WHEN ? THEN NULL ELSE owner END,"
        " lease_expires_at = CASE WHEN ? THEN NULL ELSE lease_expires_at END WHERE id = ?",
        [
            (
                s.status, s.last_sequence, s.updated_at, s.started_at, s.ended_at, s.duration_ms,
                None if s.verdict is None else dumps(s.verdict), s.error, s.last_checkpoint,
                s.status in TERMINAL_STATUSES, s.status in TERMINAL_STATUSES, eid,
            )
            for eid, s in states.items()
        ],
    )
    changed = [(dumps(s.agent_choices), eid) for eid, s in states.items() if s.agent_choices is not None]
    if changed:  # rare (a resume with other models): not a column of every append's update
        conn.executemany("UPDATE executions SET agent_choices = ? WHERE id = ?", changed)


def _lease_row(conn: sqlite3.Connection, execution_id: str) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT owner, epoch, lease_expires_at, recovery_attempts, status FROM executions WHERE id = ?",
        (execution_id,),
    ).fetchone()
    if row is None:
        raise ExecutionNotFoundError(execution_id)
    return tuple(row)


def acquire_lease(conn: sqlite3.Connection, execution_id: str, owner: str, ttl_s: float) -> Lease | None:
    current, epoch, expires, attempts, status = _lease_row(conn, execution_id)
    now = time.time()
    decision = lease_decision(status, current, expires, owner, now)
    if decision == "refuse":
        return None
    if decision == "takeover":
        attempts += 1
    conn.execute(
        "UPDATE executions SET owner = ?, epoch = ?, lease_expires_at = ?, recovery_attempts = ?"
        " WHERE id = ?",
        (owner, epoch + 1, now + ttl_s, attempts, execution_id),
    )
    return Lease(execution_id=ExecutionId(execution_id), owner=owner, epoch=epoch + 1, expires_at=now + ttl_s)


def renew_lease(conn: sqlite3.Connection, lease: Lease, ttl_s: float) -> Lease:
    current, epoch, _expires, _attempts, _status = _lease_row(conn, lease.execution_id)
    if current != lease.owner or epoch != lease.epoch:
        raise LeaseLostError(
            f"execution {lease.execution_id!r}: the lease of {lease.owner} (epoch {lease.epoch}) was taken "
            f"over by {current} (epoch {epoch})"
        )
    expires = time.time() + ttl_s
    conn.execute("UPDATE executions SET lease_expires_at = ? WHERE id = ?", (expires, lease.execution_id))
    return Lease(execution_id=lease.execution_id, owner=lease.owner, epoch=lease.epoch, expires_at=expires)


def release_lease(conn: sqlite3.Connection, lease: Lease) -> None:
    conn.execute(
        "UPDATE executions SET owner = NULL, lease_expires_at = NULL"
        " WHERE id = ? AND owner = ? AND epoch = ?",
        (lease.execution_id, lease.owner, lease.epoch),
    )


def request_control(conn: sqlite3.Connection, execution_id: str, action: ControlAction, reason: str) -> None:
    *_lease, status = _lease_row(conn, execution_id)
    if status in TERMINAL_STATUSES:
        raise InvalidTransitionError(status, action)
    conn.execute(
        "INSERT INTO control (execution_id, action, reason, created_at) VALUES (?, ?, ?, ?)",
        (execution_id, action, reason, time.time()),
    )


def pending_control_executions(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT execution_id FROM control WHERE taken_at IS NULL")]


def take_control_requests(conn: sqlite3.Connection, execution_id: str) -> list[ControlRequest]:
    rows = conn.execute(
        "SELECT id, action, reason, created_at FROM control WHERE execution_id = ? AND taken_at IS NULL"
        " ORDER BY id",
        (execution_id,),
    ).fetchall()
    if rows:
        conn.execute(
            "UPDATE control SET taken_at = ? WHERE execution_id = ? AND taken_at IS NULL AND id <= ?",
            (time.time(), execution_id, rows[-1][0]),
        )
    return [
        ControlRequest(
            id=r[0], execution_id=ExecutionId(execution_id), action=r[1], reason=r[2], created_at=r[3]
        )
        for r in rows
    ]


def prune(conn: sqlite3.Connection, older_than_s: float | None, keep: int | None) -> int:
    marks = ",".join("?" * len(TERMINAL_STATUSES))
    finished = conn.execute(
        f"SELECT id, COALESCE(ended_at, updated_at) AS t FROM executions WHERE status IN ({marks})"
        " ORDER BY t DESC, rowid DESC",
        tuple(TERMINAL_STATUSES),
    ).fetchall()
    victims = select_pruned([(r[0], r[1]) for r in finished], older_than_s, keep, time.time())
    for table, column in (("events", "execution_id"), ("calls", "execution_id"),
                          ("control", "execution_id"), ("executions", "id")):
        conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(v,) for v in victims])
    if victims:
        sweep(conn)
    return len(victims)


# -- reads -------------------------------------------------------------------------------------------------

def get_execution(conn: sqlite3.Connection, execution_id: str) -> ExecutionRecord | None:
    row = conn.execute(
        f"SELECT {RECORD_COLUMNS}, task_definition FROM executions WHERE id = ?", (execution_id,)
    ).fetchone()
    if row is None:
        return None
    record = record_from_row(row)
    if row[-1] is not None:
        definition = load_value(conn, row[-1])
        if isinstance(definition, Mapping):
            record = dataclasses.replace(record, task_definition=frozen_mapping(definition))
    return record


def list_executions(
    conn: sqlite3.Connection, limit: int, filters: Mapping[str, str | None]
) -> list[ExecutionRecord]:
    """``filters``: column -> the value it must equal (None: any); the columns are quorum's own
    (:data:`~quorum.history._rows.LIST_FILTERS`), never the caller's."""
    where, args = [], []
    for column in LIST_FILTERS:
        value = filters.get(column)
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = f"SELECT {RECORD_COLUMNS} FROM executions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
    return [record_from_row(r) for r in conn.execute(sql, (*args, max(limit, 0)))]


_EVENT_SELECT = f"SELECT {EVENT_COLUMNS} FROM events e"


def _event(conn: sqlite3.Connection, row: Sequence[Any], cache: dict[str, Any]) -> Event:
    return event_from_row(row, decode_payload(conn, row[10], row[11], cache))


def read_journal(conn: sqlite3.Connection, execution_id: str, after: int, limit: int | None) -> list[Event]:
    rows = conn.execute(
        _EVENT_SELECT + " WHERE e.execution_id = ? AND e.sequence > ? ORDER BY e.sequence LIMIT ?",
        (execution_id, after, -1 if limit is None else max(limit, 0)),
    ).fetchall()
    cache: dict[str, Any] = {}
    return [_event(conn, r, cache) for r in rows]


def completed_calls(conn: sqlite3.Connection, execution_id: str) -> dict[str, Mapping[str, Any]]:
    rows = conn.execute(
        "SELECT c.call_key, e.data, e.blobs FROM calls c"
        " JOIN events e ON e.execution_id = c.execution_id AND e.sequence = c.sequence"
        " WHERE c.execution_id = ? ORDER BY c.sequence",
        (execution_id,),
    ).fetchall()
    result: dict[str, Mapping[str, Any]] = {}
    cache: dict[str, Any] = {}
    for key, data, blobs in rows:
        response = (decode_payload(conn, data, blobs, cache) or {}).get("response")
        result[key] = frozen_mapping(response if isinstance(response, Mapping) else {"value": response})
    return result


def latest_checkpoint(conn: sqlite3.Connection, execution_id: str) -> Event | None:
    row = conn.execute(
        _EVENT_SELECT + " JOIN executions x ON x.id = e.execution_id AND x.last_checkpoint = e.sequence"
        " WHERE e.execution_id = ?",
        (execution_id,),
    ).fetchone()
    return None if row is None else _event(conn, row, {})


def list_orphans(conn: sqlite3.Connection) -> list[ExecutionRecord]:
    marks = ",".join("?" * len(ACTIVE_STATUSES))
    rows = conn.execute(
        f"SELECT {RECORD_COLUMNS} FROM executions WHERE status IN ({marks}) ORDER BY created_at, rowid",
        tuple(ACTIVE_STATUSES),
    ).fetchall()
    now = time.time()
    records = [record_from_row(r) for r in rows]
    return [r for r in records if is_orphan(r.status, r.owner, r.lease_expires_at, now)]


def stats(conn: sqlite3.Connection) -> HistoryStats:
    by_status = dict(conn.execute("SELECT status, COUNT(*) FROM executions GROUP BY status").fetchall())
    events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    calls = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return HistoryStats(
        executions=sum(by_status.values()), by_status=by_status, events=events, agent_calls=calls,
        bytes=pages * page_size,
    )
