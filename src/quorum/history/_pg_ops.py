"""The PostgreSQL store's writes besides the journal (:mod:`._pg_append`): executions, leases, control
requests, retention — SQL over one asyncpg connection, with the rules of :mod:`._rules` (shared with
every backend).

Each function takes the connection first and knows nothing of pools, retries or batching
(:mod:`.postgres` does that). What differs from SQLite is only what the database does differently:
compare-and-swap ``UPDATE … WHERE`` instead of a write lock held by one writer, ``SKIP LOCKED`` among
recoverers, ``NOTIFY`` in the writing statement, ``RETURNING``.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any, Final

from quorum.errors import ExecutionNotFoundError, InvalidTransitionError, LeaseLostError, StoreError
from quorum.history._blobs import dumps
from quorum.history._pg_blobs import BLOB_LOCK, BlobBatch, sweep
from quorum.history._rules import (
    is_orphan,
    lease_at_creation,
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
    "acquire_lease",
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


# -- writes ------------------------------------------------------------------------------------------------


_CREATE = f"""WITH lk AS MATERIALIZED (
    SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock_shared(hashtextextended('{BLOB_LOCK}', 0))) s
    WHERE $12::text IS NOT NULL
), bl AS (
    INSERT INTO blobs (hash, size, codec, content, refs)
    SELECT $12, $13::int, $14::text, $15::bytea, $16::text FROM lk ON CONFLICT (hash) DO NOTHING
)
INSERT INTO executions (id, task, status, created_at, updated_at, started_at, input, task_hash,
                        phase_hashes, task_source, task_definition, agent_choices, task_version, parent_id,
                        owner, epoch, lease_expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12, $11, $17, $18, $19, $20, $21)"""
"""One statement (one round trip): the definition's blob, under the blobs' shared lock, and the row
(with its first lease when it has an owner)."""


async def create_execution(
    conn: Any, record: ExecutionRecord, owner: str | None, ttl_s: float | None,
    unique_violation: type[Exception],
) -> Lease | None:
    if record.status not in EXECUTION_STATUSES:
        raise StoreError(f"execution {record.id!r}: unknown status {record.status!r}")
    lease = lease_at_creation(record.id, owner, ttl_s, time.time())
    blob: tuple[Any, ...] = (None, None, None, None, None)
    if record.task_definition is not None:
        blobs = BlobBatch()
        blobs.put_value(record.task_definition)
        [blob] = blobs.rows.values()
    try:
        await conn.execute(
            _CREATE,
            record.id, record.task, record.status, record.created_at, record.updated_at, record.started_at,
            dumps(record.input), record.task_hash, dumps(record.phase_hashes), record.task_source,
            None if record.agent_choices is None else dumps(record.agent_choices), *blob,
            record.task_version, record.parent_id, owner, 0 if lease is None else lease.epoch,
            None if lease is None else lease.expires_at,
        )
    except unique_violation:
        raise StoreError(f"execution {record.id!r} already exists in the history") from None
    return lease


_LEASE_ROW = "SELECT owner, epoch, lease_expires_at, recovery_attempts, status FROM executions WHERE id = $1"
_SWAP_LEASE = (
    "UPDATE executions SET owner = $2, epoch = $3, lease_expires_at = $4, recovery_attempts = $5"
    " WHERE id = $1 AND epoch = $6 AND owner IS NOT DISTINCT FROM $7 AND status = $8 RETURNING 1"
)
_TAKE_LEASE = (
    "UPDATE executions SET owner = $2, epoch = $3, lease_expires_at = $4, recovery_attempts = $5"
    " WHERE id = $1"
)


_TAKE_FREE_LEASE = f"""UPDATE executions SET owner = $2, epoch = epoch + 1, lease_expires_at = $3 + $4,
    recovery_attempts = recovery_attempts
        + CASE WHEN owner IS NOT NULL AND owner <> $2 THEN 1 ELSE 0 END
WHERE id = $1 AND status NOT IN ({", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES))})
    AND (owner IS NULL OR owner = $2 OR lease_expires_at <= $3)
RETURNING epoch, lease_expires_at"""
"""The common case in one round trip: a lease free, ours, or expired (the rules of ``lease_decision``,
which also counts taking an expired lease from another owner as a recovery attempt)."""


async def acquire_lease(conn: Any, execution_id: str, owner: str, ttl_s: float) -> Lease | None:
    taken = await conn.fetchrow(_TAKE_FREE_LEASE, execution_id, owner, time.time(), ttl_s)
    if taken is not None:
        return Lease(execution_id=ExecutionId(execution_id), owner=owner, epoch=taken[0], expires_at=taken[1])
    # Held by another owner (is it dead? told here, by its pid, not by SQL), ended, or unknown: compare
    # and swap — read, decide, then write only if the row is still as read; else read again.
    while True:
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
        taken = await conn.fetchval(_SWAP_LEASE, execution_id, owner, epoch + 1, now + ttl_s, attempts, epoch,
                                    current, status)
        if taken is not None:
            return Lease(execution_id=ExecutionId(execution_id), owner=owner, epoch=epoch + 1,
                         expires_at=now + ttl_s)


async def claim_orphans(
    conn: Any, owner: str, ttl_s: float, limit: int, statuses: Collection[str] | None = None,
    exclude: Collection[str] = (),
) -> list[Lease]:
    """Take the leases of up to ``limit`` orphans at once (of ``statuses`` only, when given; never those
    in ``exclude``). Rows another process is claiming right now are skipped (``FOR UPDATE SKIP
    LOCKED``), so several recoverers share the orphans out between them without waiting on each other,
    and never take the same one."""
    now = time.time()
    wanted = _ACTIVE if statuses is None else sorted(set(_ACTIVE) & set(statuses))
    rows = await conn.fetch(
        "SELECT id, owner, lease_expires_at, status FROM executions WHERE status = ANY($1::text[])"
        " ORDER BY created_at, created_order",
        wanted,
    )
    # Whether an owner is dead is told here (its pid), not by SQL: choose the candidates first, then
    # lock only as many of them as are wanted, skipping those locked by another recoverer.
    skip = frozenset(exclude)
    candidates = [r[0] for r in rows
                  if r[1] != owner and r[0] not in skip and is_orphan(r[3], r[1], r[2], now)]
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
