"""Outputs that name their allowed values are enums: in the schema sent, and in the validation that
triggers the repair re-prompt. ``response_format: text`` agents answer in plain text."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.answer_shape import choices_of
from quorum.agents.builtin.daily import AGENTS_BY_TYPE
from quorum.agents.definitions import AgentDefinition, parse_agent_file
from quorum.agents.manager import AgentManager
from quorum.agents.policy import AgentPolicy
from quorum.agents.prompting import AnswerInvalid, validate_answer
from quorum.agents.protocol import AgentRequest
from quorum.agents.providers import ProviderContext, build_agent
from quorum.definition.model import OutputSpec, Phase, frozen_mapping
from quorum.definition.parser import TaskParser
from quorum.ids import ExecutionId

from .llm_server import LLMServer, Reply, answer

pytestmark = [pytest.mark.integration]

KEY_VAR = "QUORUM_TEST_H1_KEY"
LIBRARY = Path(str(resources.files("quorum.agents") / "library"))
TASKS = Path(str(resources.files("quorum") / "tasks"))
DECISIONS = ["APPROVE", "APPROVE_WITH_CONDITIONS", "REJECT", "DEFER"]


@pytest.fixture
async def server() -> AsyncIterator[LLMServer]:
    srv = await LLMServer("openai").start()
    try:
        yield srv
    finally:
        await srv.close()


def shipped_phase(task: str, name: str) -> Phase:
    parsed = TaskParser().parse_task_file(str(TASKS / f"{task}.md"))
    return next(p for p in parsed.phases if p.name == name)


def on_server(agent: str, server: LLMServer, **changes: Any) -> AgentDefinition:
    fields: dict[str, Any] = {
        "model": "openai:test-model",
        "base_url": server.base_url,
        "api_key_env": KEY_VAR,
        "response_format": "json_schema",
    }
    fields.update(changes)
    return dataclasses.replace(parse_agent_file(LIBRARY / f"{agent}.md"), **fields)


async def ask(definition: AgentDefinition, phase: Phase) -> Any:
    manager = AgentManager()
    manager.register(
        definition.id,
        build_agent(definition, ProviderContext(env={KEY_VAR: "sk-test"})),
        policy=AgentPolicy(provider="openai"),
    )
    try:
        return await manager.query(
            AgentRequest(
                agent_id=definition.id,
                prompt="Decide",
                execution_id=ExecutionId("e1"),
                phase=phase.name,
                context=frozen_mapping({"input": {"ticker": "BTC"}}),
                outputs=phase.outputs,
                timeout_s=10.0,
            )
        )
    finally:
        await manager.aclose()


def verdict(**changes: Any) -> str:
    fields: dict[str, Any] = dict.fromkeys(parse_agent_file(LIBRARY / "portfolio-manager.md").outputs or ())
    fields.update(changes)
    return answer(**fields)


async def test_a_decision_outside_its_values_is_repaired_not_accepted(server: LLMServer) -> None:
    phase = shipped_phase("investment-committee-meeting", "Verdict")
    server.push(Reply(content=verdict(decision="BUY")), Reply(content=verdict(decision="APPROVE")))
    response = await ask(on_server("portfolio-manager", server), phase)
    assert response.ok, response.error
    assert response.data["decision"] == "APPROVE"
    schema = server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["decision"]["enum"] == DECISIONS
    assert len(server.requests) == 2  # the repair re-prompt
    repair = str(server.requests[1].body["messages"][-1]["content"])
    assert "decision" in repair
    for value in DECISIONS:
        assert value in repair


async def test_the_selector_is_told_the_valid_agent_ids_and_repaired(server: LLMServer) -> None:
    phase = shipped_phase("daily-market-analysis", "Contextual Agent Selection")
    ids = ["market-technician", "news-sentiment", "risk-monitor", "macro-strategist"]
    assert sorted(ids) == sorted({a for chosen in AGENTS_BY_TYPE.values() for a in chosen})
    agents_spec = next(s for s in phase.outputs if s.name == "agents")
    assert sorted(choices_of(agents_spec) or ()) == sorted(ids)
    step_text = " ".join(step.text or "" for step in phase.steps)
    for agent_id in ids:
        assert agent_id in step_text  # the selector's query names every id it may choose
    invalid = answer(agents=["market-technician", "chart-guru", "risk-monitor"], reasons={})
    valid = answer(agents=["market-technician", "news-sentiment", "risk-monitor"], reasons={})
    server.push(Reply(content=invalid), Reply(content=valid))
    response = await ask(on_server("agent-selector", server), phase)
    assert response.ok, response.error
    assert list(response.data["agents"]) == ["market-technician", "news-sentiment", "risk-monitor"]
    schema = server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert sorted(schema["properties"]["agents"]["items"]["enum"]) == sorted(ids)
    prompt = str(server.requests[0].body["messages"][-1]["content"])
    for agent_id in ids:
        assert f'"{agent_id}"' in prompt  # the answer format lists them too
    repair = str(server.requests[1].body["messages"][-1]["content"])
    assert "agents.1" in repair
    for agent_id in ids:
        assert agent_id in repair


async def test_a_text_agent_answers_in_plain_text(server: LLMServer) -> None:
    phase = shipped_phase("daily-market-analysis", "Answer Synthesis")
    server.push(Reply(content="BTC looks firm this month: the trend is up, but the data on news is thin."))
    definition = on_server("answer-synthesizer", server, response_format="text")
    response = await ask(definition, phase)
    assert response.ok, response.error
    assert response.text.startswith("BTC looks firm")
    assert len(server.requests) == 1  # accepted as it is: no repair prompt
    body = server.requests[0].body
    assert "response_format" not in body
    prompt = str(body["messages"][-1]["content"])
    assert "plain text" in prompt
    assert "JSON" not in prompt


@pytest.mark.errors
def test_validation_names_the_allowed_values() -> None:
    spec = OutputSpec(name="outcome", type="string", description="approve, reject, tie, no-quorum or vetoed")
    base = json.loads(answer())
    assert validate_answer(json.dumps({**base, "outcome": "no-quorum"}), (spec,))["outcome"] == "no-quorum"
    assert validate_answer(json.dumps({**base, "outcome": None}), (spec,))["outcome"] is None
    with pytest.raises(AnswerInvalid, match="outcome: Input should be 'approve', 'reject'"):
        validate_answer(json.dumps({**base, "outcome": "carried"}), (spec,))


@pytest.mark.parametrize(
    ("description", "kind", "values"),
    [
        ("APPROVE, APPROVE_WITH_CONDITIONS, REJECT or DEFER", "string", tuple(DECISIONS)),
        ("bullish, bearish or neutral.", None, ("bullish", "bearish", "neutral")),
        ("in order: market-technician or risk-monitor", "list", ("market-technician", "risk-monitor")),
        ("the analysts' confidence-weighted stance", "string", None),
        ("buy or sell now", "string", None),
        ("APPROVE, REJECT and ABSTAIN counts", "object", None),
        ("0 to 100", "integer", None),
    ],
)
def test_which_descriptions_name_values(
    description: str, kind: str | None, values: tuple[str, ...] | None
) -> None:
    assert choices_of(OutputSpec(name="x", type=kind, description=description)) == values
