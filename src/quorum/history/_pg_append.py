"""The PostgreSQL journal append: a whole batch of appends in ONE statement, fenced, with its NOTIFYs.

Why one statement: each round trip to the server costs more than the work of a typical batch, so the
batch (every execution's events, their completed calls, checkpoints and blobs, the updated rows) goes
in one ``WITH … INSERT … UPDATE … SELECT`` statement, which PostgreSQL runs as one atomic transaction.

How the rules are kept without a lock held across round trips: the rows (what appending changes, see
:class:`~quorum.history._rules.RowState`) are cached by the store that writes them — usually the only
writer of its executions — and read again from the database when missing. The rules are applied in
Python against that state; the statement's ``UPDATE`` is **fenced**: it writes a row only ``WHERE`` its
``epoch`` and ``last_sequence`` are still those the rules were checked against, and when fewer rows
than expected matched, the statement raises (``quorum_refuse``, migration 4), so nothing of it is
written. Another process that took the lease (a new epoch) or wrote to the journal is therefore never
overwritten: the batch reads the rows again and applies the rules to what is really there, which
refuses a stale writer with :class:`~quorum.errors.LeaseLostError`, as the other backends do. A
duplicate sequence written concurrently fails the events' primary key: the same re-read follows.

A job (one ``append`` call) that breaks a rule is refused alone; the others of the batch are written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from quorum.errors import LeaseLostError, StoreError
from quorum.events import Event, EventType
from quorum.history._blobs import dumps
from quorum.history._pg_blobs import BLOB_LOCK, BlobBatch
from quorum.history._rows import STATE_COLUMNS, state_from_row
from quorum.history._rules import RowState, apply_event, check_epoch, completed_call
from quorum.history.base import TERMINAL_STATUSES

__all__ = ("FENCE_SQLSTATE", "AppendJob", "StateCache", "append_batch")

FENCE_SQLSTATE: Final = "QR001"
"""Raised by ``quorum_refuse``: a row changed since the rules were checked (nothing was written)."""
_ATTEMPTS: Final = 3
_CACHE_MAX: Final = 50_000


@dataclass(frozen=True, slots=True)
class AppendJob:
    """One ``append`` call: its events (one or more executions) and the epoch it is fenced by."""

    events: tuple[Event, ...]
    epoch: int | None


class StateCache:
    """The rows this store last wrote or read, by execution id (ended executions are dropped).

    ``ended``: the executions whose end this store wrote, with the lease epoch they ended under — that
    write ended the lease too, so releasing it needs no round trip."""

    __slots__ = ("ended", "rows")

    def __init__(self) -> None:
        self.rows: dict[str, RowState] = {}
        self.ended: dict[str, int] = {}

    def forget(self, execution_id: str) -> None:
        """Read the row again next time (a lease taken or released here changes its epoch)."""
        self.rows.pop(execution_id, None)

    def keep(self, states: Mapping[str, RowState]) -> None:
        if len(self.rows) > _CACHE_MAX:
            self.rows.clear()
        if len(self.ended) > _CACHE_MAX:
            self.ended.clear()  # a release not known here to be done is only one more round trip
        for eid, state in states.items():
            if state.status in TERMINAL_STATUSES:
                self.rows.pop(eid, None)  # nothing can be appended any more: no need to remember it
                self.ended[eid] = state.epoch
            else:
                self.rows[eid] = state


@dataclass(slots=True)
class _Staged:
    """What the accepted jobs of a batch write."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    calls: dict[tuple[str, str], int] = field(default_factory=dict)
    checkpoints: list[tuple[str, int, str | None, int | None]] = field(default_factory=list)


_ENDED: Final = ", ".join(f"'{status}'" for status in sorted(TERMINAL_STATUSES))
"""The event that ends an execution ends its lease in the same UPDATE (nothing is left to drive)."""

_WRITE = f"""WITH lk AS MATERIALIZED (
    SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock_shared(hashtextextended('{BLOB_LOCK}', 0))) s
    WHERE cardinality($1::blobs[]) > 0
), bl AS (
    INSERT INTO blobs SELECT b.* FROM lk, unnest($1::blobs[]) AS b ON CONFLICT (hash) DO NOTHING
), ev AS (
    INSERT INTO events SELECT * FROM unnest($2::events[])
), ca AS (
    INSERT INTO calls SELECT * FROM unnest($3::calls[])
    ON CONFLICT (execution_id, call_key) DO UPDATE SET sequence = EXCLUDED.sequence
), cp AS (
    INSERT INTO checkpoints SELECT * FROM unnest($4::checkpoints[])
), up AS (
    UPDATE executions x SET status = u.status, last_sequence = u.last_sequence,
        updated_at = u.updated_at, started_at = u.started_at, ended_at = u.ended_at,
        duration_ms = u.duration_ms, verdict = u.verdict, error = u.error,
        last_checkpoint = u.last_checkpoint, agent_choices = COALESCE(u.agent_choices, x.agent_choices),
        owner = CASE WHEN u.status IN ({_ENDED}) THEN NULL ELSE x.owner END,
        lease_expires_at = CASE WHEN u.status IN ({_ENDED}) THEN NULL ELSE x.lease_expires_at END
    FROM unnest($5::text[], $6::text[], $7::bigint[], $8::float8[], $9::float8[], $10::float8[],
                $11::float8[], $12::text[], $13::text[], $14::bigint[], $15::text[], $16::bigint[],
                $17::bigint[])
        AS u(id, status, last_sequence, updated_at, started_at, ended_at, duration_ms, verdict, error,
             last_checkpoint, agent_choices, epoch, previous)
    WHERE x.id = u.id AND x.epoch = u.epoch AND x.last_sequence = u.previous
    RETURNING x.id, x.last_sequence
)
SELECT CASE WHEN count(*) = cardinality($5::text[])
            THEN count(CASE WHEN $18::text IS NOT NULL
                       THEN pg_notify($18, 'j ' || up.id || ':' || up.last_sequence) END)
            ELSE quorum_refuse('an execution row changed since it was read') END
FROM up"""
"""The blobs, events, calls and checkpoints go as arrays of their tables' row types, one tuple per row
in the table's column order (:mod:`._pg_schema`): asyncpg encodes a tuple per row far cheaper than a
list per column (it inspects every element of an array parameter: 900 of them for a committee's 75
events in twelve columns, 75 as rows). The few updated rows stay as columns: their type is no table's.
"""


