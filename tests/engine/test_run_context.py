"""ExecutionContext: the seed's method set, checkpoints and the exact JSON round trip."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorum.agents.protocol import AgentResponse
from quorum.engine.context import ExecutionContext
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.errors import InvalidTransitionError
from quorum.ids import AgentId
from tests.engine.run_helpers import phase, prompt, task

pytestmark = pytest.mark.unit

T = task(
    phase("A", prompt("a"), agents=("x",)),
    phase("B", prompt("b"), agents=("x",), depends_on="A"),
    phase("C", prompt("c"), agents=("x",), depends_on="B", optional=True),
)


def _answer(agent: str, **data: object) -> AgentResponse:
    return AgentResponse(agent_id=AgentId(agent), text="t", data=data, confidence=0.5)


def test_lifecycle_methods_follow_the_state_machine() -> None:
    ctx = ExecutionContext(T, {"n": 1})
    assert ctx.status is ExecutionStatus.PENDING
    with pytest.raises(InvalidTransitionError):
        ctx.pause("too early")
    ctx.start()
    ctx.pause("coffee")
    assert ctx.status.value == "paused"
    assert ctx.status_reason == "coffee"
    with pytest.raises(InvalidTransitionError):
        ctx.timeout()
    assert ctx.resume() >= 0.0
    ctx.complete({"ok": True})
    assert ctx.status.value == "completed"
    assert ctx.ended_at is not None
    with pytest.raises(InvalidTransitionError):
        ctx.resume()
    with pytest.raises(InvalidTransitionError):
        ctx.fail("late")


def test_abort_and_timeout_set_the_abort_signal() -> None:
    ctx = ExecutionContext(T)
    ctx.start()
    signal = ctx.get_abort_signal()
    ctx.abort("user said stop")
    assert signal.aborted
    assert signal.reason == "user said stop"
    assert signal.kind == "abort"
    assert ctx.status is ExecutionStatus.ABORTED
    ctx2 = ExecutionContext(T)
    ctx2.start()
    ctx2.timeout(2.0)
    assert ctx2.get_abort_signal().kind == "timeout"
    assert "2s" in (ctx2.error or "")


def test_phase_transitions_are_checked() -> None:
    ctx = ExecutionContext(T)
    ctx.start()
    with pytest.raises(InvalidTransitionError):
        ctx.complete_phase("A", {})  # never started
    ctx.start_phase("A")
    result = ctx.complete_phase("A", {"x": 1}, answers=(_answer("x", v=1),))
    assert result.status is PhaseStatus.COMPLETED
    assert result.outputs == {"x": 1}
    with pytest.raises(InvalidTransitionError):
        ctx.start_phase("A")  # completed phases do not run again
    with pytest.raises(KeyError):
        ctx.start_phase("nope")
    ctx.skip_phase("C", "because")
    with pytest.raises(InvalidTransitionError):
        ctx.skip_phase("C", "twice")


def test_checkpoint_restore_rolls_back_and_allows_running_again() -> None:
    ctx = ExecutionContext(T)
    ctx.start()
    ctx.start_phase("A")
    ctx.complete_phase("A", {"a": 1}, answers=(_answer("x", a=1),))
    ctx.record_usage(_answer("x"))
    first = ctx.create_checkpoint("after A")
    ctx.start_phase("B")
    ctx.complete_phase("B", {"b": 2})
    ctx.record_usage(_answer("x"))
    ctx.create_checkpoint("after B")
    with pytest.raises(InvalidTransitionError):
        ctx.restore_checkpoint(first.id)  # running: pause first
    ctx.complete({"b": 2})
    ctx.restore_checkpoint(first.id)
    assert ctx.status is ExecutionStatus.PENDING
    assert list(ctx.phases) == ["A"]
    assert [c.id for c in ctx.checkpoints] == [first.id]
    assert ctx.calls == 1
    assert ctx.verdict is None
    assert ctx.error is None
    assert ctx.template_context()["phases"]["A"]["outputs"] == {"a": 1}
    assert "B" not in ctx.template_context()["phases"]
    assert not ctx.get_abort_signal().aborted
    with pytest.raises(KeyError):
        ctx.restore_checkpoint("no-such-checkpoint")
    ctx.start()  # may run again from there


def test_template_context_shape() -> None:
    ctx = ExecutionContext(T, {"ticker": "BTC"}, execution_id="e1")
    ctx.start()
    ctx.start_phase("A")
    ctx.complete_phase("A", {"a": 1}, answers=(_answer("x", a=1),))
    tc = ctx.template_context("B", attempt=2, round=1)
    assert tc["input"]["ticker"] == "BTC"
    assert tc["task"]["name"] == "t"
    assert tc["phase"] == {"name": "B", "attempt": 2, "round": 1}
    assert tc["execution"]["id"] == "e1"
    view = tc["phases"]["A"]
    assert view["status"] == "completed"
    assert view["outputs"]["a"] == 1
    assert view["responses"]["x"].data["a"] == 1


def _round_trip(ctx: ExecutionContext) -> None:
    text = ctx.to_json()
    again = ExecutionContext.from_json(text)
    assert again.to_json() == text
    assert again.id == ctx.id
    assert again.status == ctx.status
    assert json.loads(text)["phases"].keys() == ctx.phases.keys()


def test_json_round_trip_is_exact_in_every_state() -> None:
    ctx = ExecutionContext(T, {"n": 1.5, "tags": ["a", "b"], "nested": {"k": [1, {"z": None}]}})
    _round_trip(ctx)
    ctx.start()
    ctx.start_phase("A")
    ctx.complete_phase("A", {"a": {"deep": [1, 2]}}, answers=(_answer("x", a=1), _answer("y", b=[1])),
                       warnings=("w",))
    ctx.create_checkpoint("cp")
    ctx.start_phase("B")
    ctx.fail_phase("B", "boom", answers=(AgentResponse(agent_id=AgentId("x"), error="bad"),))
    ctx.pause("p")
    _round_trip(ctx)
    ctx.abort("stop")
    _round_trip(ctx)
    restored = ExecutionContext.from_json(ctx.to_json())
    restored.restore_checkpoint(ctx.checkpoints[0].id)
    assert list(restored.phases) == ["A"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None)
@given(inputs=st.dictionaries(st.text(min_size=1, max_size=5), json_values, max_size=4), outputs=json_values)
def test_json_round_trip_property(inputs: dict[str, object], outputs: object) -> None:
    ctx = ExecutionContext(T, inputs)
    ctx.start()
    ctx.start_phase("A")
    ctx.complete_phase("A", {"value": outputs}, answers=(_answer("x", v=outputs),))
    ctx.create_checkpoint("x")
    _round_trip(ctx)


def test_fast_response_dict_matches_to_dict() -> None:
    from quorum.engine.results import response_dict

    r = AgentResponse(agent_id=AgentId("a"), text="t", data={"x": [1, {"y": (2, 3)}], "z": None},
                      stance="bullish", confidence=0.5, tokens_in=3, cost_usd=0.1, error=None)
    assert response_dict(r) == r.to_dict()
    failed = AgentResponse(agent_id=AgentId("b"), error="boom")
    assert response_dict(failed) == failed.to_dict()


def test_a_checkpoint_holds_only_settled_phases() -> None:
    ctx = ExecutionContext(T)
    ctx.start()
    ctx.start_phase("A")
    ctx.complete_phase("A", {})
    ctx.start_phase("C")
    ctx.fail_phase("C", "first attempt")  # C is optional: failed counts as settled...
    assert set(ctx.create_checkpoint("1").phases) == {"A", "C"}
    ctx.start_phase("C", attempt=2)  # ...until it runs again
    ctx.start_phase("B")
    assert set(ctx.create_checkpoint("2").phases) == {"A"}
