"""The agent manager the executor builds itself: closed with the executor, model overrides applied,
budgets enforced — and budgets through a manager given by the user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import quorum.agents.manager as manager_module
from quorum.agents.manager import AgentManager
from quorum.engine.api import run
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.ids import AgentId, PhaseName
from quorum.testing import make_manager

_AGENTS = "tests.engine.engine_test_agents"

pytestmark = pytest.mark.integration

TASK_MD = """# Budgeted

```yaml
name: budgeted
version: 1.0.0
{budget}
```

## Phase: Intake

### Agents
- alpha

### Steps
- Take the request in

### Outputs
- who: who answered

## Phase: Analysis
dependsOn: Intake
parallel: {parallel}

### Agents
- alpha
- beta
- gamma

### Steps
- Analyse it

### Outputs
- who: who answered
"""


def _agent_file(agents: Path, agent_id: str, fn: str = "from_file") -> None:
    agents.mkdir(exist_ok=True)
    (agents / f"{agent_id}.md").write_text(
        f"---\nid: {agent_id}\nname: {agent_id}\nmodel: python:{_AGENTS}:{fn}\n---\nA test agent.\n"
    )


def _project(tmp_path: Path, *, budget: str = "", parallel: bool = True) -> Path:
    """tasks/budgeted.md with agents/ beside it (the default manager finds them there)."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "budgeted.md").write_text(TASK_MD.format(budget=budget, parallel=str(parallel).lower()))
    for agent_id in ("alpha", "beta", "gamma"):
        _agent_file(tmp_path / "agents", agent_id)
    return tasks


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[AgentManager]:
    """Every AgentManager closed (the real ``aclose`` still runs)."""
    seen: list[AgentManager] = []
    real = AgentManager.aclose

    async def spy(self: AgentManager) -> None:
        seen.append(self)
        await real(self)

    monkeypatch.setattr(manager_module.AgentManager, "aclose", spy)
    return seen


async def test_the_executor_closes_the_manager_it_built(tmp_path: Path, closed: list[AgentManager]) -> None:
    tasks = _project(tmp_path)
    async with TaskExecutor(tasks_dir=tasks) as ex:
        result = await ex.execute("budgeted")
        assert result.status is ExecutionStatus.COMPLETED, result.error
        built = ex.agent_manager
        assert isinstance(built, AgentManager)
        assert closed == []
    assert closed == [built]  # leaving the block closed it


async def test_a_manager_given_by_the_user_is_left_open(tmp_path: Path, closed: list[AgentManager]) -> None:
    mine = make_manager({"alpha": lambda r: {"who": "mine"}, "beta": lambda r: {},
                         "gamma": lambda r: {}})
    ex = TaskExecutor(tasks_dir=_project(tmp_path), agent_manager=mine)
    assert (await ex.execute("budgeted")).status is ExecutionStatus.COMPLETED
    await ex.aclose()
    assert closed == []


def test_quorum_run_closes_the_manager_it_built(tmp_path: Path, closed: list[AgentManager]) -> None:
    result = run("budgeted", {}, tasks_dir=_project(tmp_path))
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert len(closed) == 1


async def test_model_overrides_reach_the_default_manager(tmp_path: Path) -> None:
    tasks = _project(tmp_path)
    async with TaskExecutor(tasks_dir=tasks,
                            model_overrides=[f"alpha=python:{_AGENTS}:override"]) as ex:
        result = await ex.execute("budgeted")
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert result.phases[PhaseName("Intake")].outputs["who"] == "override"
    analysis = result.phases[PhaseName("Analysis")].responses
    assert analysis[AgentId("alpha")].data["who"] == "override"
    assert analysis[AgentId("beta")].data["who"] == "file"  # only the one named was replaced
    async with TaskExecutor(tasks_dir=tasks, model_overrides=f"python:{_AGENTS}:override") as ex:
        every = await ex.execute("budgeted")
    assert {r.data["who"] for r in every.phases[PhaseName("Analysis")].responses.values()} == {"override"}


def _assert_stopped_by_budget(result: Any) -> None:
    assert result.status is ExecutionStatus.FAILED
    assert "budget exceeded" in (result.error or "")
    assert "calls" in (result.error or "")
    intake = result.phases["Intake"]
    assert intake.status is PhaseStatus.COMPLETED  # partial results kept
    assert intake.outputs["who"] in ("file", "mine")
    assert result.phases["Analysis"].status is PhaseStatus.FAILED
    assert result.usage.calls <= 3


# Both shapes: in a parallel phase the refused call is one of several in a task group (it must still
# be recognised as a budget stop, not as a plain failure that is retried).
SHAPES = pytest.mark.parametrize("parallel", [pytest.param(True, id="parallel"),
                                              pytest.param(False, id="sequential")])


@SHAPES
async def test_a_call_budget_ends_the_execution_through_the_default_manager(
    tmp_path: Path, parallel: bool
) -> None:
    tasks = _project(tmp_path, budget="budget: {maxCalls: 3}", parallel=parallel)
    async with TaskExecutor(tasks_dir=tasks) as ex:
        result = await ex.execute("budgeted")  # 1 call in Intake, then 3 in Analysis: the 4th is refused
        _assert_stopped_by_budget(result)
        assert ex.agent_manager.budget_usage(result.id) is None  # type: ignore[attr-defined]  # closed


@SHAPES
async def test_a_call_budget_ends_the_execution_through_a_users_manager(
    tmp_path: Path, parallel: bool
) -> None:
    tasks = _project(tmp_path, budget="budget: {maxCalls: 3}", parallel=parallel)
    mine = make_manager({"alpha": lambda r: {"who": "mine"}, "beta": lambda r: {"who": "mine"},
                         "gamma": lambda r: {"who": "mine"}})
    async with TaskExecutor(tasks_dir=tasks, agent_manager=mine) as ex:
        _assert_stopped_by_budget(await ex.execute("budgeted"))


async def test_within_budget_it_completes(tmp_path: Path) -> None:
    tasks = _project(tmp_path, budget="budget: {maxCalls: 4}")
    async with TaskExecutor(tasks_dir=tasks) as ex:
        result = await ex.execute("budgeted")
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert result.usage.calls == 4


async def test_a_call_budget_stops_concurrent_agent_steps() -> None:
    from tests.engine.run_helpers import agent_step, executor_with, phase, task

    ex = executor_with({"a": lambda r: {"v": 1}, "b": lambda r: {"v": 2}})
    t = task(phase("P", agent_step("a", "x"), agent_step("b", "y"), parallel=True), budget={"maxCalls": 1})
    result = await ex.execute(t)
    assert result.status is ExecutionStatus.FAILED
    assert "budget exceeded" in (result.error or "")
