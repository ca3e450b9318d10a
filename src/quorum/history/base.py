"""The HistoryStore interface: an append-only journal of events per execution, plus what is derived.

The engine writes *events* (see :mod:`quorum.events`); a store persists them in order, with a gap-free
``sequence`` per execution, and derives from them what queries need (the execution row, completed agent
calls keyed by :class:`~quorum.agents.protocol.CallKey`, checkpoints). Every backend (memory, SQLite,
later PostgreSQL) passes one contract test suite (``tests/history/test_contract.py``).

Ownership is fenced: a process that drives an execution holds a lease with an ``epoch``; ``append`` with
a stale epoch raises :class:`~quorum.errors.LeaseLostError`.

A backend that can tell other processes about changes as they happen (PostgreSQL's LISTEN/NOTIFY)
also implements the optional :class:`ChangeFeed`; callers test for it with ``isinstance`` and keep
polling as their fallback (memory and SQLite do not implement it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from quorum.definition.model import frozen_mapping
from quorum.events import Event
from quorum.ids import ExecutionId

__all__ = (
    "ACTIVE_STATUSES",
    "EXECUTION_STATUSES",
    "TERMINAL_STATUSES",
    "ChangeFeed",
    "ChangeKind",
    "ControlAction",
    "ControlRequest",
    "ExecutionRecord",
    "HistoryStats",
    "HistoryStore",
    "Lease",
)

ControlAction = Literal["pause", "resume", "abort", "decide"]
ChangeKind = Literal["journal", "control"]
"""What a :class:`ChangeFeed` reports: a journal that grew, or a control request made."""
"""``decide`` carries an approval decision (``Decision.to_request()``, JSON) in the request's ``reason``."""

EXECUTION_STATUSES: frozenset[str] = frozenset(
    {"pending", "running", "paused", "waiting", "completed", "failed", "aborted", "timeout"}
)
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "aborted", "timeout"})
"""Final outcomes: recorded once; an execution in one of these is never driven again."""
ACTIVE_STATUSES: frozenset[str] = frozenset({"running", "paused", "waiting"})
"""Statuses that need an owner; such an execution whose owner is gone is an orphan."""

_EMPTY: Mapping[str, Any] = frozen_mapping()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionRecord:
    """The summary row of one execution (derived from its journal)."""

    id: ExecutionId
    task: str
    status: str
    """pending | running | paused | completed | failed | aborted | timeout"""
    created_at: float
    updated_at: float
    started_at: float | None = None
    ended_at: float | None = None
    duration_ms: float | None = None
    input: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    task_hash: str = ""
    task_version: str = ""
    """The ``version`` of the task definition the execution runs (``Task.version``); "" when unknown
    (recorded before versions were kept)."""
    parent_id: ExecutionId | None = None
    """The execution that started this one as a child (a ``task:`` step); None for a top-level one."""
    phase_hashes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    task_source: str | None = None
    task_definition: Mapping[str, Any] | None = None
    """The task as ``Task.to_dict()``, kept with the row (durable with ``create_execution``), so that an
    execution can be resumed even when its first event never became durable. Returned by
    ``get_execution``; ``list_executions`` and ``list_orphans`` leave it None to stay light. The SQLite
    store keeps one copy per distinct definition."""
    agent_choices: Mapping[str, Any] | None = None
    """What the agents were built with besides their files (``AgentChoices.to_dict()``: model overrides,
    base URLs; never an API key), so that a resume or a recovery builds the same agents. Set at creation;
    an ``execution:resumed`` event whose data holds ``agent_choices`` (a resume with another ``--model``)
    replaces it. None for an execution recorded without them."""
    verdict: Mapping[str, Any] | None = None
    error: str | None = None
    last_sequence: int = 0
    owner: str | None = None
    epoch: int = 0
    lease_expires_at: float | None = None
    recovery_attempts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    execution_id: ExecutionId
    owner: str
    """``host:pid:nonce`` of the process that drives the execution."""
    epoch: int
    expires_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlRequest:
    """A pause/resume/abort asked for by another process (the CLI), to be picked up by the owner."""

    id: int
    execution_id: ExecutionId
    action: ControlAction
    reason: str = ""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryStats:
    executions: int = 0
    by_status: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    events: int = 0
    agent_calls: int = 0
    bytes: int | None = None


