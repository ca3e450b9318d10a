"""Every specialist's contract: declared outputs filled, stance and confidence in range, deterministic,
and abstaining (never inventing numbers) without its data."""

from __future__ import annotations

import math
from typing import Any

import pytest

from quorum.agents.builtin import SPECIALISTS, get_specialist

from .harness import random_walk, request, run_committee, run_phase

pytestmark = pytest.mark.unit

PRICES = random_walk(200, drift=0.002, vol=0.03)
COMMITTEE = {
    "ticker": "BTC",
    "amount": 10_000,
    "timeHorizon": "30 days",
    "riskTolerance": "medium",
    "prices": PRICES,
}
DAILY = {
    "question": "Will BTC go up this month?",
    "prices": PRICES,
    "news": ["Bitcoin ETF inflows hit a record"],
    "macro": {"rate_trend": "falling"},
}

OUTPUTS: dict[str, tuple[str, ...]] = {
    "intake-validator": ("request",),
    "data-steward": ("snapshot",),
    "technical-analyst": ("technical",),
    "fundamental-analyst": ("fundamental",),
    "sentiment-analyst": ("sentiment",),
    "macro-analyst": ("macro",),
    "quant-risk-analyst": ("quant_risk",),
    "execution-strategist": ("plan",),
    "bull-advocate": ("bull_case",),
    "bear-advocate": ("bear_case",),
    "red-team": ("challenges",),
    "risk-officer": ("risk", "approved_cap", "clamps"),
    "compliance-officer": ("compliance",),
    "committee-chair": ("votes", "tally", "outcome", "dissent"),
    "portfolio-manager": (
        "decision",
        "action",
        "conviction",
        "approved_amount",
        "tranches",
        "risk",
        "conditions",
        "invalidation",
        "votes",
        "validation",
        "review",
        "sources",
    ),
    "question-classifier": ("question_type", "tickers", "horizon", "classification"),
    "agent-selector": ("agents", "reasons"),
    "market-technician": ("technicals",),
    "macro-strategist": ("macro",),
    "news-sentiment": ("sentiment",),
    "risk-monitor": ("risk",),
    "answer-synthesizer": (
        "question_type",
        "answer",
        "key_points",
        "tickers",
        "stance",
        "confidence",
        "agents_used",
    ),
}
DAILY_AGENTS = {
    "question-classifier",
    "agent-selector",
    "market-technician",
    "macro-strategist",
    "news-sentiment",
    "risk-monitor",
    "answer-synthesizer",
}


@pytest.fixture(scope="module")
def committee_phases() -> dict[str, Any]:
    return run_committee(COMMITTEE)[1]


@pytest.fixture(scope="module")
def daily_phases() -> dict[str, Any]:
    phases: dict[str, Any] = {}
    run_phase(
        phases,
        "Question Classification",
        ["question-classifier"],
        DAILY,
        outputs=["question_type", "tickers"],
    )
    run_phase(phases, "Contextual Agent Selection", ["agent-selector"], DAILY, outputs=["agents"])
    run_phase(
        phases,
        "Rapid Analysis",
        ["market-technician", "macro-strategist", "news-sentiment", "risk-monitor"],
        DAILY,
    )
    return phases


def test_every_agent_of_the_flagship_workflows_is_registered() -> None:
    assert set(SPECIALISTS) == set(OUTPUTS)
    with pytest.raises(KeyError, match="known: agent-selector"):
        get_specialist("no-such-agent")


@pytest.mark.parametrize("agent", sorted(OUTPUTS))
def test_contract(agent: str, committee_phases: dict[str, Any], daily_phases: dict[str, Any]) -> None:
    inputs, phases = (DAILY, daily_phases) if agent in DAILY_AGENTS else (COMMITTEE, committee_phases)
    req = request(agent, inputs=inputs, phases=phases, outputs=OUTPUTS[agent])
    answer = get_specialist(agent)(req)
    assert answer["outputs_filled"] == list(OUTPUTS[agent])
    for name in OUTPUTS[agent]:
        assert answer[name] is not None, name
    assert answer["stance"] in ("bullish", "bearish", "neutral")
    assert 0.0 <= answer["confidence"] <= 1.0
    for key in ("recommendation", "rationale", "text"):
        assert isinstance(answer[key], str)
        assert answer[key]
    assert answer["agent"] == agent
    # deterministic: the same request gives the same answer
    assert get_specialist(agent)(req) == answer


ANALYSTS = {
    "technical-analyst": "technical",
    "fundamental-analyst": "fundamental",
    "sentiment-analyst": "sentiment",
    "macro-analyst": "macro",
    "quant-risk-analyst": "quant_risk",
}
BARE = {"ticker": "AAPL", "amount": 5_000, "timeHorizon": "6 months", "riskTolerance": "low"}


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, float) and not math.isnan(value):
        return [value]
    return []


@pytest.mark.parametrize(("agent", "topic"), sorted(ANALYSTS.items()))
def test_analysts_abstain_without_their_data(agent: str, topic: str) -> None:
    answer = get_specialist(agent)(request(agent, inputs=BARE, outputs=(topic,)))
    assert answer["abstained"] is True
    assert answer["stance"] == "neutral"
    assert answer["confidence"] == 0.0
    assert answer["data_gaps"]
    assert answer["evidence"] == []
    assert _numbers(answer[topic]) == []  # nothing estimated in place of the missing data
    assert "abstain" in answer["text"]


@pytest.mark.parametrize("agent", ["market-technician", "macro-strategist", "news-sentiment", "risk-monitor"])
def test_daily_analysts_abstain_without_their_data(agent: str) -> None:
    answer = get_specialist(agent)(request(agent, inputs={"question": "Is AAPL a buy?"}))
    assert (answer["abstained"], answer["stance"], answer["confidence"]) == (True, "neutral", 0.0)
    assert answer["evidence"] == []


def test_analysts_use_optional_data_when_given() -> None:
    inputs = {
        **BARE,
        "fundamentals": {"revenue_growth": 0.25, "profit_margin": 0.3, "pe_ratio": 12, "colour": "blue"},
        "news": [
            "Apple beats estimates as iPhone sales surge",
            "Analysts upgrade Apple",
            "Apple holds event",
        ],
        "macro": {"rate_trend": "rising", "inflation": 5.2, "gdp_growth": -0.5, "vix": 31},
    }
    fundamental = get_specialist("fundamental-analyst")(request("fundamental-analyst", inputs=inputs))
    assert (fundamental["stance"], fundamental["abstained"]) == ("bullish", False)
    assert fundamental["fundamental"]["ignored"] == ["colour"]
    sentiment = get_specialist("sentiment-analyst")(request("sentiment-analyst", inputs=inputs))
    assert sentiment["stance"] == "bullish"
    assert sentiment["sentiment"]["headlines_read"] == 3
    assert sentiment["sentiment"]["headlines_scored"] == 2
    macro = get_specialist("macro-analyst")(request("macro-analyst", inputs=inputs))
    assert macro["stance"] == "bearish"
    assert {e["metric"] for e in macro["evidence"]} == {"rate_trend", "inflation", "gdp_growth", "vix"}
