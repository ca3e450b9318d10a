"""``gen_ai.response.model`` is the model the answer reports, never merely the one that was requested."""

from __future__ import annotations

from quorum.agents.protocol import AgentResponse
from quorum.events import ResponseRecord
from quorum.ids import AgentId
from quorum.telemetry.attributes import chat_attributes, response_attributes, response_model


def test_the_reported_model_wins_over_the_requested_one() -> None:
    answer = {"model": "openai:gpt-4.1-mini", "response_model": "gpt-4.1-mini-2025-04-14", "tokens_in": 3}
    for attributes in (response_attributes(answer, capture_content=False),
                       chat_attributes(answer, capture_content=False)):
        assert attributes["gen_ai.request.model"] == "gpt-4.1-mini"
        assert attributes["gen_ai.response.model"] == "gpt-4.1-mini-2025-04-14"


def test_a_remote_answer_that_reports_no_model_has_no_response_model() -> None:
    answer = {"model": "anthropic:claude-haiku-4-5"}
    assert response_model(answer) == ""
    assert "gen_ai.response.model" not in response_attributes(answer, capture_content=False)
    assert "gen_ai.response.model" not in chat_attributes(answer, capture_content=False)


def test_an_agent_answered_in_this_process_is_its_own_model() -> None:
    record = ResponseRecord(AgentResponse(agent_id=AgentId("a"), model="builtin:technical-analyst"))
    assert response_model(record) == "technical-analyst"
    assert response_attributes(record, capture_content=False)["gen_ai.response.model"] == "technical-analyst"