@runtime_checkable
class HistoryStore(Protocol):
    """Narrow async interface implemented by every backend."""

    async def open(self) -> None:
        """Create or migrate the storage. Idempotent."""

    async def close(self) -> None:
        """Flush pending writes and release resources. Idempotent."""

    async def create_execution(
        self, record: ExecutionRecord, *, owner: str | None = None, ttl_s: float | None = None
    ) -> Lease | None:
        """Register a new execution (status ``pending``) before its first event.

        With ``owner`` (and ``ttl_s``), the execution is created already leased to it (epoch 1) in the
        same write, and that lease is returned: a new execution is never seen without its owner, so a
        recoverer in another process cannot take it for an orphan between two writes, and starting an
        execution costs one write, not two. Without ``owner``: None, and the execution is free."""

    async def append(self, events: Sequence[Event], *, epoch: int | None = None) -> None:
        """Persist events in order. Each execution's sequences must continue its journal without a gap;
        events of several executions may be mixed. Durable when the call returns (group commit allowed).
        ``execution:*`` events update the execution row; ``agent:response`` events whose ``data`` holds
        ``call_key`` record a completed call; ``checkpoint:created`` events record a checkpoint.
        With ``epoch`` given, refuse (LeaseLostError) if the execution's lease epoch differs.
        The event that ends an execution also ends its lease (no owner, no expiry) in the same write: an
        ended execution has nothing left to drive, and ``release_lease`` after it changes nothing.
        StoreError (nothing of the call written) for a gap, a duplicate, an unknown execution, or any
        event after the final outcome (the journal of an ended execution is closed)."""

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None: ...

    async def list_executions(
        self,
        *,
        limit: int = 10,
        status: str | None = None,
        task: str | None = None,
        task_version: str | None = None,
        parent_id: str | None = None,
    ) -> list[ExecutionRecord]:
        """Newest first. Each filter given must match exactly (``task_version`` the recorded version,
        ``parent_id`` the parent's id: the children of that execution)."""

    async def read_journal(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Events with ``sequence > after``, in order (for replay, audit and live tailing)."""

    async def completed_calls(self, execution_id: str) -> Mapping[str, Mapping[str, Any]]:
        """``str(CallKey)`` -> the recorded response dict of every completed agent call."""

    async def latest_checkpoint(self, execution_id: str) -> Event | None:
        """The newest ``checkpoint:created`` event (its ``data`` holds the snapshot)."""

    async def acquire_lease(self, execution_id: str, owner: str, *, ttl_s: float) -> Lease | None:
        """Take ownership if free, expired, or already ours; bump the epoch. None if held by another.

        Also free: held by a process of this host that no longer exists. Also None: the execution has
        ended (nothing to drive; a caller that read it as running must re-read, not start)."""

    async def renew_lease(self, lease: Lease, *, ttl_s: float) -> Lease:
        """Extend; LeaseLostError if someone else took it."""

    async def release_lease(self, lease: Lease) -> None: ...

    async def request_control(self, execution_id: str, action: ControlAction, reason: str = "") -> None:
        """Ask the owner of a running execution to pause, resume or abort it (cross-process)."""

    async def take_control_requests(self, execution_id: str) -> list[ControlRequest]:
        """Pending control requests, oldest first, marked as taken."""

    async def list_orphans(self) -> list[ExecutionRecord]:
        """Executions still running/paused whose owner is gone (dead pid on this host, or lease expired)."""

    async def prune(self, *, older_than_s: float | None = None, keep: int | None = None) -> int:
        """Delete finished executions; returns how many were deleted."""

    async def stats(self) -> HistoryStats: ...


@runtime_checkable
class ChangeFeed(Protocol):
    """Optional capability of a store: be told of changes made by any process, as they commit.

    ``await feed.watch(on_change)`` runs until it is cancelled (or the store closes) and calls
    ``on_change(execution_id, number)`` on the event loop for each change:

    - ``kind="journal"`` (default): an execution's journal grew; ``number`` is its new last sequence
      (read the new events with ``read_journal(execution_id, after=<the last one you saw>)``).
    - ``kind="control"``: a control request (pause, resume, abort, decide) was made for the execution;
      ``number`` is the request's id (take it with ``take_control_requests``).

    ``execution_id`` given: only that execution's changes (cheap however many executions watch).
    ``on_change`` must not block (schedule work, do not do it there). Changes made while the feed was
    disconnected are not reported, so a watcher also polls, less often: the feed makes it fast, the
    poll makes it sure. Implemented by the PostgreSQL store (LISTEN/NOTIFY)."""

    async def watch(
        self,
        on_change: Callable[[str, int], None],
        *,
        kind: ChangeKind = "journal",
        execution_id: str | None = None,
    ) -> None: ...
