"""Custom step strategies and aggregators through the executor, and the checks made before a run."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.definition.model import Phase, Step
from quorum.engine.status import ExecutionStatus
from quorum.errors import DefinitionError
from quorum.steps.protocol import StepContext
from quorum.testing import ScriptedAgent, echo_agent
from tests.engine.run_helpers import aggregate, custom, executor_with, phase, prompt, task

pytestmark = pytest.mark.integration


async def test_sync_and_async_strategies_feed_the_outputs() -> None:
    ex = executor_with({"a": ScriptedAgent({"score": 4})})
    got: dict[str, Any] = {}

    def sync_strategy(step: Step, ph: Phase, context: StepContext) -> Mapping[str, Any]:
        got["text"] = context.render(step.text)
        got["input"] = context.input["who"]
        got["answers"] = [a.agent_id for a in context.answers]
        return {"double": context.answers[0].data["score"] * 2}

    async def async_strategy(step: Step, ph: Phase, context: StepContext) -> int:
        await asyncio.sleep(0)
        doubled: int = context.evaluate("phase.outputs.double")
        return int(step.parameters["k"]) + doubled

    ex.register_step_strategy("double", sync_strategy)
    ex.register_step_strategy("plus", async_strategy)
    t = task(phase("P", prompt("go"), custom("double", "for {{ input.who }}"), custom("plus", k=1),
                   agents=("a",), outputs=("double", "result")))
    result = await ex.execute(t, {"who": "Ann"})
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert result.phases["P"].outputs == {"double": 8, "result": 9}
    assert got == {"text": "for Ann", "input": "Ann", "answers": ["a"]}


async def test_a_strategy_can_query_agents_through_the_engine() -> None:
    ex = executor_with({"e": echo_agent()})

    async def ask_twice(step: Step, ph: Phase, context: StepContext) -> Mapping[str, Any]:
        one = await context.query("e", "first")
        two = await context.query("e", "second")
        return {"prompts": [one.data["prompt"], two.data["prompt"]]}

    ex.register_step_strategy("ask", ask_twice)
    result = await ex.execute(task(phase("P", custom("ask"))))
    assert result.phases["P"].outputs["prompts"] == ("first", "second") or \
        result.phases["P"].outputs["prompts"] == ["first", "second"]
    assert [a.agent_id for a in result.phases["P"].answers] == ["e", "e"]


async def test_a_failing_strategy_fails_the_phase() -> None:
    ex = executor_with({})

    def broken(step: Step, ph: Phase, context: StepContext) -> None:
        raise RuntimeError("strategy bug")

    ex.register_step_strategy("broken", broken)
    result = await ex.execute(task(phase("P", custom("broken"))))
    assert result.status is ExecutionStatus.FAILED
    assert "strategy bug" in (result.error or "")


async def test_custom_aggregators_and_aggregating_earlier_phases() -> None:
    ex = executor_with({"a": ScriptedAgent({"stance": "for", "n": 1}), "b": ScriptedAgent({"stance": "for",
                                                                                             "n": 3})})

    async def total(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"total": sum(a.data["n"] for a in answers) * parameters.get("factor", 1)}

    ex.register_aggregator("total", total)
    t = task(
        phase("A", prompt("x"), agents=("a",)),
        phase("B", prompt("y"), agents=("b",), depends_on="A"),
        phase("Sum", aggregate("total", factor=10), aggregate("collect"), depends_on="B",
              outputs=("total", "count")),
        phase("OnlyB", aggregate("total", **{"from": "B"}), depends_on="B", outputs=("total",)),
    )
    result = await ex.execute(t)
    assert result.phases["Sum"].outputs == {"total": 40, "count": 2}
    assert result.phases["OnlyB"].outputs == {"total": 3}


async def test_everything_is_checked_before_anything_runs() -> None:
    agent = ScriptedAgent()
    ex = executor_with({"known": agent})
    t = task(
        phase("A", prompt("x"), agents=("known", "ghost")),
        phase("B", custom("unregistered"), aggregate("nonsense")),
    )
    with pytest.raises(DefinitionError) as info:
        await ex.start(t)
    text = str(info.value)
    assert "unknown agent 'ghost'" in text
    assert "registered agents: known" in text
    assert "no step strategy registered for step type 'unregistered'" in text
    assert "t.md:10" in text
    assert "unknown aggregator 'nonsense'" in text
    assert len(info.value.problems) == 3
    assert agent.calls == 0
    assert ex.get_active_executions() == []
