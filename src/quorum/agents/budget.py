"""Budgets per execution: tokens, cost and agent calls.

A call is refused before it starts when the call budget is spent (or tokens/cost are already over);
a call whose answer takes tokens or cost over the limit raises :class:`~quorum.errors.BudgetExceededError`
when it returns, so the execution stops as soon as a limit is crossed. Cached answers cost nothing
(their tokens and cost are not counted) but do count as calls. An answer that carries no cost (its
agent's file names no price, e.g. an agent moved to an LLM by ``--model``) is priced by its model from
the price table (:mod:`quorum.agents.prices`), so a ``maxCost`` budget holds whichever model answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quorum.agents.prices import PriceTable, active_prices
from quorum.agents.protocol import AgentResponse
from quorum.errors import BudgetExceededError, ConfigurationError

__all__ = ("Budget", "BudgetTracker", "BudgetUsage")


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    max_tokens: int | None = None
    max_cost: float | None = None
    """US dollars."""
    max_calls: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Budget:
        """From a task's ``budget: {maxTokens, maxCost, maxCalls}`` (snake_case accepted too)."""

        def pick(*names: str) -> Any:
            for name in names:
                if data.get(name) is not None:
                    return data[name]
            return None

        tokens, cost, calls = (
            pick("maxTokens", "max_tokens"),
            pick("maxCost", "max_cost"),
            pick("maxCalls", "max_calls"),
        )
        return cls(
            max_tokens=None if tokens is None else int(tokens),
            max_cost=None if cost is None else float(cost),
            max_calls=None if calls is None else int(calls),
        )

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_cost", "max_calls"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigurationError(f"budget {name} must not be negative, not {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetUsage:
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


class BudgetTracker:
    """The running totals of one execution against its budget."""

    __slots__ = ("budget", "calls", "cost_usd", "prices", "tokens_in", "tokens_out")

    def __init__(self, budget: Budget, *, prices: PriceTable | None = None) -> None:
        self.budget = budget
        self.prices = active_prices() if prices is None else prices
        self.calls = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost_usd = 0.0

    def usage(self) -> BudgetUsage:
        return BudgetUsage(
            calls=self.calls, tokens_in=self.tokens_in, tokens_out=self.tokens_out, cost_usd=self.cost_usd
        )

    def _check_spent(self) -> None:
        b = self.budget
        tokens = self.tokens_in + self.tokens_out
        if b.max_tokens is not None and tokens > b.max_tokens:
            raise BudgetExceededError("tokens", b.max_tokens, tokens)
        if b.max_cost is not None and self.cost_usd > b.max_cost:
            raise BudgetExceededError("cost", b.max_cost, self.cost_usd)

    def start_call(self) -> None:
        """Count a call about to start, or raise if the budget does not allow it."""
        self._check_spent()
        b = self.budget
        if b.max_calls is not None and self.calls >= b.max_calls:
            raise BudgetExceededError("calls", b.max_calls, self.calls + 1)
        self.calls += 1

    def add(self, response: AgentResponse) -> None:
        """Count what an answer used; raise if that crossed a limit."""
        if response.cached:
            return
        self.tokens_in += response.tokens_in
        self.tokens_out += response.tokens_out
        cost = response.cost_usd
        if cost is None and (response.tokens_in or response.tokens_out):
            cost = self.prices.cost(response.model, response.tokens_in, response.tokens_out)
        if cost:
            self.cost_usd += cost
        self._check_spent()
