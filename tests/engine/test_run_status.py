"""The execution status state machine."""

from __future__ import annotations

import pytest

from quorum.engine.status import TERMINAL, TRANSITIONS, ExecutionStatus, check_transition
from quorum.errors import InvalidTransitionError

pytestmark = pytest.mark.unit

S = ExecutionStatus


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.PENDING, S.RUNNING), (S.RUNNING, S.PAUSED), (S.PAUSED, S.RUNNING), (S.RUNNING, S.COMPLETED),
     (S.RUNNING, S.TIMEOUT), (S.PAUSED, S.ABORTED), (S.PENDING, S.ABORTED), (S.RUNNING, S.FAILED)],
)
def test_legal_transitions(current: ExecutionStatus, target: ExecutionStatus) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.COMPLETED, S.RUNNING), (S.PENDING, S.PAUSED), (S.PAUSED, S.TIMEOUT), (S.PENDING, S.COMPLETED),
     (S.ABORTED, S.RUNNING), (S.TIMEOUT, S.COMPLETED), (S.RUNNING, S.PENDING)],
)
def test_illegal_transitions_raise(current: ExecutionStatus, target: ExecutionStatus) -> None:
    with pytest.raises(InvalidTransitionError) as info:
        check_transition(current, target)
    assert info.value.current == current.value
    assert info.value.target == target.value


def test_terminal_statuses_have_no_way_out() -> None:
    for status in TERMINAL:
        assert status.terminal
        assert TRANSITIONS[status] == frozenset()
    assert not S.RUNNING.terminal
    assert set(TRANSITIONS) == set(S)
