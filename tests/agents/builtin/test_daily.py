"""Daily market analysis: classification, selection (3-5 agents), rapid analysts and the synthesis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorum.agents.builtin import get_specialist
from quorum.agents.builtin.daily import AGENTS_BY_TYPE, classify_question

from .harness import random_walk, request, run_phase

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("question", "qtype", "tickers"),
    [
        ("Will BTC go up this month?", "price-outlook", ["BTC"]),
        ("Compare AAPL vs MSFT", "comparison", ["AAPL", "MSFT"]),
        ("Is bitcoin or ethereum the better buy?", "comparison", ["BTC", "ETH"]),
        ("How risky is $TSLA right now, what's the downside?", "risk", ["TSLA"]),
        ("What does the Fed's rate decision and CPI mean for Apple?", "macro", ["AAPL"]),
        ("What is the news sentiment on NVDA?", "sentiment", ["NVDA"]),
        ("Good morning", "general", []),
        ("Is this an accurate forecast?", "price-outlook", []),  # "accurate" is not "rate"
        ("Is BTC overbought?", "price-outlook", ["BTC"]),  # technical terms are price questions
        ("What does the RSI say about ETH?", "price-outlook", ["ETH"]),
    ],
)
def test_classification(question: str, qtype: str, tickers: list[str]) -> None:
    result = classify_question(question)
    assert (result["question_type"], result["tickers"]) == (qtype, tickers)
    assert 3 <= len(result["agents"]) <= 5


def test_given_tickers_come_first_and_horizons_are_found() -> None:
    result = classify_question("Should I hold for 6 months?", ["eth"])
    assert result["tickers"] == ["ETH"]
    assert result["horizon"] == "6 months"


def _selected(inputs: dict[str, Any]) -> list[str]:
    phases: dict[str, Any] = {}
    run_phase(phases, "Question Classification", ["question-classifier"], inputs, outputs=["question_type"])
    answer = get_specialist("agent-selector")(
        request("agent-selector", inputs=inputs, phases=phases, outputs=("agents",))
    )
    assert answer["selection"]["kind"] == "agent-selection"
    return list(answer["agents"])


def test_selection_follows_the_classification() -> None:
    assert _selected({"question": "How volatile is ETH?"})[0] == "risk-monitor"
    assert _selected({"question": "Where are rates and inflation heading?"})[0] == "macro-strategist"
    outlook = _selected({"question": "Will BTC rally?"})
    assert outlook == ["market-technician", "news-sentiment", "risk-monitor"]
    with_macro = _selected({"question": "Will BTC rally?", "macro": {"rate_trend": "falling"}})
    assert with_macro == [*outlook, "macro-strategist"]
    for q in ("Compare BTC vs ETH", "hello", "news on AAPL?"):
        assert 3 <= len(_selected({"question": q})) <= 5


def _synthesis(inputs: dict[str, Any]) -> dict[str, Any]:
    phases: dict[str, Any] = {}
    run_phase(phases, "Question Classification", ["question-classifier"], inputs, outputs=["question_type"])
    run_phase(phases, "Contextual Agent Selection", ["agent-selector"], inputs, outputs=["agents"])
    run_phase(phases, "Rapid Analysis", phases["Contextual Agent Selection"]["outputs"]["agents"], inputs)
    outputs = ("question_type", "answer", "key_points", "tickers", "confidence", "agents_used", "stance")
    answer = get_specialist("answer-synthesizer")(
        request("answer-synthesizer", inputs=inputs, phases=phases, outputs=outputs)
    )
    assert answer["outputs_filled"] == list(outputs)
    return answer


def test_synthesis_discounts_confidence_by_abstentions() -> None:
    prices = random_walk(120, drift=0.004, vol=0.01)
    answer = _synthesis({"question": "Will BTC go up?", "prices": prices})
    used = {a["agent"]: a for a in answer["agents_used"]}
    assert used["news-sentiment"]["abstained"] is True
    answered = [a for a in answer["agents_used"] if not a["abstained"]]
    expected = sum(a["confidence"] for a in answered) / len(answered) * len(answered) / len(used)
    assert answer["confidence"] == pytest.approx(expected, abs=1e-4)
    assert answer["stance"] == "bullish"
    assert answer["tickers"] == ["BTC"]
    assert answer["answer"].startswith("The outlook for BTC is bullish")
    assert any("news-sentiment abstained" in p for p in answer["key_points"])


def test_comparison_ranks_the_tickers() -> None:
    answer = _synthesis(
        {
            "question": "Compare BTC vs ETH",
            "pricesByTicker": {
                "BTC": random_walk(120, seed=1, drift=-0.004),
                "ETH": random_walk(120, seed=1, drift=0.004),
            },
        }
    )
    assert answer["question_type"] == "comparison"
    assert answer["answer"].startswith("On the evidence, ETH leads BTC")


def test_without_any_data_the_answer_says_so() -> None:
    answer = _synthesis({"question": "Will gold rise?"})
    assert answer["confidence"] == 0.0
    assert answer["stance"] == "neutral"
    assert "cannot answer" in answer["answer"]
    assert answer["tickers"] == ["GLD"]


def test_a_plain_price_list_belongs_to_the_first_ticker_only() -> None:
    inputs = {"question": "Compare BTC vs ETH", "prices": random_walk(60)}
    answer = get_specialist("market-technician")(request("market-technician", inputs=inputs))
    assert list(answer["technicals"]) == ["BTC", "ranking"]


@settings(max_examples=60, deadline=None)
@given(question=st.text(min_size=1, max_size=200))
def test_any_question_gets_a_type_and_three_to_five_agents(question: str) -> None:
    result = classify_question(question)
    assert result["question_type"] in AGENTS_BY_TYPE
    assert 3 <= len(result["agents"]) <= 5
    assert len(set(result["tickers"])) == len(result["tickers"])
    answer = _synthesis({"question": question})
    assert 0.0 <= answer["confidence"] <= 1.0
