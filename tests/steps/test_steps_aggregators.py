"""The built-in aggregators: consensus, vote (with its tie-break), average, merge, collect."""

from __future__ import annotations

from typing import Any

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.ids import AgentId
from quorum.steps.aggregate import BUILTIN_AGGREGATORS, average, collect, consensus, merge, vote
from quorum.steps.registry import StepRegistry

pytestmark = pytest.mark.unit


def r(agent: str, *, stance: str | None = None, confidence: float | None = None, text: str = "",
      **data: Any) -> AgentResponse:
    payload = dict(data)
    if stance is not None:
        payload["stance"] = stance
    return AgentResponse(agent_id=AgentId(agent), text=text, data=payload, confidence=confidence,
                         stance=stance if stance in ("bullish", "bearish", "neutral") else None)  # type: ignore[arg-type]


def test_consensus_is_confidence_weighted() -> None:
    answers = [r("a", stance="bullish", confidence=0.9), r("b", stance="bearish", confidence=0.3),
               r("c", stance="bearish", confidence=0.3), r("d", stance="bullish", confidence=0.5)]
    out = consensus(answers, {})
    assert out["stance"] == out["consensus"] == "bullish"
    assert out["weights"] == {"bullish": pytest.approx(1.4), "bearish": pytest.approx(0.6)}
    assert out["counts"] == {"bullish": 2, "bearish": 2}
    assert out["agreement"] == pytest.approx(1.4 / 2.0)
    assert out["dissenting"] == ["b", "c"]
    assert out["confidence"] == pytest.approx(0.7)
    assert out["participants"] == 4
    assert out["reached"] is True
    assert consensus(answers, {"min": 0.8})["reached"] is False
    equal = consensus([*answers, r("e", stance="bearish", confidence=0.1)], {"weight": "equal"})
    assert equal["stance"] == "bearish"
    assert equal["agreement"] == pytest.approx(0.6)


def test_consensus_tie_breaks_by_count_then_first_given() -> None:
    by_count = consensus([r("a", stance="for", confidence=1.0), r("b", stance="against", confidence=0.5),
                          r("c", stance="against", confidence=0.5)], {})
    assert by_count["stance"] == "against"
    first = consensus([r("a", stance="against"), r("b", stance="for")], {})
    assert first["stance"] == "against"
    assert first["agreement"] == 0.5


def test_consensus_without_stances() -> None:
    out = consensus([r("a", text="hello")], {})
    assert out["stance"] is None
    assert out["participants"] == 0
    assert out["reached"] is False


def test_vote_majority_and_documented_tie_break() -> None:
    out = vote([r("a", recommendation="buy"), r("b", recommendation="sell"), r("c", recommendation="buy")],
               {})
    assert out["winner"] == out["vote"] == "buy"
    assert out["tally"] == {"buy": 2, "sell": 1}
    assert out["votes"] == 3
    assert out["tie"] is False
    assert out["field"] == "recommendation"
    # tie on count: the higher summed confidence wins...
    tie = vote([r("a", decision="hold", confidence=0.2), r("b", decision="buy", confidence=0.9)],
               {"field": "decision"})
    assert tie["winner"] == "buy"
    assert tie["tie"] is True
    # ...and with equal confidence, the value voted for first.
    first = vote([r("a", decision="hold"), r("b", decision="buy")], {"field": "decision"})
    assert first["winner"] == "hold"
    stances = vote([r("a", stance="bullish"), r("b", stance="bullish")], {})
    assert stances["field"] == "stance"
    assert stances["winner"] == "bullish"
    assert vote([], {})["winner"] is None


def test_average_of_numeric_fields() -> None:
    answers = [r("a", score=1, flag=True, name="x", confidence=0.5), r("b", score=3, confidence=1.0),
               r("c", other=10)]
    out = average(answers, {})
    assert out["score"] == 2.0
    assert out["other"] == 10.0
    assert out["confidence"] == pytest.approx(0.75)
    assert "flag" not in out["averages"]
    assert "name" not in out["averages"]
    assert out["counts"]["score"] == 2
    assert out["count"] == 3
    only = average(answers, {"fields": "score"})
    assert only["averages"] == {"score": 2.0}


def test_merge_and_collect() -> None:
    answers = [r("a", x=1, y=1), r("b", y=2, z=3), r("c", text="just text")]
    assert merge(answers, {}) == {"x": 1, "y": 2, "z": 3, "text": "just text"}
    out = collect(answers, {})
    assert out["count"] == 3
    assert [c["agent"] for c in out["responses"]] == ["a", "b", "c"]
    assert out["responses"][2]["text"] == "just text"


def test_registry_holds_builtins_and_custom_ones() -> None:
    registry = StepRegistry()
    assert set(BUILTIN_AGGREGATORS) == {"consensus", "vote", "average", "merge", "collect"}
    assert registry.aggregator("vote") is vote
    registry.register_aggregator("first", lambda answers, params: {"first": answers[0].agent_id})
    assert registry.aggregator("first") is not None
    with pytest.raises(ValueError, match="built-in"):
        registry.register_step_strategy("prompt", lambda s, p, c: None)
    with pytest.raises(TypeError):
        registry.register_aggregator("x", "not callable")  # type: ignore[arg-type]
