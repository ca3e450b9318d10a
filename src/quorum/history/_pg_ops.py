"""The PostgreSQL store's operations: SQL over one asyncpg connection, and the journal's rules.

Each function takes the connection first and knows nothing of pools, retries or batching
(:mod:`.postgres` and :mod:`._pg_writer` do that). The rules are :mod:`._rules` (shared with every
backend); rows map to records by :mod:`._rows` (shared with SQLite). What differs from SQLite is only
what the database does differently: row locks (``FOR UPDATE``, ``SKIP LOCKED``), arrays in one
statement instead of loops, ``NOTIFY`` in the writing statement, ``RETURNING``.

Fencing: an append locks the rows of its executions (``FOR UPDATE``, in id order: no deadlock between
two batches), checks the epoch and the sequences on them, and the one ``UPDATE`` that writes the rows
repeats the check in its ``WHERE`` (epoch and previous ``last_sequence``): a row that does not match
is not written, and the whole transaction is refused.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from quorum.errors import ExecutionNotFoundError, InvalidTransitionError, LeaseLostError, StoreError
from quorum.events import Event, EventType
from quorum.history._blobs import dumps
from quorum.history._pg_blobs import BlobBatch, sweep
from quorum.history._rows import (
    STATE_COLUMNS,
    state_from_row,
)
from quorum.history._rules import (
    RowState,
    apply_event,
    check_epoch,
    completed_call,
    is_orphan,
    lease_decision,
    select_pruned,
)
from quorum.history.base import (
    ACTIVE_STATUSES,
    EXECUTION_STATUSES,
    TERMINAL_STATUSES,
    ControlAction,
    ControlRequest,
    ExecutionRecord,
    Lease,
)
from quorum.ids import ExecutionId

__all__ = (
    "AppendJob",
    "acquire_lease",
    "append_batch",
    "claim_orphans",
    "create_execution",
    "pending_control_executions",
    "prune",
    "release_lease",
    "renew_lease",
    "request_control",
    "take_control_requests",
)

_ACTIVE: Final = sorted(ACTIVE_STATUSES)
_TERMINAL: Final = sorted(TERMINAL_STATUSES)


@dataclass(frozen=True, slots=True)
class AppendJob:
    """One ``append`` call: its events (one or more executions) and the epoch it is fenced by."""

    events: tuple[Event, ...]
    epoch: int | None


# -- writes ------------------------------------------------------------------------------------------------


async def create_execution(conn: Any, record: ExecutionRecord, unique_violation: type[Exception]) -> None:
    if record.status not in EXECUTION_STATUSES:
        raise StoreError(f"execution {record.id!r}: unknown status {record.status!r}")
    blobs = BlobBatch()
    definition = None if record.task_definition is None else blobs.put_value(record.task_definition)
    async with conn.transaction():
        await blobs.write(conn)
        try:
            await conn.execute(
                "INSERT INTO executions (id, task, status, created_at, updated_at, started_at, input,"
                " task_hash, phase_hashes, task_source, task_definition, agent_choices)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                record.id, record.task, record.status, record.created_at, record.updated_at,
                record.started_at, dumps(record.input), record.task_hash, dumps(record.phase_hashes),
                record.task_source, definition,
                None if record.agent_choices is None else dumps(record.agent_choices),
            )
        except unique_violation:
            raise StoreError(f"execution {record.id!r} already exists in the history") from None


_UPDATE_ROWS = """UPDATE executions x SET status = u.status, last_sequence = u.last_sequence,
    updated_at = u.updated_at, started_at = u.started_at, ended_at = u.ended_at,
    duration_ms = u.duration_ms, verdict = u.verdict, error = u.error, last_checkpoint = u.last_checkpoint,
    agent_choices = COALESCE(u.agent_choices, x.agent_choices)
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
            $8::text[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], $13::bigint[])
    AS u(id, status, last_sequence, updated_at, started_at, ended_at, duration_ms, verdict, error,
         last_checkpoint, agent_choices, epoch, previous)
