"""What a dry run decides from the inputs alone: phases that run, are skipped (and why), may run or will
fail; dynamic agent lists; calls per phase; the same input errors as a real start."""

from __future__ import annotations

import pytest

from quorum.definition.model import Requirement
from quorum.engine.executor import TaskExecutor
from quorum.errors import ConfigurationError, DefinitionError, InputValidationError
from quorum.history.memory import MemoryHistoryStore
from quorum.planning import DryRunParts, dry_run
from quorum.testing import ScriptedAgent, make_manager
from tests.engine.run_helpers import agent_step, aggregate, phase, prompt, task

pytestmark = pytest.mark.unit

AGENTS = ("a", "b", "c", "d")


def _executor(store: MemoryHistoryStore | None = None) -> tuple[TaskExecutor, dict[str, ScriptedAgent]]:
    agents = {a: ScriptedAgent({"v": a}) for a in AGENTS}
    return TaskExecutor(agent_manager=make_manager(agents), history_store=store), agents


BRANCHY = task(
    phase("Start", agent_step("a", "go")),
    phase("Deep", prompt("think"), agents=("a", "b"), depends_on="Start", when="input.deep", rounds=3),
    phase("AfterDeep", agent_step("c", "more"), depends_on="Deep"),
    phase("Judged", agent_step("d", "judge"), depends_on="Start",
          when="phases.Start.outputs.a.v == 'a'"),
    phase("Short", agent_step("d", "short"), depends_on="Start", when="input.deep and phases.Start.outputs"),
    phase("Broken", agent_step("d", "x"), depends_on="Start", when="input.missing_field > 1"),
    phase("Panel", prompt("p"), aggregate("collect"), depends_on="Start", parallel=True,
          agent_expressions=("input.panel",)),
    phase("Later", prompt("q"), agents=("a",), depends_on="Start",
          agent_expressions=("phases.Start.outputs.a.v",)),
    name="branchy")


async def test_phases_decided_by_the_inputs() -> None:
    executor, agents = _executor()
    plan = await dry_run(executor, BRANCHY, {"deep": False, "panel": ["b", "c"]})
    fates: dict[str, tuple[str, str | None]] = {p.name: (p.fate, p.reason) for p in plan.phases}
    assert fates["Start"] == ("runs", None)
    assert fates["Deep"] == ("skipped", "condition false: input.deep")
    assert fates["AfterDeep"] == ("skipped", "dependencies skipped")
    assert fates["Judged"][0] == "may-run"
    assert "depends on earlier phases" in str(fates["Judged"][1])
    assert fates["Short"][0] == "skipped"  # decided by the input, although it names phases
    assert fates["Broken"][0] == "fails"
    assert "missing_field" in str(fates["Broken"][1])
    panel = plan.phase("Panel")
    assert panel.fate == "runs"
    assert panel.agents == ("b", "c")
    assert panel.calls == 2
    later = plan.phase("Later")
    assert later.agents == ("a",)
    assert not later.agents_known
    assert not plan.calls_known
    assert plan.phase("Deep").calls == 0
    assert sum(a.calls for a in agents.values()) == 0
    await executor.aclose()


async def test_the_executor_offers_the_dry_run_itself() -> None:
    store = MemoryHistoryStore()
    executor, agents = _executor(store)
    plan = await executor.dry_run(BRANCHY, {"deep": True, "panel": ["a"]})
    assert plan.phase("Deep").fate == "runs"
    assert plan.phase("Deep").calls == 6  # two agents, three rounds
    assert plan.phase("Panel").agents == ("a",)
    assert sum(a.calls for a in agents.values()) == 0
    assert await store.list_executions() == []
    wrong = await executor.dry_run(BRANCHY, {"deep": False, "panel": 3})
    assert wrong.phase("Panel").fate == "fails"
    assert "'input.panel' gave 3 (int); it must give an agent id" in str(wrong.phase("Panel").reason)
    await executor.aclose()


