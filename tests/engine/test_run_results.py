"""``PhaseResult`` / ``ExecutionResult``: ``to_dict`` carries the API's field names (``responses``
included) and ``from_dict`` reads them back exactly."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.engine.results import ExecutionResult, PhaseResult, Usage
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.ids import AgentId, ExecutionId, PhaseName

pytestmark = pytest.mark.unit


def _answer(agent: str, **kw: object) -> AgentResponse:
    return AgentResponse(agent_id=AgentId(agent), **kw)  # type: ignore[arg-type]


def _phase() -> PhaseResult:
    return PhaseResult(
        name=PhaseName("Analysis"),
        status=PhaseStatus.COMPLETED,
        outputs=MappingProxyType({"stance": "bullish", "scores": (1, 2)}),
        answers=(
            _answer("a", error="timed out", latency_ms=5.0),
            _answer("a", text="up", data=MappingProxyType({"stance": "bullish"}), confidence=0.8),
            _answer("b", error="refused"),
            _answer("c", text="first", stance="bearish"),
            _answer("c", text="second", stance="neutral"),
        ),
        attempts=2, duration_ms=12.5, started_at=1.0, ended_at=2.0, warnings=("w",),
    )


def test_phase_to_dict_has_responses_the_latest_answer_of_each_agent() -> None:
    data = _phase().to_dict()
    assert set(data) >= {"name", "status", "outputs", "responses", "answers", "attempts", "duration_ms",
                         "error", "skipped_reason", "warnings"}
    responses = data["responses"]
    assert sorted(responses) == ["a", "b", "c"]
    assert responses["a"]["text"] == "up"            # its successful answer, not the earlier error
    assert responses["b"]["error"] == "refused"      # never succeeded: its error
    assert responses["c"]["text"] == "second"        # the latest one
    assert responses == {k: v.to_dict() for k, v in _phase().responses.items()}
    assert len(data["answers"]) == 5
    json.dumps(data)  # plain JSON


def test_phase_round_trip_is_exact() -> None:
    phase = _phase()
    data = phase.to_dict()
    again = PhaseResult.from_dict(json.loads(json.dumps(data)))
    assert again == phase
    assert again.to_dict() == data
    assert dict(again.responses) == dict(phase.responses)


def test_phase_from_responses_only() -> None:
    data = _phase().to_dict()
    del data["answers"]
    read = PhaseResult.from_dict(data)
    latest = {a: r.text or r.error for a, r in read.responses.items()}
    assert latest == {"a": "up", "b": "refused", "c": "second"}


def test_execution_round_trip_is_exact() -> None:
    result = ExecutionResult(
        id=ExecutionId("e1"), task="t", status=ExecutionStatus.FAILED,
        verdict=MappingProxyType({"decision": "HOLD"}), phases={PhaseName("Analysis"): _phase()},
        error="boom", duration_ms=33.0, started_at=1.0, ended_at=3.0,
        input=MappingProxyType({"ticker": "BTC"}), usage=Usage(calls=5, errors=2), checkpoints=("c1",),
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) >= {"id", "status", "verdict", "phases", "error", "duration_ms"}
    assert set(data["phases"]["Analysis"]) >= {"status", "outputs", "responses", "attempts",
                                               "duration_ms", "error"}
    again = ExecutionResult.from_dict(data)
    assert again == result
    assert again.to_dict() == data