WHERE x.id = u.id AND x.epoch = u.epoch AND x.last_sequence = u.previous
RETURNING x.id, x.last_sequence"""
_UPDATE_AND_NOTIFY = (
    f"WITH up AS ({_UPDATE_ROWS}) SELECT count(*), count(pg_notify($14, 'j ' || up.id || ':' ||"
    " up.last_sequence)) FROM up"
)
_UPDATE_QUIETLY = f"WITH up AS ({_UPDATE_ROWS}) SELECT count(*), 0 FROM up"
_EVENT_INSERT = (
    "INSERT INTO events (execution_id, sequence, type, timestamp, task, phase, step, agent, duration_ms,"
    " error, data, blobs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)


@dataclass(slots=True)
class _Staged:
    """What the accepted jobs of a batch write."""

    events: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    calls: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    checkpoints: list[tuple[str, int, str | None, int | None]] = dataclasses.field(default_factory=list)


async def append_batch(
    conn: Any, jobs: Sequence[AppendJob], *, threshold: int, channel: str | None, replay: bool = False
) -> list[BaseException | None]:
    """Write the jobs in the caller's transaction; per job, None or the error that refused it alone.

    ``replay``: the batch is tried again after a connection was lost mid-commit; a job whose events are
    already in the journal (that commit went through) is answered as written, not as a duplicate."""
    ids = sorted({e.execution_id for job in jobs for e in job.events})
    rows = await conn.fetch(
        f"SELECT id, {STATE_COLUMNS} FROM executions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", ids
    )
    current = {r[0]: state_from_row(r[0], r[1:]) for r in rows}
    locked = {eid: (s.epoch, s.last_sequence) for eid, s in current.items()}
    blobs, staged = BlobBatch(), _Staged()
    outcomes: list[BaseException | None] = []
    for job in jobs:
        if replay and await _already_written(conn, job.events):
            outcomes.append(None)
            continue
        try:
            states = _apply(job, current, blobs, staged, threshold)
        except (StoreError, LeaseLostError) as exc:
            outcomes.append(exc)
            continue
        current.update(states)
        outcomes.append(None)
    changed = [s for eid, s in current.items() if (s.epoch, s.last_sequence) != locked[eid]]
    if not changed:
        return outcomes
    await blobs.write(conn)
    await conn.executemany(_EVENT_INSERT, staged.events)
    if staged.calls:
        # A call run again (in flight at a crash, then recorded twice) keeps its latest answer.
        await conn.executemany(
            "INSERT INTO calls (execution_id, call_key, sequence) VALUES ($1, $2, $3)"
            " ON CONFLICT (execution_id, call_key) DO UPDATE SET sequence = EXCLUDED.sequence",
            staged.calls,
        )
    if staged.checkpoints:
        await conn.executemany(
            "INSERT INTO checkpoints (execution_id, sequence, phase, parent) VALUES ($1, $2, $3, $4)",
            staged.checkpoints,
        )
    columns: list[list[Any]] = [[] for _ in range(13)]
    for s in changed:
        values = (
            s.id, s.status, s.last_sequence, s.updated_at, s.started_at, s.ended_at, s.duration_ms,
            None if s.verdict is None else dumps(s.verdict), s.error, s.last_checkpoint,
            None if s.agent_choices is None else dumps(s.agent_choices), locked[s.id][0], locked[s.id][1],
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if channel is None:
        written, _ = await conn.fetchrow(_UPDATE_QUIETLY, *columns)
    else:
        written, _ = await conn.fetchrow(_UPDATE_AND_NOTIFY, *columns, channel)
    if written != len(changed):  # cannot happen under the row locks: refuse rather than guess
        raise StoreError(
            f"{len(changed) - written} execution row(s) changed under this append's lock; nothing was written"
        )
    return outcomes


def _apply(
    job: AppendJob, current: Mapping[str, RowState], blobs: BlobBatch, staged: _Staged, threshold: int
) -> dict[str, RowState]:
    """Fold one job into copies of the rows (so a refused job leaves nothing), staging its writes."""
    states: dict[str, RowState] = {}
    events: list[tuple[Any, ...]] = []
    calls: list[tuple[str, str, int]] = []
    checkpoints: list[tuple[str, int, str | None, int | None]] = []
    for event in job.events:
        eid = event.execution_id
        state = states.get(eid)
        if state is None:
            row = current.get(eid)
            if row is None:
                raise StoreError(
                    f"execution {eid!r} is not in the history: create_execution() must come before its "
                    "first event"
                )
            state = states[eid] = dataclasses.replace(row, agent_choices=None)
            check_epoch(state, job.epoch)
        parent = state.last_checkpoint or None
        apply_event(state, event)
        data, refs = (None, None) if not event.data else blobs.encode(event.type, event.data, threshold)
        events.append((
            eid, event.sequence, event.type, event.timestamp, event.task, event.phase, event.step,
            event.agent, event.duration_ms, event.error, data, refs,
        ))
        call = completed_call(event)
        if call is not None:
            calls.append((eid, call[0], event.sequence))
        if event.type == EventType.CHECKPOINT_CREATED:
            checkpoints.append((eid, event.sequence, event.phase, parent))
    for changed_id, state in states.items():
        if state.agent_choices is None:  # no event of this job changed them: keep the earlier job's
            state.agent_choices = current[changed_id].agent_choices
    staged.events += events
    staged.calls += calls
    staged.checkpoints += checkpoints
    return states


async def _already_written(conn: Any, events: Sequence[Event]) -> bool:
    keys = [(e.execution_id, e.sequence) for e in events]
    found = await conn.fetch(
        "SELECT e.execution_id, e.sequence, e.type, e.timestamp FROM events e"
        " JOIN unnest($1::text[], $2::bigint[]) AS k(id, seq)"
        " ON e.execution_id = k.id AND e.sequence = k.seq",
        [k[0] for k in keys], [k[1] for k in keys],
    )
    stored = {(r[0], r[1]): (r[2], r[3]) for r in found}
    return all(stored.get((e.execution_id, e.sequence)) == (e.type, e.timestamp) for e in events)


_LEASE_ROW = (
    "SELECT owner, epoch, lease_expires_at, recovery_attempts, status FROM executions WHERE id = $1"
    " FOR UPDATE"
)
_TAKE_LEASE = (
    "UPDATE executions SET owner = $2, epoch = $3, lease_expires_at = $4, recovery_attempts = $5"
    " WHERE id = $1"
)


async def acquire_lease(conn: Any, execution_id: str, owner: str, ttl_s: float) -> Lease | None:
    async with conn.transaction():
        row = await conn.fetchrow(_LEASE_ROW, execution_id)
        if row is None:
            raise ExecutionNotFoundError(execution_id)
        current, epoch, expires, attempts, status = row
        now = time.time()
        decision = lease_decision(status, current, expires, owner, now)
        if decision == "refuse":
            return None
        if decision == "takeover":
            attempts += 1
        await conn.execute(_TAKE_LEASE, execution_id, owner, epoch + 1, now + ttl_s, attempts)
    return Lease(execution_id=ExecutionId(execution_id), owner=owner, epoch=epoch + 1, expires_at=now + ttl_s)


async def claim_orphans(conn: Any, owner: str, ttl_s: float, limit: int) -> list[Lease]:
    """Take the leases of up to ``limit`` orphans at once. Rows another process is claiming right now
    are skipped (``FOR UPDATE SKIP LOCKED``), so several recoverers share the orphans out between them
    without waiting on each other, and never take the same one."""
    now = time.time()
    rows = await conn.fetch(
        "SELECT id, owner, lease_expires_at, status FROM executions WHERE status = ANY($1::text[])"
        " ORDER BY created_at, created_order",
        _ACTIVE,
    )
    # Whether an owner is dead is told here (its pid), not by SQL: choose the candidates first, then
    # lock only as many of them as are wanted, skipping those locked by another recoverer.
    candidates = [r[0] for r in rows if r[1] != owner and is_orphan(r[3], r[1], r[2], now)]
    if not candidates or limit <= 0:
        return []
    leases: list[Lease] = []
    async with conn.transaction():
        while candidates and len(leases) < limit:
            locked = await conn.fetch(
                "SELECT id, owner, epoch, lease_expires_at, recovery_attempts, status FROM executions"
                " WHERE id = ANY($1::text[]) ORDER BY created_at, created_order LIMIT $2"
                " FOR UPDATE SKIP LOCKED",
                candidates, limit - len(leases),
            )
            if not locked:
                break  # the rest is being claimed by other recoverers right now
            seen = {r[0] for r in locked}
            candidates = [c for c in candidates if c not in seen]
            now = time.time()
            for eid, current, epoch, expires, attempts, status in locked:
                if not is_orphan(status, current, expires, now):
                    continue  # taken (and committed) by another recoverer since the first look
                taken = attempts + (0 if current is None else 1)
                await conn.execute(_TAKE_LEASE, eid, owner, epoch + 1, now + ttl_s, taken)
                leases.append(
                    Lease(execution_id=ExecutionId(eid), owner=owner, epoch=epoch + 1, expires_at=now + ttl_s)
                )
    return leases


async def renew_lease(conn: Any, lease: Lease, ttl_s: float) -> Lease:
    expires = time.time() + ttl_s
    done = await conn.fetchval(
        "UPDATE executions SET lease_expires_at = $4 WHERE id = $1 AND owner = $2 AND epoch = $3 RETURNING 1",
        lease.execution_id, lease.owner, lease.epoch, expires,
    )
    if done is None:
        row = await conn.fetchrow("SELECT owner, epoch FROM executions WHERE id = $1", lease.execution_id)
        if row is None:
            raise ExecutionNotFoundError(lease.execution_id)
        raise LeaseLostError(
            f"execution {lease.execution_id!r}: the lease of {lease.owner} (epoch {lease.epoch}) was taken "
            f"over by {row[0]} (epoch {row[1]})"
        )
    return Lease(execution_id=lease.execution_id, owner=lease.owner, epoch=lease.epoch, expires_at=expires)


async def release_lease(conn: Any, lease: Lease) -> None:
    await conn.execute(
        "UPDATE executions SET owner = NULL, lease_expires_at = NULL"
        " WHERE id = $1 AND owner = $2 AND epoch = $3",
        lease.execution_id, lease.owner, lease.epoch,
    )


async def request_control(
    conn: Any, execution_id: str, action: ControlAction, reason: str, channel: str
) -> None:
    # One statement: refused (nothing inserted) unless the execution exists and has not ended; the
    # NOTIFY goes out when it commits.
    written = await conn.fetchval(
        "WITH ins AS (INSERT INTO control (execution_id, action, reason, created_at)"
        " SELECT id, $2, $3, $4 FROM executions WHERE id = $1 AND status <> ALL($5::text[]) RETURNING id)"
        " SELECT pg_notify($6, 'c ' || $1 || ':' || ins.id) IS NOT NULL FROM ins",
        execution_id, action, reason, time.time(), _TERMINAL, channel,
    )
    if written is None:
        status = await conn.fetchval("SELECT status FROM executions WHERE id = $1", execution_id)
        if status is None:
            raise ExecutionNotFoundError(execution_id)
        raise InvalidTransitionError(status, action)


async def pending_control_executions(conn: Any) -> list[str]:
    rows = await conn.fetch("SELECT DISTINCT execution_id FROM control WHERE taken_at IS NULL")
    return [r[0] for r in rows]


async def take_control_requests(conn: Any, execution_id: str) -> list[ControlRequest]:
    rows = await conn.fetch(
        "UPDATE control c SET taken_at = $2 FROM (SELECT id FROM control WHERE execution_id = $1 AND"
        " taken_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED) t WHERE c.id = t.id"
        " RETURNING c.id, c.action, c.reason, c.created_at",
        execution_id, time.time(),
    )
    return [
        ControlRequest(id=r[0], execution_id=ExecutionId(execution_id), action=r[1], reason=r[2],
                       created_at=r[3])
        for r in sorted(rows, key=lambda r: r[0])
    ]


async def prune(conn: Any, older_than_s: float | None, keep: int | None) -> int:
    async with conn.transaction():
        finished = await conn.fetch(
            "SELECT id, COALESCE(ended_at, updated_at) AS t FROM executions WHERE status = ANY($1::text[])"
            " ORDER BY t DESC, created_order DESC FOR UPDATE",
            _TERMINAL,
        )
        victims = select_pruned([(r[0], r[1]) for r in finished], older_than_s, keep, time.time())
        if not victims:
            return 0
        for table, column in (("events", "execution_id"), ("calls", "execution_id"),
                              ("checkpoints", "execution_id"), ("control", "execution_id"),
                              ("executions", "id")):
            await conn.execute(f"DELETE FROM {table} WHERE {column} = ANY($1::text[])", victims)
        await sweep(conn)
    return len(victims)
