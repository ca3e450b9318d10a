"""Reading a market question: amounts, horizons, confidence levels, tickers and the dimension asked."""

from __future__ import annotations

import pytest

from quorum.agents.builtin.daily_question import (
    classify_question,
    parse_amount,
    parse_confidence_level,
    parse_question_horizon,
    question_tickers,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("question", "value", "currency"),
    [
        ("What is the downside on 10,000 over a week?", 10_000.0, None),
        ("downside on $10k in BTC", 10_000.0, "USD"),
        ("Could I lose on €2.5M of ETH next month?", 2_500_000.0, "EUR"),
        ("risk of 10 000 USD in SOL", 10_000.0, "USD"),
        ("£750 in AAPL", 750.0, "GBP"),
        ("GBP 500 at 99%", 500.0, "GBP"),
        ("5k dollars over two weeks", 5_000.0, "USD"),
        ("a 1.2 million position", 1_200_000.0, None),
        ("3bn in bonds", 3_000_000_000.0, None),
        ("What if I put 2500 into NVDA for 30 days?", 2_500.0, None),
    ],
)
def test_amounts_with_suffixes_and_currencies(question: str, value: float, currency: str | None) -> None:
    amount = parse_amount(question)
    assert amount is not None
    assert amount.value == pytest.approx(value)
    assert amount.currency == currency


@pytest.mark.parametrize(
    "question",
    [
        "Will BTC go up over the next 30 days?",  # a horizon, not money
        "VaR at 99% for ETH",  # a percentage
        "Where will AAPL be in 2025?",  # a year
        "Is Q3 good for MSFT?",  # part of a word
        "Is BTC overbought?",
        "hold 3000 days",
    ],
)
def test_numbers_that_are_not_money(question: str) -> None:
    assert parse_amount(question) is None


@pytest.mark.parametrize(
    ("question", "days"),
    [
        ("downside over a week", 7),
        ("over the next 30 days", 30),
        ("in 30d", 30),
        ("what about next month", 30),
        ("for two weeks", 14),
        ("over a fortnight", 14),
        ("in 6 months", 180),
        ("by tomorrow", 1),
        ("for 1.5 months", 45),
        ("next quarter", 91),
        ("over a year", 365),
        ("this week", 7),
    ],
)
def test_horizons_in_words_and_numbers(question: str, days: int) -> None:
    horizon = parse_question_horizon(question)
    assert horizon is not None
    assert horizon.calendar_days == days


def test_no_horizon_and_the_first_one_wins() -> None:
    assert parse_question_horizon("Which is riskier, BTC or ETH?") is None
    first = parse_question_horizon("over 2 weeks, or next month")
    assert first is not None
    assert first.calendar_days == 14


@pytest.mark.parametrize(
    ("question", "level"),
    [("VaR at 99% on BTC", 0.99), ("97.5% confidence", 0.975), ("VaR 99 for ETH", 0.99), ("BTC", None)],
)
def test_confidence_levels(question: str, level: float | None) -> None:
    assert parse_confidence_level(question) == (pytest.approx(level) if level else None)


def test_a_percentage_outside_var_levels_is_not_a_level() -> None:
    assert parse_confidence_level("BTC fell 10% this week") is None


@pytest.mark.parametrize(
    ("question", "tickers"),
    [
        ("Which is riskier, BTC or ETH?", ["BTC", "ETH"]),
        ("downside on $10k in $SOL over a week", ["SOL"]),
        ("Is bitcoin overbought?", ["BTC"]),
        ("VaR at 99% on 5,000 USD of BTC-USD", ["BTC-USD"]),
        ("What does the FED and CPI mean for AAPL vs MSFT?", ["AAPL", "MSFT"]),
    ],
)
def test_tickers(question: str, tickers: list[str]) -> None:
    assert question_tickers(question) == tickers


@pytest.mark.parametrize(
    ("question", "dimension", "qtype"),
    [
        ("Which is riskier, BTC or ETH?", "risk", "comparison"),
        ("How volatile is ETH?", "risk", "risk"),
        ("What's my downside on 10,000 over a week in BTC?", "downside", "risk"),
        ("How much could I lose with $5k of ETH by tomorrow?", "downside", "risk"),
        ("How risky is a 20k position in SOL for a month?", "downside", "risk"),  # risk with an amount
        ("Is BTC overbought?", "momentum", "price-outlook"),
        ("Is ETH oversold on the RSI?", "momentum", "price-outlook"),
        ("What does a rate hike mean for ETH?", "macro", "macro"),
        ("What's the news sentiment on NVDA?", "sentiment", "sentiment"),
        ("Will BTC go up this month?", "direction", "price-outlook"),
        ("Is bitcoin or ethereum the better buy?", "direction", "comparison"),
        ("Compare AAPL vs MSFT", "direction", "comparison"),
        ("Good morning", "general", "general"),
    ],
)
def test_the_dimension_asked(question: str, dimension: str, qtype: str) -> None:
    c = classify_question(question)
    assert (c["dimension"], c["question_type"]) == (dimension, qtype)


def test_the_classification_carries_the_parsed_figures() -> None:
    c = classify_question("What is the 99% downside on €10k of ETH over the next 2 weeks?")
    assert c["amount"] == 10_000.0
    assert c["currency"] == "EUR"
    assert c["horizon_days"] == 14
    assert c["confidence_level"] == pytest.approx(0.99)
    assert c["tickers"] == ["ETH"]
