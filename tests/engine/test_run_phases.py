"""Inside a phase: steps in order, parallel vs round table, rounds, limits, failures, outputs."""

from __future__ import annotations

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.events import EventType as E
from quorum.testing import (
    ConcurrencyProbe,
    EventCapture,
    ScriptedAgent,
    echo_agent,
    failing_agent,
    sleeping_agent,
)
from tests.engine.run_helpers import agent_step, aggregate, executor_with, phase, prompt, task, validation

pytestmark = [pytest.mark.integration, pytest.mark.concurrency]

FIVE = ("a1", "a2", "a3", "a4", "a5")


async def test_parallel_prompt_goes_to_every_agent_at_once() -> None:
    probe = ConcurrencyProbe()
    ex = executor_with({a: sleeping_agent(0.01, {"who": a}, probe=probe) for a in FIVE})
    result = await ex.execute(task(phase("P", prompt("go"), agents=FIVE, parallel=True)))
    assert result.status is ExecutionStatus.COMPLETED
    assert probe.max_in_flight == 5
    assert result.phases["P"].outputs == {a: {"who": a} for a in FIVE}


async def test_round_table_each_agent_sees_the_earlier_answers_of_the_step() -> None:
    probe = ConcurrencyProbe()
    agents = {a: echo_agent(delay=0.001, probe=probe) for a in FIVE}
    ex = executor_with(agents)
    result = await ex.execute(task(phase("RT", prompt("speak"), agents=FIVE)))
    assert probe.max_in_flight == 1
    outputs = result.phases["RT"].outputs
    for i, a in enumerate(FIVE):
        assert outputs[a]["peers"] == FIVE[:i]
    order = [r.agent_id for r in result.phases["RT"].answers]
    assert order == list(FIVE)


async def test_rounds_go_around_the_table_again_with_everything_said_so_far() -> None:
    ex = executor_with({"pro": echo_agent(), "con": echo_agent()})
    t = task(phase("Debate", prompt("round {{ phase.round }}"), agents=("pro", "con"), rounds=2))
    result = await ex.execute(t)
    answers = result.phases["Debate"].answers
    assert [(a.agent_id, a.data["round"], a.data["prompt"]) for a in answers] == [
        ("pro", 0, "round 0"), ("con", 0, "round 0"), ("pro", 1, "round 1"), ("con", 1, "round 1")]
    assert [a.data["peers"] for a in answers] == [(), ("pro",), ("pro", "con"), ("pro", "con", "pro")]


async def test_parallel_rounds_see_the_earlier_rounds() -> None:
    ex = executor_with({a: echo_agent() for a in ("x", "y")})
    result = await ex.execute(task(phase("P", prompt("go"), agents=("x", "y"), parallel=True, rounds=2)))
    answers = result.phases["P"].answers
    first = [a for a in answers if a.data["round"] == 0]
    second = [a for a in answers if a.data["round"] == 1]
    assert all(a.data["peers"] == () for a in first)
    assert all(sorted(a.data["peers"]) == ["x", "y"] for a in second)


@pytest.mark.parametrize("limit", [1, 3, 7])
async def test_agent_concurrency_is_bounded(limit: int) -> None:
    probe = ConcurrencyProbe()
    agents = tuple(f"w{i}" for i in range(12))
    ex = executor_with({a: sleeping_agent(0.005, probe=probe) for a in agents}, max_concurrent_agents=limit)
    result = await ex.execute(task(phase("P", prompt("go"), agents=agents, parallel=True)))
    assert result.status is ExecutionStatus.COMPLETED
    assert probe.max_in_flight == limit
    assert len(result.phases["P"].outputs) == 12


async def test_consecutive_agent_steps_of_a_parallel_phase_run_concurrently() -> None:
    probe = ConcurrencyProbe()
    agents = {a: sleeping_agent(0.01, {"a": a}, probe=probe) for a in ("x", "y", "z")}
    steps = (agent_step("x", "1"), agent_step("y", "2"), agent_step("z", "3"))
    ex = executor_with(agents)
    with EventCapture(ex) as events:
        result = await ex.execute(task(phase("P", *steps, parallel=True)))
    assert probe.max_in_flight == 3
    assert result.phases["P"].outputs == {"x": {"a": "x"}, "y": {"a": "y"}, "z": {"a": "z"}}
    assert [e.step for e in events.of(E.STEP_START)] == [0, 1, 2]
    probe2 = ConcurrencyProbe()
    ex2 = executor_with({a: sleeping_agent(0.005, probe=probe2) for a in ("x", "y", "z")})
    await ex2.execute(task(phase("P", *steps)))
    assert probe2.max_in_flight == 1


