"""Each LLM agent is asked for its own part of a phase: the outputs its file says it owns, never the
aggregates a step computes or another agent's outputs. Against the loopback OpenAI-compatible server."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.definitions import AgentDefinition, parse_agent_content, parse_agent_file
from quorum.agents.manager import AgentManager
from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import AgentRequest
from quorum.agents.providers import ProviderContext, build_agent
from quorum.definition.model import OutputSpec, frozen_mapping
from quorum.definition.parser import TaskParser
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.ids import AgentId, ExecutionId, PhaseName

from .llm_server import LLMServer, Reply, answer

pytestmark = [pytest.mark.integration]

KEY_VAR = "QUORUM_TEST_H1_KEY"
LIBRARY = resources.files("quorum.agents") / "library"
SHIPPED_TASK = resources.files("quorum") / "tasks" / "investment-committee-meeting.md"


@pytest.fixture
async def server() -> AsyncIterator[LLMServer]:
    srv = await LLMServer("openai").start()
    try:
        yield srv
    finally:
        await srv.close()


def on_server(definition: AgentDefinition, server: LLMServer) -> AgentDefinition:
    """The same agent file, answered by the loopback server with native structured output."""
    return dataclasses.replace(
        definition,
        model="openai:test-model",
        base_url=server.base_url,
        api_key_env=KEY_VAR,
        response_format="json_schema",
    )


def manager_of(*definitions: AgentDefinition) -> AgentManager:
    manager = AgentManager()
    for d in definitions:
        agent = build_agent(d, ProviderContext(env={KEY_VAR: "sk-test"}))
        manager.register(d.id, agent, policy=AgentPolicy(provider="openai"))
    return manager


def sent_schema(server: LLMServer, index: int) -> dict[str, Any]:
    schema: dict[str, Any] = server.requests[index].body["response_format"]["json_schema"]["schema"]
    return schema


def sent_prompt(server: LLMServer, index: int) -> str:
    return str(server.requests[index].body["messages"][-1]["content"])


def test_every_library_agent_names_the_outputs_it_owns() -> None:
    for path in sorted(Path(str(LIBRARY)).glob("*.md")):
        definition = parse_agent_file(path)
        assert definition.outputs, f"{path.name} declares no outputs"


async def test_an_analyst_is_asked_for_its_own_report_only(server: LLMServer) -> None:
    task = TaskParser().parse_task_file(str(SHIPPED_TASK))
    analysis = next(p for p in task.phases if p.name == "Analysis")
    assert {"consensus", "agreement", "dissenting", "macro"} <= {s.name for s in analysis.outputs}
    technical = on_server(parse_agent_file(Path(str(LIBRARY)) / "technical-analyst.md"), server)
    server.push(Reply(content=answer(technical={"trend": "up"})))
    manager = manager_of(technical)
    try:
        response = await manager.query(
            AgentRequest(
                agent_id=technical.id,
                prompt="Analyse BTC",
                execution_id=ExecutionId("e1"),
                phase=analysis.name,
                context=frozen_mapping({"input": {"ticker": "BTC"}}),
                outputs=analysis.outputs,
                timeout_s=10.0,
            )
        )
    finally:
        await manager.aclose()
    assert response.ok, response.error
    schema = sent_schema(server, 0)
    own = {"technical", "stance", "recommendation", "confidence", "rationale"}
    assert set(schema["properties"]) == own
    assert set(schema["required"]) == own
    prompt = sent_prompt(server, 0)
    for foreign in ('"consensus"', '"agreement"', '"dissenting"', '"macro"', '"quant_risk"'):
        assert foreign not in prompt
    assert '"technical" (object)' in prompt
    assert response.data["technical"] == {"trend": "up"}


PHASE_TASK = """\
# Two analysts

```yaml
name: two-analysts
```

## Phase: Analysis

### Agents
- chartist
- economist

### Steps
- Analyse {{ input.ticker }}.
- aggregate: consensus

### Outputs
- technical (object): the chartist's report
- macro (object): the economist's report
- consensus (string): the confidence-weighted stance
- agreement (number): the share of confidence behind it
- dissenting (list): the analysts whose stance differs
"""


def analyst_file(agent_id: str, owned: str) -> AgentDefinition:
    return parse_agent_content(
        f"---\nid: {agent_id}\nmodel: openai:test-model\noutputs: [{owned}]\n---\n"
        f"You are the {owned} analyst.\n",
        source=f"{agent_id}.md",
    )


async def test_a_phase_of_such_agents_gets_its_aggregates_computed(server: LLMServer) -> None:
    chartist = on_server(analyst_file("chartist", "technical"), server)
    economist = on_server(analyst_file("economist", "macro"), server)
    # Each answers with its own part only, as its schema asks: no consensus, agreement or dissent.
    server.push(
        Reply(content=answer(technical={"trend": "up"}, stance="bullish", confidence=0.8)),
        Reply(content=answer(macro={"rates": "rising"}, stance="bearish", confidence=0.2)),
    )
    manager = manager_of(chartist, economist)
    try:
        executor = TaskExecutor(agent_manager=manager, max_execution_time=30.0)
        task = TaskParser().parse_task_content(PHASE_TASK, source="two-analysts.md")
        result = await executor.execute(task, {"ticker": "BTC"})
    finally:
        await manager.aclose()
    assert result.status is ExecutionStatus.COMPLETED, result.error
    outputs = result.phases[PhaseName("Analysis")].outputs
    assert outputs["technical"] == {"trend": "up"}
    assert outputs["macro"] == {"rates": "rising"}
    assert outputs["consensus"] == "bullish"
    assert outputs["agreement"] == pytest.approx(0.8)
    assert list(outputs["dissenting"]) == ["economist"]
    assert len(server.requests) == 2  # both answers were valid at once: no repair prompt
    schemas = {json.dumps(sent_schema(server, i)["required"]) for i in range(2)}
    assert schemas == {
        json.dumps(["technical", "stance", "recommendation", "confidence", "rationale"]),
        json.dumps(["macro", "stance", "recommendation", "confidence", "rationale"]),
    }


def test_an_agent_file_without_outputs_is_offered_the_phase_outputs_as_optional() -> None:
    from quorum.agents.answer_shape import answer_shape

    outputs = (OutputSpec(name="report", type="object"), OutputSpec(name="consensus", type="string"))
    undeclared = answer_shape(outputs, None)
    assert undeclared.required == ()
    assert [s.name for s in undeclared.optional] == ["report", "consensus"]
    owns_none = answer_shape(outputs, ())
    assert owns_none.required == ()
    assert owns_none.optional == ()


def test_outputs_must_be_a_list_of_names() -> None:
    from quorum.agents.definitions import lint_agent_content

    problems = lint_agent_content(
        "---\nid: a\nmodel: openai:m\noutputs: {technical: 1}\n---\nP\n", source="a.md"
    )
    assert [(p.line, "'outputs' must be a list of words" in p.message) for p in problems] == [(4, True)]
    one = parse_agent_content("---\nid: a\nmodel: openai:m\noutputs: technical\n---\nP\n")
    assert one.outputs == ("technical",)
    assert AgentId("a") == one.id