async def test_calls_count_rounds_agents_and_agent_steps() -> None:
    executor, _ = _executor()
    plan = await dry_run(executor, BRANCHY, {"deep": True, "panel": ["a", "b", "c", "d"]})
    assert plan.phase("Deep").fate == "runs"
    assert plan.phase("Deep").calls == 2 * 3  # two agents, three rounds
    assert plan.phase("Panel").calls == 4
    assert plan.phase("Short").fate == "may-run"
    assert plan.calls == sum(p.calls for p in plan.phases if p.fate in ("runs", "may-run"))
    await executor.aclose()


async def test_a_dynamic_agent_the_directory_lacks_fails_the_phase_as_it_would_run() -> None:
    executor, _ = _executor()
    plan = await dry_run(executor, BRANCHY, {"deep": False, "panel": ["b", "zed"]})
    panel = plan.phase("Panel")
    assert panel.fate == "fails"
    assert "zed" in str(panel.reason)
    await executor.aclose()


CHECKED = task(phase("Only", agent_step("a", "{{ input.n }}")), name="checked",
               requirements=(Requirement(name="n", type="integer", min=1),))


async def test_the_same_input_errors_as_a_real_start() -> None:
    executor, _ = _executor()
    with pytest.raises(InputValidationError) as planned:
        await dry_run(executor, CHECKED, {"n": 0})
    with pytest.raises(InputValidationError) as started:
        await executor.start(CHECKED, {"n": 0})
    assert planned.value.problems == started.value.problems
    unknown = task(phase("X", agent_step("nobody", "hi")), name="unknown")
    with pytest.raises(DefinitionError, match="unknown agent 'nobody'"):
        await dry_run(executor, unknown, {})
    plan = await dry_run(executor, CHECKED, {"n": "3"})
    assert plan.input == {"n": 3}  # coerced as a run coerces it
    await executor.aclose()


async def test_nothing_is_recorded_and_the_json_says_it_is_a_dry_run() -> None:
    store = MemoryHistoryStore()
    await store.open()
    executor, _ = _executor(store)
    plan = await dry_run(executor, BRANCHY, {"deep": True, "panel": ["a"]})
    assert await store.list_executions(limit=10) == []
    data = plan.to_dict()
    assert data["dry_run"] is True
    assert [p["name"] for p in data["phases"]] == [p.name for p in BRANCHY.phases]
    assert data["wall_s"]["basis"] in ("timeouts", "unknown")
    await executor.aclose()


async def test_parts_without_an_executor() -> None:
    agents = {a: ScriptedAgent({"v": a}) for a in AGENTS}
    plan = await dry_run(DryRunParts(directory=make_manager(agents), agent_timeout_s=5.0), BRANCHY,
                         {"deep": True, "panel": []})
    assert plan.phase("Start").duration.p95 == 5.0
    with pytest.raises(TypeError, match="parsed Task"):
        await dry_run(DryRunParts(directory=make_manager(agents)), "branchy", {})


class _NoKey(ScriptedAgent):
    def unready(self) -> str:
        return "no API key for Example: set EXAMPLE_API_KEY"


async def test_an_agent_without_its_key_is_noted_not_a_refusal() -> None:
    agents: dict[str, ScriptedAgent] = {a: ScriptedAgent({"v": a}) for a in AGENTS}
    agents["d"] = _NoKey({"v": "d"})
    executor = TaskExecutor(agent_manager=make_manager(agents))
    keyed = task(phase("X", agent_step("d", "hi")), name="keyed")
    with pytest.raises(ConfigurationError, match="no API key for Example"):
        await executor.start(keyed, {})
    plan = await dry_run(executor, keyed, {})
    assert plan.phase("X").calls == 1
    assert any("a real run would not start" in n and "d: no API key for Example" in n for n in plan.notes)
    await executor.aclose()