async def append_batch(
    conn: Any,
    jobs: Sequence[AppendJob],
    *,
    cache: StateCache,
    threshold: int,
    channel: str | None,
    is_stale: Callable[[BaseException], bool],
    replay: bool = False,
) -> list[BaseException | None]:
    """Write the jobs; per job, None or the error that refused it alone.

    ``is_stale``: tells the driver's errors that mean "the rows changed under us" (the fence, a
    duplicate key): the rows are read again and the rules applied again. ``replay``: the batch is
    tried again after a connection was lost mid-commit; a job whose events are already in the journal
    (that commit went through) is answered as written, not as a duplicate."""
    ids = sorted({e.execution_id for job in jobs for e in job.events})
    if replay:
        for eid in ids:
            cache.forget(eid)
    for attempt in range(_ATTEMPTS):
        await _load(conn, cache, [eid for eid in ids if eid not in cache.rows])
        current: dict[str, RowState] = {eid: cache.rows[eid] for eid in ids if eid in cache.rows}
        before = {eid: (s.epoch, s.last_sequence) for eid, s in current.items()}
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
        changed = {eid: current[eid] for eid in before if (current[eid].epoch, current[eid].last_sequence)
                   != before[eid]}
        if not changed:
            return outcomes
        try:
            await conn.fetchval(_WRITE, *_arguments(blobs, staged, changed, before, channel))
        except Exception as exc:
            if not is_stale(exc):
                raise
            for eid in ids:
                cache.forget(eid)
            if attempt + 1 == _ATTEMPTS:
                raise
            continue
        cache.keep(changed)
        return outcomes
    raise AssertionError("unreachable")


async def _load(conn: Any, cache: StateCache, ids: list[str]) -> None:
    if not ids:
        return
    rows = await conn.fetch(f"SELECT id, {STATE_COLUMNS} FROM executions WHERE id = ANY($1::text[])", ids)
    for r in rows:
        cache.rows[r[0]] = state_from_row(r[0], r[1:])


def _arguments(
    blobs: BlobBatch, staged: _Staged, changed: Mapping[str, RowState],
    before: Mapping[str, tuple[int, int]], channel: str | None,
) -> list[Any]:
    calls = [(eid, key, seq) for (eid, key), seq in staged.calls.items()]
    rows = [
        (s.id, s.status, s.last_sequence, s.updated_at, s.started_at, s.ended_at, s.duration_ms,
         None if s.verdict is None else dumps(s.verdict), s.error, s.last_checkpoint,
         None if s.agent_choices is None else dumps(s.agent_choices), before[s.id][0], before[s.id][1])
        for s in changed.values()
    ]
    return [
        list(blobs.rows.values()), staged.events, calls, staged.checkpoints, *_columns(rows, 13), channel,
    ]


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows to one list per column (what ``unnest`` takes), ``width`` lists even when there are none."""
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _apply(
    job: AppendJob, current: MutableMapping[str, RowState], blobs: BlobBatch, staged: _Staged,
    threshold: int,
) -> dict[str, RowState]:
    """Fold one job into copies of the rows (so a refused job leaves nothing), staging its writes."""
    states: dict[str, RowState] = {}
    events: list[tuple[Any, ...]] = []
    calls: list[tuple[tuple[str, str], int]] = []
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
            state = states[eid] = dataclasses.replace(row)
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
            calls.append(((eid, call[0]), event.sequence))
        if event.type == EventType.CHECKPOINT_CREATED:
            checkpoints.append((eid, event.sequence, event.phase, parent))
    staged.events += events
    staged.calls.update(calls)  # a call recorded twice keeps its latest answer (one row per key)
    staged.checkpoints += checkpoints
    return states


async def _already_written(conn: Any, events: Sequence[Event]) -> bool:
    found = await conn.fetch(
        "SELECT e.execution_id, e.sequence, e.type, e.timestamp FROM events e"
        " JOIN unnest($1::text[], $2::bigint[]) AS k(id, seq)"
        " ON e.execution_id = k.id AND e.sequence = k.seq",
        [e.execution_id for e in events], [e.sequence for e in events],
    )
    stored = {(r[0], r[1]): (r[2], r[3]) for r in found}
    return all(stored.get((e.execution_id, e.sequence)) == (e.type, e.timestamp) for e in events)