async def test_one_agent_failure_is_recorded_and_the_phase_goes_on() -> None:
    ex = executor_with({"ok1": ScriptedAgent({"v": 1}), "bad": failing_agent("exploded"),
                        "ok2": ScriptedAgent({"v": 2})})
    with EventCapture(ex) as events:
        result = await ex.execute(task(phase("P", prompt("go"), agents=("ok1", "bad", "ok2"), parallel=True)))
    assert result.status is ExecutionStatus.COMPLETED
    p = result.phases["P"]
    assert set(p.outputs) == {"ok1", "ok2"}
    assert "exploded" in (p.responses["bad"].error or "")
    errors = events.of(E.AGENT_ERROR)
    assert len(errors) == 1
    assert errors[0].agent == "bad"
    assert "exploded" in (errors[0].error or "")
    assert errors[0].data["call_key"] == "P/0/bad/0/1"
    assert result.usage.calls == 3
    assert result.usage.errors == 1


async def test_fewer_answers_than_min_agents_fails_the_phase() -> None:
    ex = executor_with({"ok": ScriptedAgent(), "b1": failing_agent(), "b2": failing_agent()})
    result = await ex.execute(task(phase("P", prompt("go"), agents=("ok", "b1", "b2"), parallel=True,
                                         min_agents=2)))
    assert result.status is ExecutionStatus.FAILED
    assert "only 1 of 3 agents answered" in (result.error or "")
    assert "minAgents 2" in (result.error or "")
    assert "b1: " in (result.error or "")
    assert "scripted failure" in (result.error or "")
    assert result.phases["P"].status is PhaseStatus.FAILED


async def test_min_agents_zero_tolerates_a_failed_agent_step() -> None:
    ex = executor_with({"bad": failing_agent()})
    result = await ex.execute(task(phase("P", agent_step("bad", "x"), min_agents=0)))
    assert result.status is ExecutionStatus.COMPLETED
    failed = await ex.execute(task(phase("P", agent_step("bad", "x"))))
    assert failed.status is ExecutionStatus.FAILED
    assert "bad" in (failed.error or "")


async def test_agent_step_sees_the_earlier_answers_of_its_phase() -> None:
    ex = executor_with({"a": ScriptedAgent({"v": 1}), "b": ScriptedAgent({"v": 2}), "chair": echo_agent()})
    t = task(phase("P", prompt("go"), agent_step("chair", "Sum up for {{ input.who }}"), agents=("a", "b"),
                   parallel=True))
    result = await ex.execute(t, {"who": "Ann"})
    chair = result.phases["P"].outputs["chair"]
    assert sorted(chair["peers"]) == ["a", "b"]
    assert chair["prompt"] == "Sum up for Ann"


async def test_declared_outputs_come_from_step_results_then_agent_data() -> None:
    ex = executor_with({"a": sleeping_agent(0.001, {"stance": "bullish", "confidence": 0.9, "note": "first"}),
                        "b": sleeping_agent(0.02, {"stance": "bearish", "confidence": 0.2, "note": "last"})})
    t = task(phase("P", prompt("go"), aggregate("consensus"), agents=("a", "b"), parallel=True,
                   outputs=("stance", "note", "agreement", "absent")))
    with EventCapture(ex) as events:
        result = await ex.execute(t)
    out = result.phases["P"].outputs
    assert out["stance"] == "bullish"  # the aggregate's result beats the agents' data
    assert out["note"] == "last"  # several answers: the last one to answer
    assert out["agreement"] == pytest.approx(0.9 / 1.1)
    assert out["absent"] is None
    assert result.phases["P"].warnings == ("output 'absent' of phase 'P' was not produced by any step",)
    assert events.first(E.PHASE_COMPLETE).data["warnings"] == list(result.phases["P"].warnings)


