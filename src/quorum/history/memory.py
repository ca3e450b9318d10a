"""MemoryHistoryStore: the journal in this process's memory (tests, scripts, runs that need no history).

It follows exactly the rules of the durable backends (:mod:`quorum.history._rules`) and passes the same
contract suite, so code tested against it behaves the same on SQLite. Nothing survives the process.

Events are not copied: each is kept as one tuple, its fields followed by its data's items (key, value,
key, value...) when the data is a dict or a read-only view of one, or by the data itself otherwise
(events are frozen, and their data must not be mutated afterwards). Readers get equal :class:`Event`
objects back, with read-only data. The tuple in place of the event and its dict is kept for what it
saves a journal held in memory (benchmarks/PROFILE.md, "Kept").
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from quorum.errors import ExecutionNotFoundError, InvalidTransitionError, LeaseLostError, StoreError
from quorum.events import Event
from quorum.history._rules import (
    RowState,
    apply_event,
    check_epoch,
    check_prune_options,
    completed_call,
    is_orphan,
    lease_at_creation,
    lease_decision,
    select_pruned,
)
from quorum.history.base import (
    EXECUTION_STATUSES,
    TERMINAL_STATUSES,
    ControlAction,
    ControlRequest,
    ExecutionRecord,
    HistoryStats,
    Lease,
)
from quorum.ids import ExecutionId

__all__ = ("MemoryHistoryStore",)


_Row = tuple[Any, ...]
_ITEMS = None
"""Stands at index 9 of a row whose data was a dict: its items follow, as key, value, key, value..."""


def _row(e: Event) -> _Row:
    # Not the execution id: the row sits in its execution's entry.
    head = (e.type, e.sequence, e.timestamp, e.task, e.phase, e.step, e.agent, e.duration_ms, e.error)
    if isinstance(e.data, dict | MappingProxyType):
        return (*head, _ITEMS, *itertools.chain.from_iterable(e.data.items()))
    return (*head, e.data)


def _event(execution_id: ExecutionId, r: _Row) -> Event:
    data = r[9]
    if data is _ITEMS:
        data = MappingProxyType(dict(zip(r[10::2], r[11::2], strict=True)))
    return Event(type=r[0], execution_id=execution_id, sequence=r[1], timestamp=r[2], task=r[3], phase=r[4],
                 step=r[5], agent=r[6], duration_ms=r[7], error=r[8], data=data)


@dataclass(slots=True, kw_only=True)
class _Entry:
    record: ExecutionRecord
    """The fields fixed at creation (task, input, hashes, ...)."""
    state: RowState
    events: list[_Row] = field(default_factory=list)
    """The journal: event n (its fields, see :func:`_row`) at index n - 1."""
    calls: dict[str, int] = field(default_factory=dict)
    """call key -> the sequence of the ``agent:response`` event that completed it (its answer is read
    from the journal when asked for)."""
    owner: str | None = None
    lease_expires_at: float | None = None
    recovery_attempts: int = 0
    controls: list[ControlRequest] = field(default_factory=list)

    def to_record(self) -> ExecutionRecord:
        s = self.state
        return dataclasses.replace(
            self.record,
            status=s.status,
            updated_at=s.updated_at,
            started_at=s.started_at,
            ended_at=s.ended_at,
            duration_ms=s.duration_ms,
            verdict=s.verdict,
            error=s.error,
            agent_choices=self.record.agent_choices if s.agent_choices is None else s.agent_choices,
            last_sequence=s.last_sequence,
            owner=self.owner,
            epoch=s.epoch,
            lease_expires_at=self.lease_expires_at,
            recovery_attempts=self.recovery_attempts,
        )


class MemoryHistoryStore:
    """A :class:`~quorum.history.base.HistoryStore` kept in memory; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._control_ids = itertools.count(1)

    async def __aenter__(self) -> MemoryHistoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Nothing to create."""

    async def close(self) -> None:
        """Nothing to flush; the data stays readable until the store is dropped."""

    async def create_execution(
        self, record: ExecutionRecord, *, owner: str | None = None, ttl_s: float | None = None
    ) -> Lease | None:
        if record.status not in EXECUTION_STATUSES:
            raise StoreError(f"execution {record.id!r}: unknown status {record.status!r}")
        lease = lease_at_creation(record.id, owner, ttl_s, time.time())
        state = RowState(
            id=record.id,
            status=record.status,
            last_sequence=0,
            updated_at=record.updated_at,
            started_at=record.started_at,
            epoch=0 if lease is None else lease.epoch,
        )
        with self._lock:
            if record.id in self._entries:
                raise StoreError(f"execution {record.id!r} already exists in the history")
            self._entries[record.id] = _Entry(
                record=record, state=state, owner=owner,
                lease_expires_at=None if lease is None else lease.expires_at,
            )
        return lease

    async def append(self, events: Sequence[Event], *, epoch: int | None = None) -> None:
        with self._lock:
            # Fold into copies first, so that a refused batch leaves nothing behind (all or nothing).
            staged: dict[str, RowState] = {}
            for event in events:
                state = staged.get(event.execution_id)
                if state is None:
                    entry = self._entry(event.execution_id, StoreError)
                    state = staged[event.execution_id] = dataclasses.replace(entry.state)
                    check_epoch(state, epoch)
                apply_event(state, event)
            for event in events:
                entry = self._entries[event.execution_id]
                entry.events.append(_row(event))
                call = completed_call(event)
                if call is not None:
                    entry.calls[call[0]] = event.sequence
            for eid, state in staged.items():
                entry = self._entries[eid]
                entry.state = state
                if state.status in TERMINAL_STATUSES:
                    entry.owner = entry.lease_expires_at = None  # an ended execution has no owner

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        with self._lock:
            entry = self._entries.get(execution_id)
            return None if entry is None else entry.to_record()

    async def list_executions(
        self,
        *,
        limit: int = 10,
        status: str | None = None,
        task: str | None = None,
        task_version: str | None = None,
        parent_id: str | None = None,
    ) -> list[ExecutionRecord]:
        with self._lock:
            chosen = [
                e
                for e in self._entries.values()
                if (status is None or e.state.status == status)
                and (task is None or e.record.task == task)
                and (task_version is None or e.record.task_version == task_version)
                and (parent_id is None or e.record.parent_id == parent_id)
            ]
        # Newest first; creation order breaks ties (dicts keep insertion order, sorted() is stable).
        chosen.reverse()
        chosen.sort(key=lambda e: e.record.created_at, reverse=True)
        # Light records, as every backend returns them: the definition only from get_execution.
        return [dataclasses.replace(e.to_record(), task_definition=None) for e in chosen[: max(limit, 0)]]

    async def read_journal(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        with self._lock:
            entry = self._entries.get(execution_id)
            if entry is None:
                return []
            # Sequences are gap-free from 1, so event n sits at index n - 1.
            start = max(after, 0)
            stop = len(entry.events) if limit is None else start + max(limit, 0)
            rows = entry.events[start:stop]
            eid = entry.record.id
        return [_event(eid, r) for r in rows]

    async def completed_calls(self, execution_id: str) -> Mapping[str, Mapping[str, Any]]:
        with self._lock:
            entry = self._entries.get(execution_id)
            if entry is None:
                return {}
            rows = entry.events
            found = {key: rows[sequence - 1] for key, sequence in entry.calls.items()}
            eid = entry.record.id
        return {key: _as_mapping(_event(eid, row).data["response"]) for key, row in found.items()}

    async def latest_checkpoint(self, execution_id: str) -> Event | None:
        with self._lock:
            entry = self._entries.get(execution_id)
            if entry is None or entry.state.last_checkpoint == 0:
                return None
            row = entry.events[entry.state.last_checkpoint - 1]
            eid = entry.record.id
        return _event(eid, row)

    async def acquire_lease(self, execution_id: str, owner: str, *, ttl_s: float) -> Lease | None:
        now = time.time()
        with self._lock:
            entry = self._entry(execution_id, ExecutionNotFoundError)
            decision = lease_decision(entry.state.status, entry.owner, entry.lease_expires_at, owner, now)
            if decision == "refuse":
                return None
            if decision == "takeover":
                entry.recovery_attempts += 1
            entry.state.epoch += 1
            entry.owner = owner
            entry.lease_expires_at = now + ttl_s
            return Lease(
                execution_id=ExecutionId(execution_id), owner=owner, epoch=entry.state.epoch,
                expires_at=entry.lease_expires_at,
            )

    async def renew_lease(self, lease: Lease, *, ttl_s: float) -> Lease:
        with self._lock:
            entry = self._entry(lease.execution_id, ExecutionNotFoundError)
            if entry.owner != lease.owner or entry.state.epoch != lease.epoch:
                raise LeaseLostError(
                    f"execution {lease.execution_id!r}: the lease of {lease.owner} (epoch {lease.epoch}) was "
                    f"taken over by {entry.owner} (epoch {entry.state.epoch})"
                )
            entry.lease_expires_at = time.time() + ttl_s
            return dataclasses.replace(lease, expires_at=entry.lease_expires_at)

    async def release_lease(self, lease: Lease) -> None:
        with self._lock:
            entry = self._entries.get(lease.execution_id)
            if entry is not None and entry.owner == lease.owner and entry.state.epoch == lease.epoch:
                entry.owner = None
                entry.lease_expires_at = None

    async def request_control(self, execution_id: str, action: ControlAction, reason: str = "") -> None:
        with self._lock:
            entry = self._entry(execution_id, ExecutionNotFoundError)
            if entry.state.status in TERMINAL_STATUSES:
                raise InvalidTransitionError(entry.state.status, action)
            entry.controls.append(
                ControlRequest(
                    id=next(self._control_ids), execution_id=ExecutionId(execution_id), action=action,
                    reason=reason, created_at=time.time(),
                )
            )

    async def take_control_requests(self, execution_id: str) -> list[ControlRequest]:
        with self._lock:
            entry = self._entries.get(execution_id)
            if entry is None:
                return []
            taken, entry.controls = entry.controls, []
            return taken

    async def list_orphans(self) -> list[ExecutionRecord]:
        now = time.time()
        with self._lock:
            entries = list(self._entries.values())
        orphans = [e for e in entries if is_orphan(e.state.status, e.owner, e.lease_expires_at, now)]
        orphans.sort(key=lambda e: e.record.created_at)
        return [dataclasses.replace(e.to_record(), task_definition=None) for e in orphans]

    async def prune(self, *, older_than_s: float | None = None, keep: int | None = None) -> int:
        check_prune_options(older_than_s, keep)
        with self._lock:
            finished = [
                (eid, e.state.ended_at or e.state.updated_at)
                for eid, e in self._entries.items()
                if e.state.status in TERMINAL_STATUSES
            ]
            finished.reverse()
            finished.sort(key=lambda item: item[1], reverse=True)
            victims = select_pruned(finished, older_than_s, keep, time.time())
            for eid in victims:
                del self._entries[eid]
            return len(victims)

    async def stats(self) -> HistoryStats:
        with self._lock:
            entries = list(self._entries.values())
        by_status: dict[str, int] = {}
        for e in entries:
            by_status[e.state.status] = by_status.get(e.state.status, 0) + 1
        return HistoryStats(
            executions=len(entries),
            by_status=by_status,
            events=sum(len(e.events) for e in entries),
            agent_calls=sum(len(e.calls) for e in entries),
            bytes=None,
        )

    def _entry(self, execution_id: str, error: type[StoreError] | type[ExecutionNotFoundError]) -> _Entry:
        entry = self._entries.get(execution_id)
        if entry is None:
            if error is ExecutionNotFoundError:
                raise ExecutionNotFoundError(execution_id)
            raise StoreError(
                f"execution {execution_id!r} is not in the history: create_execution() must come before "
                "its first event"
            )
        return entry


def _as_mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, Mapping):
            return result
    return {"value": value}
