"""Prompts for LLM agents and validation of their JSON answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorum.agents.prompting import AnswerInvalid, answer_schema, build_prompt, validate_answer
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import OutputSpec, frozen_mapping
from quorum.ids import AgentId, ExecutionId, PhaseName

pytestmark = pytest.mark.unit

OUTPUTS = (
    OutputSpec(name="decision", type="string", description="APPROVE or REJECT"),
    OutputSpec(name="size", type="integer"),
    OutputSpec(name="risks", type="list"),
    OutputSpec(name="key points", type="object"),
    OutputSpec(name="anything"),
)


def req(**changes: Any) -> AgentRequest:
    fields: dict[str, Any] = {
        "agent_id": AgentId("risk-officer"),
        "prompt": "Apply the caps to {{ already rendered }}",
        "execution_id": ExecutionId("e"),
        "phase": PhaseName("Risk"),
        "context": frozen_mapping(
            {
                "input": {"ticker": "BTC", "amount": 10000},
                "phases": {
                    "Analysis": {"outputs": {"stance": "bullish"}, "status": "completed", "responses": {}},
                    "Skipped": {"outputs": {}, "status": "skipped"},
                },
                "execution": {"id": "e", "started_at": 12.0},
            }
        ),
        "peers": (
            AgentResponse(
                agent_id=AgentId("bull"),
                stance="bullish",
                confidence=0.8,
                recommendation="buy",
                rationale="trend",
            ),
            AgentResponse(agent_id=AgentId("bear"), error="timed out"),
        ),
        "outputs": OUTPUTS,
    }
    fields.update(changes)
    return AgentRequest(**fields)


def valid(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "decision": "APPROVE",
        "size": 3,
        "risks": ["vol"],
        "key points": {"a": 1},
        "anything": None,
        "stance": "neutral",
        "recommendation": "hold the size",
        "confidence": 0.4,
        "rationale": "caps",
    }
    data.update(changes)
    return data


def test_prompt_sections() -> None:
    prompt = build_prompt("  You are the risk officer.  ", req())
    assert prompt.system == "You are the risk officer."
    user = prompt.user
    assert user.startswith("## Task\n\nApply the caps to {{ already rendered }}")
    assert '## Inputs\n\n{"amount":10000,"ticker":"BTC"}' in user
    assert '{"Analysis":{"stance":"bullish"}}' in user  # only phases with outputs; no responses
    assert "- bull (bullish, confidence 0.80): buy — trend" in user
    assert "- bear: (no answer: timed out)" in user
    assert '- "decision" (string): APPROVE or REJECT' in user
    assert '- "key points" (object)' in user
    assert '- "anything" (any JSON value)' in user
    assert '- "stance" ("bullish" | "bearish" | "neutral")' in user
    assert "started_at" not in user  # volatile context stays out of the prompt (and the cache key)
    assert build_prompt("You are the risk officer.", req()) == prompt  # deterministic


def test_empty_persona_and_prompt_get_defaults() -> None:
    prompt = build_prompt("", req(prompt="", peers=(), context=frozen_mapping({})))
    assert prompt.system == "You are risk-officer, a careful analyst."
    assert "(no query" in prompt.user
    assert "## Inputs" not in prompt.user


def test_huge_context_is_truncated() -> None:
    prompt = build_prompt(
        "P", req(context=frozen_mapping({"input": {"blob": "x" * 100_000}})), max_context_chars=3000
    )
    assert len(prompt.user) < 5000
    assert "…(truncated)" in prompt.user


def test_valid_answers_pass_with_extra_keys_kept() -> None:
    data = validate_answer(json.dumps(valid(extra="kept")), OUTPUTS)
    assert data["key points"] == {"a": 1}
    assert data["extra"] == "kept"
    assert data["anything"] is None


@pytest.mark.errors
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("nope", "not valid JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps(valid(size="three")), "size"),
        (json.dumps(valid(confidence=-0.1)), "confidence"),
        (json.dumps(valid(stance="hold")), "stance"),
        (json.dumps({k: v for k, v in valid().items() if k != "decision"}), "decision: Field required"),
        (json.dumps({k: v for k, v in valid().items() if k != "rationale"}), "rationale"),
        (json.dumps(valid(risks="vol")), "risks"),
    ],
)
def test_invalid_answers_say_what_is_wrong(answer: str, expected: str) -> None:
    with pytest.raises(AnswerInvalid, match=expected):
        validate_answer(answer, OUTPUTS)


def test_schema_lists_every_field() -> None:
    schema = answer_schema(OUTPUTS)
    assert schema["required"] == [
        "decision", "size", "risks", "key points", "anything", "stance", "recommendation", "confidence",
        "rationale",
    ]  # fmt: skip
    assert schema["properties"]["size"] == {"type": "integer"}
    assert schema["properties"]["anything"] == {}
    assert schema["properties"]["confidence"] == {"type": "number", "minimum": 0, "maximum": 1}


@given(
    stance=st.sampled_from(["bullish", "bearish", "neutral"]),
    confidence=st.floats(min_value=0, max_value=1),
    text=st.text(max_size=30),
    size=st.integers(min_value=-(10**9), max_value=10**9),
)
def test_any_valid_answer_round_trips(stance: str, confidence: float, text: str, size: int) -> None:
    data = valid(stance=stance, confidence=confidence, recommendation=text, rationale=text, size=size)
    assert validate_answer(json.dumps(data), OUTPUTS) == data