async def test_validation_false_ends_the_execution_at_once_without_retry() -> None:
    from quorum.definition.model import RetryPolicy

    later = ScriptedAgent()
    ex = executor_with({"later": later})
    t = task(
        phase("Check", validation("input.amount > 0", "The amount must be positive, got {{ input.amount }}"),
              retry=RetryPolicy(max_attempts=3, backoff_ms=0)),
        phase("Later", prompt("x"), agents=("later",), depends_on="Check"),
    )
    with EventCapture(ex) as events:
        result = await ex.execute(t, {"amount": -5})
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "The amount must be positive, got -5"
    assert len(events.of(E.PHASE_START)) == 1
    assert not events.of(E.PHASE_RETRY)
    failed = events.first(E.PHASE_FAILED)
    assert failed.data["will_retry"] is False
    assert failed.data["validation"] is True
    err = events.first(E.EXECUTION_ERROR)
    assert err.data["validation"] is True
    assert err.data["condition"] == "input.amount > 0"
    assert later.calls == 0
    ok = await ex.execute(t, {"amount": 5})
    assert ok.status is ExecutionStatus.COMPLETED


async def test_a_template_error_fails_the_step_with_the_text_and_the_missing_name() -> None:
    ex = executor_with({"a": ScriptedAgent()})
    result = await ex.execute(task(phase("P", prompt("Analyse {{ input.tikcer }}"), agents=("a",))))
    assert result.status is ExecutionStatus.FAILED
    assert "tikcer" in (result.error or "")
    assert result.phases["P"].status is PhaseStatus.FAILED


async def test_agent_output_is_data_never_rendered_again() -> None:
    ex = executor_with({"a": ScriptedAgent({"text": "{{ 7 * 7 }}"}), "b": echo_agent()})
    t = task(phase("A", prompt("x"), agents=("a",), outputs=("text",)),
             phase("B", prompt("Echo: {{ phases.A.outputs.text }}"), agents=("b",), depends_on="A"))
    result = await ex.execute(t)
    assert result.phases["B"].outputs["b"]["prompt"] == "Echo: {{ 7 * 7 }}"


async def test_dynamic_agents_from_an_expression() -> None:
    chosen: list[str] = []

    def record(request: AgentRequest) -> dict[str, str]:
        chosen.append(request.agent_id)
        return {"id": request.agent_id}

    picker = ScriptedAgent({"agents": ["x", "y"]})
    ex = executor_with({"picker": picker, "x": record, "y": record, "z": record})
    from dataclasses import replace

    second = replace(phase("Run", prompt("go"), agents=("z",), depends_on="Pick", parallel=True),
                     agent_expressions=("phases.Pick.outputs.agents",))
    t = task(phase("Pick", prompt("choose"), agents=("picker",), outputs=("agents",)), second)
    result = await ex.execute(t)
    assert result.status is ExecutionStatus.COMPLETED
    assert sorted(chosen) == ["x", "y", "z"]
    bad = replace(second, agent_expressions=("['ghost']",))
    failed = await ex.execute(task(phase("Pick", prompt("c"), agents=("picker",)), bad))
    assert failed.status is ExecutionStatus.FAILED
    assert "ghost" in (failed.error or "")
    not_agents = replace(second, agent_expressions=("7",))
    wrong = await ex.execute(task(phase("Pick", prompt("c"), agents=("picker",)), not_agents))
    assert wrong.status is ExecutionStatus.FAILED
    assert "the agent expression '7' gave 7 (int); it must give an agent id" in (wrong.error or "")


async def test_a_prompt_step_without_agents_fails_the_phase_clearly() -> None:
    ex = executor_with({})
    result = await ex.execute(task(phase("P", prompt("hello"))))
    assert result.status is ExecutionStatus.FAILED
    assert "no agents" in (result.error or "")


async def test_requests_carry_context_outputs_and_abort_signal() -> None:
    seen: list[AgentRequest] = []

    def grab(request: AgentRequest) -> dict[str, int]:
        seen.append(request)
        return {"n": 1}

    ex = executor_with({"a": grab})
    t = task(phase("A", prompt("x"), agents=("a",), outputs=("n",)),
             phase("B", prompt("y"), agents=("a",), depends_on="A", outputs=("n",)))
    result = await ex.execute(t, {"ticker": "BTC"})
    req = seen[1]
    assert req.context["input"]["ticker"] == "BTC"
    assert req.context["phases"]["A"]["outputs"] == {"n": 1}
    assert req.context["phase"]["name"] == "B"
    assert req.execution_id == result.id
    assert req.phase == "B"
    assert req.attempt == 1
    assert [o.name for o in req.outputs] == ["n"]
    assert req.abort is seen[0].abort
    assert not req.abort.aborted
    assert str(req.key) == "B/0/a/0/1"
