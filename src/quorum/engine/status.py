"""The execution and phase status state machines.

::

    pending ──► running ──► completed
       │        │ ▲  ▲ │
       │        ▼ │  │ ▼
       │      paused ◄─► waiting
       │          │        │
       └──────────┴────────┴──► failed | aborted | timeout

- ``pending``: created, not started.
- ``running``: the scheduler is driving phases.
- ``paused``: no new step starts until resumed; calls in flight finish. Paused time does not count
  against the execution's time limit, so a paused execution cannot time out (it can be aborted).
- ``waiting``: an ``approval:`` step waits for a person's decision. Like paused time, the wait does not
  count against the time limit; the execution needs no live process meanwhile (it can be detached and
  is resumed from its journal by the process that brings the decision).
- ``completed`` / ``failed`` / ``aborted`` / ``timeout``: terminal.

A terminal (or pending/paused) execution may be rolled back with
:meth:`~quorum.engine.context.ExecutionContext.restore_checkpoint`; that is the one way out of a terminal
status (back to ``pending``), so the restored state can be run again or forked.
Every other change is checked against :data:`TRANSITIONS`; an illegal one raises
:class:`~quorum.errors.InvalidTransitionError`.
"""

from __future__ import annotations

import enum
from typing import Final

from quorum.errors import InvalidTransitionError

__all__ = (
    "PHASE_TERMINAL",
    "TERMINAL",
    "TRANSITIONS",
    "ExecutionStatus",
    "PhaseStatus",
    "check_transition",
)


class ExecutionStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"
    TIMEOUT = "timeout"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


class PhaseStatus(enum.StrEnum):
    """The status of one phase within an execution."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    """It was in flight when the execution was aborted or timed out; partial answers are kept."""


TERMINAL: Final[frozenset[ExecutionStatus]] = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.ABORTED, ExecutionStatus.TIMEOUT}
)

PHASE_TERMINAL: Final[frozenset[PhaseStatus]] = frozenset(
    {PhaseStatus.COMPLETED, PhaseStatus.FAILED, PhaseStatus.SKIPPED, PhaseStatus.CANCELLED}
)

_S = ExecutionStatus
TRANSITIONS: Final[dict[ExecutionStatus, frozenset[ExecutionStatus]]] = {
    _S.PENDING: frozenset({_S.RUNNING, _S.FAILED, _S.ABORTED}),
    _S.RUNNING: frozenset({_S.PAUSED, _S.WAITING, _S.COMPLETED, _S.FAILED, _S.ABORTED, _S.TIMEOUT}),
    # A paused execution fails only when something already in flight fails it (a validation step).
    _S.PAUSED: frozenset({_S.RUNNING, _S.WAITING, _S.ABORTED, _S.FAILED}),
    _S.WAITING: frozenset({_S.RUNNING, _S.PAUSED, _S.ABORTED, _S.FAILED}),
    _S.COMPLETED: frozenset(),
    _S.FAILED: frozenset(),
    _S.ABORTED: frozenset(),
    _S.TIMEOUT: frozenset(),
}


def check_transition(current: ExecutionStatus, target: ExecutionStatus) -> None:
    """Raise :class:`InvalidTransitionError` unless ``current -> target`` is in :data:`TRANSITIONS`."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransitionError(current.value, target.value)
