"""The price table budgets use for answers that carry no cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.agents.budget import Budget, BudgetTracker
from quorum.agents.prices import Price, PriceTable, load_price_file, using_prices
from quorum.agents.protocol import AgentResponse
from quorum.errors import BudgetExceededError, ConfigurationError
from quorum.ids import AgentId

pytestmark = pytest.mark.unit


def _answer(model: str, tokens_in: int, tokens_out: int, cost: float | None = None) -> AgentResponse:
    return AgentResponse(agent_id=AgentId("a"), text="", model=model, tokens_in=tokens_in,
                         tokens_out=tokens_out, cost_usd=cost)


def test_a_dated_snapshot_is_priced_as_its_model_and_unknown_models_are_not() -> None:
    table = PriceTable()
    assert table.price_of("openai:gpt-4.1-mini") == Price(0.40, 1.60)
    assert table.price_of("openai:gpt-4.1-mini-2025-04-14") == Price(0.40, 1.60)  # not gpt-4.1's
    assert table.price_of("openai:gpt-4.1-2025-04-14") == Price(2.00, 8.00)
    assert table.price_of("openai:gpt-4.1x") is None
    assert table.cost("python:m:f", 10, 10) is None


def test_the_budget_prices_an_unpriced_answer_by_its_model() -> None:
    tracker = BudgetTracker(Budget(max_cost=0.001))
    tracker.add(_answer("openai:gpt-4.1-mini", 1000, 300))  # 0.00088 USD
    assert tracker.cost_usd == pytest.approx(0.00088)
    with pytest.raises(BudgetExceededError, match="cost"):
        tracker.add(_answer("openai:gpt-4.1-mini", 1000, 0))
    priced = BudgetTracker(Budget(max_cost=1.0))
    priced.add(_answer("openai:gpt-4.1-mini", 1000, 300, cost=0.5))  # its own price wins
    assert priced.cost_usd == pytest.approx(0.5)


def test_a_price_file_replaces_entries_in_its_context(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["openai:gpt-4.1-mini"]\ninput = 0\noutput = 0\n["local:mine"]\ninput = 1\n')
    table = load_price_file(prices)
    assert table.price_of("openai:gpt-4.1-mini") == Price(0.0, 0.0)
    assert table.price_of("local:mine") == Price(1.0, 0.0)
    assert table.price_of("openai:gpt-4o") == Price(2.50, 10.00)  # the rest of the table stays
    with using_prices(table):
        tracker = BudgetTracker(Budget(max_cost=0.0))
        tracker.add(_answer("openai:gpt-4.1-mini", 10_000, 10_000))
    assert BudgetTracker(Budget()).prices.price_of("openai:gpt-4.1-mini") == Price(0.40, 1.60)


@pytest.mark.errors
def test_a_bad_price_file_says_where_and_what(tmp_path: Path) -> None:
    broken = tmp_path / "p.json"
    broken.write_text('{\n  "openai:x": {"input": 1,\n}')
    with pytest.raises(ConfigurationError, match=r"p\.json:3: not valid JSON"):
        load_price_file(broken)
    wrong = tmp_path / "w.json"
    wrong.write_text('{"openai:x": {"in": 1}}')
    with pytest.raises(ConfigurationError, match=r"'openai:x': expected \{input, output\}"):
        load_price_file(wrong)
