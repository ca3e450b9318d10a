"""The journal's rules, shared by every backend so that they cannot drift apart.

- Sequences: each execution's events continue its journal at ``last_sequence + 1`` with no gap and
  no duplicate.
- The execution row follows the ``execution:*`` events (:data:`STATUS_OF_EVENT`); once a final outcome
  (completed, failed, aborted, timeout) is recorded the journal is closed: no further event is
  accepted, so the outcome is recorded exactly once and a late (zombie) driver cannot add to it.
- ``approval:requested`` / ``approval:decided`` carry the status after them in their data (``waiting``,
  or ``running`` / ``paused`` when the gate closed).
- ``agent:response`` events whose data holds ``call_key`` and ``response`` are completed calls;
  ``checkpoint:created`` events are checkpoints; an ``execution:resumed`` event whose data holds
  ``agent_choices`` replaces the row's (a resume that chose other models).
- Leases: free, expired, already ours, or held by a dead process on this host can be taken; taking it
  from another owner counts as a recovery attempt. An execution that has ended is never leased.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from quorum.agents.protocol import CallKey
from quorum.errors import ConfigurationError, LeaseLostError, StoreError
from quorum.events import Event, EventType
from quorum.history.base import ACTIVE_STATUSES, TERMINAL_STATUSES, Lease
from quorum.history.owner import owner_is_dead
from quorum.ids import ExecutionId

__all__ = (
    "STATUS_OF_EVENT",
    "RowState",
    "apply_event",
    "check_epoch",
    "check_prune_options",
    "completed_call",
    "is_orphan",
    "lease_at_creation",
    "lease_decision",
    "plain",
    "select_pruned",
)

STATUS_OF_EVENT: Final[Mapping[str, str]] = {
    EventType.EXECUTION_START: "running",
    EventType.EXECUTION_RESUMED: "running",
    EventType.EXECUTION_PAUSED: "paused",
    EventType.EXECUTION_COMPLETE: "completed",
    EventType.EXECUTION_ERROR: "failed",
    EventType.EXECUTION_TIMEOUT: "timeout",
    EventType.EXECUTION_ABORTED: "aborted",
}

_STATUS_IN_DATA: Final[frozenset[str]] = frozenset({EventType.APPROVAL_REQUESTED, EventType.APPROVAL_DECIDED})
"""Events whose data carries the status after them (waiting for a person, or running on)."""
_NOT_FINAL: Final[frozenset[str]] = frozenset({"running", "paused", "waiting"})


@dataclass(slots=True, kw_only=True)
class RowState:
    """The part of an execution row that appending events changes (mutable, private to one append)."""

    id: str
    status: str
    last_sequence: int
    updated_at: float
    started_at: float | None
    ended_at: float | None = None
    duration_ms: float | None = None
    verdict: Mapping[str, Any] | None = None
    error: str | None = None
    last_checkpoint: int = 0
    epoch: int = 0
    agent_choices: Mapping[str, Any] | None = None
    """New agent choices recorded by an event (``execution:resumed`` with ``agent_choices``); None when no
    event changed them (the row keeps what it holds)."""


def lease_at_creation(execution_id: str, owner: str | None, ttl_s: float | None, now: float) -> Lease | None:
    """The lease ``create_execution(record, owner=, ttl_s=)`` writes with the row (epoch 1), or None
    without an owner."""
    if owner is None:
        return None
    if ttl_s is None or not ttl_s > 0:
        raise ConfigurationError(f"create_execution: a lease needs ttl_s > 0 seconds, got {ttl_s!r}")
    return Lease(execution_id=ExecutionId(execution_id), owner=owner, epoch=1, expires_at=now + ttl_s)


def check_epoch(state: RowState, epoch: int | None) -> None:
    if epoch is not None and epoch != state.epoch:
        raise LeaseLostError(
            f"execution {state.id!r} is now owned with lease epoch {state.epoch}, not {epoch}: another "
            "process took it over, so this process must stop driving it"
        )


def apply_event(state: RowState, event: Event) -> None:
    """Check ``event`` against the journal so far and fold it into ``state``.

    StoreError when it breaks a rule (gap, duplicate, a second final outcome)."""
    expected = state.last_sequence + 1
    if event.sequence != expected:
        what = "a duplicate" if event.sequence <= state.last_sequence else "a gap"
        raise StoreError(
            f"execution {state.id!r}: event {event.type!r} has sequence {event.sequence}, expected "
            f"{expected} ({what}); the journal must continue without gaps or duplicates"
        )
    if state.status in TERMINAL_STATUSES:
        raise StoreError(
            f"execution {state.id!r} already ended as {state.status!r}: its final outcome is recorded "
            f"once and its journal is closed, so {event.type!r} (sequence {event.sequence}) is refused"
        )
    status = STATUS_OF_EVENT.get(event.type)
    if event.type in _STATUS_IN_DATA and event.data.get("status") in _NOT_FINAL:
        status = str(event.data["status"])
    if status is not None:
        state.status = status
        if status == "running" and state.started_at is None:
            state.started_at = event.timestamp
        if status in TERMINAL_STATUSES:
            _finish(state, event)
    elif event.type == EventType.CHECKPOINT_CREATED:
        state.last_checkpoint = event.sequence
    if event.type == EventType.EXECUTION_RESUMED:
        choices = event.data.get("agent_choices")
        if isinstance(choices, Mapping):
            state.agent_choices = choices
    state.last_sequence = event.sequence
    if event.timestamp > state.updated_at:
        state.updated_at = event.timestamp


def _finish(state: RowState, event: Event) -> None:
    state.ended_at = event.timestamp
    if event.duration_ms is not None:
        state.duration_ms = event.duration_ms
    elif state.started_at is not None:
        state.duration_ms = max(0.0, (event.timestamp - state.started_at) * 1000.0)
    if event.type == EventType.EXECUTION_COMPLETE:
        verdict = event.data.get("verdict")
        if verdict is not None:
            state.verdict = verdict if isinstance(verdict, Mapping) else {"value": verdict}
    else:
        reason = event.data.get("reason")
        state.error = event.error or (str(reason) if reason else None) or event.type


def completed_call(event: Event) -> tuple[str, Any] | None:
    """``(str(call_key), response)`` when ``event`` records a completed agent call."""
    if event.type != EventType.AGENT_RESPONSE:
        return None
    key = event.data.get("call_key")
    response = event.data.get("response")
    if key is None or response is None:
        return None
    return str(key), response


def plain(value: Any) -> Any:
    """A JSON-friendly copy of ``value``: mappings to dicts, sequences to lists, call keys to their
    string, other objects by their ``to_dict()``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, CallKey):
        return str(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return plain(to_dict())
    raise StoreError(
        f"cannot store a value of type {type(value).__name__} in the history: event data must be made of "
        "JSON values (str, numbers, bool, None, lists, mappings) or objects with to_dict()"
    )


def lease_decision(
    status: str, current_owner: str | None, expires_at: float | None, owner: str, now: float
) -> str:
    """``"take"``, ``"takeover"`` (from another owner: a recovery attempt) or ``"refuse"``."""
    if status in TERMINAL_STATUSES:
        return "refuse"  # nothing left to drive (and whoever read it as running must not start)
    if current_owner is None or current_owner == owner:
        return "take"
    if (expires_at is not None and expires_at <= now) or owner_is_dead(current_owner):
        return "takeover"
    return "refuse"


def is_orphan(status: str, owner: str | None, expires_at: float | None, now: float) -> bool:
    """A running or paused execution that nobody drives: no owner, an expired lease, or a dead owner."""
    if status not in ACTIVE_STATUSES:
        return False
    if owner is None or (expires_at is not None and expires_at <= now):
        return True
    return owner_is_dead(owner)


def check_prune_options(older_than_s: float | None, keep: int | None) -> None:
    if older_than_s is None and keep is None:
        raise ConfigurationError(
            "prune needs older_than_s or keep (or both); refusing to delete every finished execution"
        )
    if older_than_s is not None and older_than_s < 0:
        raise ConfigurationError(f"prune: older_than_s must be >= 0, got {older_than_s!r}")
    if keep is not None and keep < 0:
        raise ConfigurationError(f"prune: keep must be >= 0, got {keep!r}")


def select_pruned(
    finished: list[tuple[str, float]], older_than_s: float | None, keep: int | None, now: float
) -> list[str]:
    """Ids to delete among ``finished`` = ``[(id, ended_at), ...]`` newest first: beyond the ``keep``
    newest *and* ended more than ``older_than_s`` ago (each criterion only when given)."""
    start = keep if keep is not None else 0
    cutoff = None if older_than_s is None else now - older_than_s
    return [eid for eid, ended in finished[start:] if cutoff is None or ended < cutoff]
