"""The phase DAG scheduler: ordering, concurrency limits, when/skip rules, verdicts."""

from __future__ import annotations

import pytest

from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.events import EventType as E
from quorum.testing import ConcurrencyProbe, EventCapture, ScriptedAgent, failing_agent, sleeping_agent
from tests.engine.run_helpers import aggregate, custom, executor_with, phase, prompt, task

pytestmark = pytest.mark.concurrency


def _seq(events: EventCapture, event_type: str, phase_name: str) -> int:
    return next(e.sequence for e in events.events if e.type == event_type and e.phase == phase_name)


async def test_chain_runs_in_dependency_order() -> None:
    ex = executor_with({"a": sleeping_agent(0.001)})
    t = task(
        phase("C", prompt("c"), agents=("a",), depends_on="B"),
        phase("A", prompt("a"), agents=("a",)),
        phase("B", prompt("b"), agents=("a",), depends_on="A"),
    )
    with EventCapture(ex) as events:
        result = await ex.execute(t)
    assert result.status is ExecutionStatus.COMPLETED
    starts = [e.phase for e in events.of(E.PHASE_START)]
    assert starts == ["A", "B", "C"]
    assert _seq(events, E.PHASE_COMPLETE, "A") < _seq(events, E.PHASE_START, "B")
    assert _seq(events, E.PHASE_COMPLETE, "B") < _seq(events, E.PHASE_START, "C")


async def test_a_phase_starts_as_soon_as_its_own_dependencies_are_done() -> None:
    ex = executor_with({"slow": sleeping_agent(0.08), "fast": sleeping_agent(0.002)})
    t = task(
        phase("A", prompt("a"), agents=("fast",)),
        phase("Slow", prompt("s"), agents=("slow",), depends_on="A"),
        phase("Fast", prompt("f"), agents=("fast",), depends_on="A"),
        phase("AfterFast", prompt("x"), agents=("fast",), depends_on="Fast"),
        phase("End", prompt("e"), agents=("fast",), depends_on=("Slow", "AfterFast")),
    )
    with EventCapture(ex) as events:
        result = await ex.execute(t)
    assert result.status is ExecutionStatus.COMPLETED
    assert _seq(events, E.PHASE_START, "AfterFast") < _seq(events, E.PHASE_COMPLETE, "Slow")
    assert _seq(events, E.PHASE_COMPLETE, "Slow") < _seq(events, E.PHASE_START, "End")
    assert _seq(events, E.PHASE_COMPLETE, "AfterFast") < _seq(events, E.PHASE_START, "End")


@pytest.mark.parametrize("limit", [1, 2, 3, 6])
async def test_never_more_than_max_concurrent_phases(limit: int) -> None:
    probe = ConcurrencyProbe()
    ex = executor_with({"a": sleeping_agent(0.01, probe=probe)}, max_concurrent_phases=limit)
    t = task(*(phase(f"P{i}", prompt("go"), agents=("a",)) for i in range(6)))
    result = await ex.execute(t)
    assert result.status is ExecutionStatus.COMPLETED
    assert probe.max_in_flight == limit
    assert probe.total == 6


async def test_task_level_limit_wins_over_the_executor_default() -> None:
    probe = ConcurrencyProbe()
    ex = executor_with({"a": sleeping_agent(0.01, probe=probe)}, max_concurrent_phases=6)
    t = task(*(phase(f"P{i}", prompt("go"), agents=("a",)) for i in range(4)), max_concurrent_phases=1)
    await ex.execute(t)
    assert probe.max_in_flight == 1


async def test_when_false_skips_and_skips_propagate() -> None:
    ex = executor_with({"a": ScriptedAgent({"v": 1})})
    t = task(
        phase("Root", prompt("r"), agents=("a",)),
        phase("Never", prompt("n"), agents=("a",), depends_on="Root", when="input.amount > 100"),
        phase("OnlyAfterNever", prompt("x"), agents=("a",), depends_on="Never"),
        phase("Mixed", prompt("m"), agents=("a",), depends_on=("Never", "Root")),
        phase("Yes", prompt("y"), agents=("a",), depends_on="Root", when="{{ input.amount > 1 }}"),
    )
    with EventCapture(ex) as events:
        result = await ex.execute(t, {"amount": 5})
    assert result.status is ExecutionStatus.COMPLETED
    phases = result.phases
    assert phases["Never"].status is PhaseStatus.SKIPPED
    assert phases["Never"].skipped_reason == "condition false: input.amount > 100"
    assert phases["OnlyAfterNever"].status is PhaseStatus.SKIPPED
    assert phases["OnlyAfterNever"].skipped_reason == "dependencies skipped"
    assert phases["Mixed"].status is PhaseStatus.COMPLETED
    assert phases["Yes"].status is PhaseStatus.COMPLETED
    skipped = events.of(E.PHASE_SKIPPED)
    assert [e.phase for e in skipped] == ["Never", "OnlyAfterNever"]
    assert skipped[0].data["reason"].startswith("condition false")
    assert not [e for e in events.of(E.PHASE_START) if e.phase in ("Never", "OnlyAfterNever")]


