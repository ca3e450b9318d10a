"""The two shipped workflows parse, lint clean and have the shape issue 2 asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

import quorum.definition.parser as parser_module
from quorum.agents.builtin import SPECIALISTS

pytestmark = pytest.mark.unit

TASKS = Path(__file__).resolve().parents[2] / "src" / "quorum" / "tasks"
ICM = TASKS / "investment-committee-meeting.md"
DMA = TASKS / "daily-market-analysis.md"


@pytest.fixture
def parser() -> object:
    return parser_module.TaskParser(agent_ids=list(SPECIALISTS))


@pytest.mark.parametrize("path", [ICM, DMA], ids=lambda p: p.stem)
def test_shipped_tasks_lint_clean(parser: object, path: Path) -> None:
    assert parser.lint_file(path) == []  # type: ignore[attr-defined]


def test_investment_committee_shape(parser: object) -> None:
    task = parser.parse_task_file(ICM)  # type: ignore[attr-defined]
    assert task.name == "investment-committee-meeting"
    assert task.phase_names == (
        "Activation",
        "Analysis",
        "Round Table",
        "Debate",
        "Validation",
        "Consensus",
        "Verdict",
        "Sign-off",
    )
    assert task.phase("Sign-off").when  # optional: only above input.approvalThreshold
    assert task.output.phase == "Verdict"
    agents = {a for p in task.phases for a in p.agents} | {
        s.agent for p in task.phases for s in p.steps if s.agent
    }
    assert 10 <= len(agents) <= 15
    assert agents <= set(SPECIALISTS)
    assert task.phase("Analysis").parallel
    assert not task.phase("Round Table").parallel
    assert task.phase("Debate").rounds >= 2
    assert {"red-team", "bull-advocate", "bear-advocate"} <= set(task.phase("Debate").agents)
    kinds = {s.kind.value for p in task.phases for s in p.steps}
    assert {"prompt", "agent", "validation", "aggregate", "approval"} <= kinds
    required = {r.name for r in task.requirements if r.required}
    assert required == {"ticker", "amount", "riskTolerance"}
    assert {r.name for r in task.requirements} >= {"timeHorizon", "prices"}
    verdict_outputs = {o.name for o in task.phase("Verdict").outputs}
    assert {
        "decision",
        "approved_amount",
        "tranches",
        "risk",
        "votes",
        "sources",
        "review",
    } <= verdict_outputs


def test_daily_market_analysis_shape(parser: object) -> None:
    task = parser.parse_task_file(DMA)  # type: ignore[attr-defined]
    assert task.phase_names == (
        "Question Classification",
        "Contextual Agent Selection",
        "Rapid Analysis",
        "Answer Synthesis",
    )
    rapid = task.phase("Rapid Analysis")
    assert rapid.parallel
    assert rapid.agents == ()
    assert rapid.agent_expressions == ('phases["Contextual Agent Selection"].outputs.agents',)
    assert [r.name for r in task.requirements if r.required] == ["question"]
