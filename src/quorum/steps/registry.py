"""Where step strategies and aggregators are registered (one registry per executor)."""

from __future__ import annotations

from quorum.steps.aggregate import BUILTIN_AGGREGATORS
from quorum.steps.protocol import Aggregator, StepStrategy

__all__ = ("StepRegistry",)

_BUILTIN_STEPS = frozenset({"prompt", "agent", "validation", "aggregate"})


class StepRegistry:
    def __init__(self) -> None:
        self.strategies: dict[str, StepStrategy] = {}
        self.aggregators: dict[str, Aggregator] = dict(BUILTIN_AGGREGATORS)

    def register_step_strategy(self, step_type: str, handler: StepStrategy) -> None:
        if step_type in _BUILTIN_STEPS:
            raise ValueError(f"{step_type!r} is a built-in step type; choose another name")
        if not callable(handler):
            raise TypeError("a step strategy must be callable: handler(step, phase, context)")
        self.strategies[step_type] = handler

    def register_aggregator(self, name: str, aggregator: Aggregator) -> None:
        if not callable(aggregator):
            raise TypeError("an aggregator must be callable: aggregator(answers, parameters)")
        self.aggregators[name] = aggregator

    def strategy(self, step_type: str) -> StepStrategy | None:
        return self.strategies.get(step_type)

    def aggregator(self, name: str) -> Aggregator | None:
        return self.aggregators.get(name)