async def test_a_failed_optional_phase_counts_as_skipped_for_its_dependents() -> None:
    ex = executor_with({"bad": failing_agent(), "good": ScriptedAgent({"v": 1})})
    t = task(
        phase("Opt", prompt("o"), agents=("bad",), optional=True),
        phase("After", prompt("a"), agents=("good",), depends_on="Opt"),
        phase("Other", prompt("x"), agents=("good",)),
    )
    result = await ex.execute(t)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.phases["Opt"].status is PhaseStatus.FAILED
    assert result.phases["After"].status is PhaseStatus.SKIPPED
    assert result.phases["Other"].status is PhaseStatus.COMPLETED


async def test_a_dependency_cycle_fails_with_the_cycle_named() -> None:
    ex = executor_with({"a": ScriptedAgent()})
    t = task(
        phase("A", prompt("a"), agents=("a",), depends_on="B"),
        phase("B", prompt("b"), agents=("a",), depends_on="A"),
    )
    result = await ex.execute(t)
    assert result.status is ExecutionStatus.FAILED
    assert "cycle" in (result.error or "")
    assert "A -> B" in (result.error or "")


async def test_unknown_dependency_fails() -> None:
    ex = executor_with({"a": ScriptedAgent()})
    result = await ex.execute(task(phase("A", prompt("a"), agents=("a",), depends_on="Ghost")))
    assert result.status is ExecutionStatus.FAILED
    assert "Ghost" in (result.error or "")


async def test_verdict_defaults_to_the_single_sink_outputs() -> None:
    ex = executor_with({"a": ScriptedAgent({"decision": "buy"})})
    t = task(phase("A", prompt("a"), agents=("a",)),
             phase("B", prompt("b"), agents=("a",), depends_on="A", outputs=("decision",)))
    result = await ex.execute(t)
    assert result.verdict == {"decision": "buy"}


async def test_verdict_with_several_sinks_is_keyed_by_phase() -> None:
    ex = executor_with({"a": ScriptedAgent({"v": 1})})
    t = task(phase("A", prompt("a"), agents=("a",), outputs=("v",)),
             phase("B", prompt("b"), agents=("a",), outputs=("v",)))
    result = await ex.execute(t)
    assert result.verdict == {"A": {"v": 1}, "B": {"v": 1}}


async def test_verdict_from_a_named_phase_and_from_expressions() -> None:
    ex = executor_with({"a": ScriptedAgent({"score": 3})})
    phases = (phase("A", prompt("a"), agents=("a",), outputs=("score",)),
              phase("B", aggregate("average"), depends_on="A"))
    named = await ex.execute(task(*phases, output="A"))
    assert named.verdict == {"score": 3}
    expr = await ex.execute(task(*phases, output={"double": "phases.A.outputs.score * 2",
                                                  "avg": "phases.B.outputs.score"}))
    assert expr.verdict == {"double": 6, "avg": 3.0}


async def test_a_failing_when_expression_fails_the_execution_with_its_text() -> None:
    ex = executor_with({"a": ScriptedAgent()})
    result = await ex.execute(task(phase("A", prompt("a"), agents=("a",), when="input.missing > 1")))
    assert result.status is ExecutionStatus.FAILED
    assert "missing" in (result.error or "")


async def test_parallel_branches_really_overlap() -> None:
    probe = ConcurrencyProbe()
    ex = executor_with({"a": sleeping_agent(0.02, probe=probe)})
    ex.register_step_strategy("noop", lambda step, ph, ctx: None)
    t = task(phase("Root", custom("noop")),
             *(phase(f"B{i}", prompt("b"), agents=("a",), depends_on="Root") for i in range(3)))
    result = await ex.execute(t)
    assert result.status is ExecutionStatus.COMPLETED
    assert probe.max_in_flight == 3
