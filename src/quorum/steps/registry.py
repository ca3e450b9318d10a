"""Where step strategies and aggregators are registered (one registry per executor).

Besides what is registered in code, installed packages can provide both through entry points, as model
providers do (``quorum.providers``)::

    [project.entry-points."quorum.step_strategies"]
    sentiment = "my_package.steps:sentiment"      # used by '- sentiment: ...' steps
    [project.entry-points."quorum.aggregators"]
    median = "my_package.aggregate:median"        # used by '- aggregate: median' steps

The engine installs its own strategies too (:meth:`StepRegistry.install`): ``task`` (a child
execution, :mod:`quorum.engine.children`) and ``allocate`` (:mod:`quorum.engine.allocation`). One
registered under the same name wins over them.

They are looked up lazily, by name, the first time a task uses that name (nothing is imported for
tasks that do not); a registered one wins over an installed one. An entry point that fails to import,
or names something that is not callable, is a ``ConfigurationError`` naming the entry point.
"""

from __future__ import annotations

from typing import Any

from quorum.errors import ConfigurationError
from quorum.steps.aggregate import BUILTIN_AGGREGATORS
from quorum.steps.protocol import Aggregator, StepStrategy

__all__ = ("AGGREGATOR_GROUP", "STEP_STRATEGY_GROUP", "StepRegistry")

STEP_STRATEGY_GROUP = "quorum.step_strategies"
AGGREGATOR_GROUP = "quorum.aggregators"
_BUILTIN_STEPS = frozenset({"prompt", "agent", "validation", "aggregate"})


def _installed(group: str, name: str, what: str) -> Any | None:
    """The object the entry point ``name`` of ``group`` names, or None when no package provides it."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=group, name=name):
        try:
            found = ep.load()
        except Exception as exc:
            raise ConfigurationError(
                f"the {what} {name!r} (entry point {ep.name} = {ep.value} in {group}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not callable(found):
            raise ConfigurationError(
                f"the {what} {name!r} (entry point {ep.name} = {ep.value} in {group}) is not callable"
            )
        return found
    return None


class StepRegistry:
    def __init__(self) -> None:
        self.strategies: dict[str, StepStrategy] = {}
        self.engine_strategies: dict[str, StepStrategy] = {}
        """The engine's own step types (``task``, ``allocate``): used unless one is registered."""
        self.aggregators: dict[str, Aggregator] = dict(BUILTIN_AGGREGATORS)
        # Entry points looked up already (None: no package provides the name), so each is looked up once.
        self._installed_strategies: dict[str, StepStrategy | None] = {}
        self._installed_aggregators: dict[str, Aggregator | None] = {}

    def register_step_strategy(self, step_type: str, handler: StepStrategy) -> None:
        if step_type in _BUILTIN_STEPS:
            raise ValueError(f"{step_type!r} is a built-in step type; choose another name")
        if not callable(handler):
            raise TypeError("a step strategy must be callable: handler(step, phase, context)")
        self.strategies[step_type] = handler

    def install(self, step_type: str, handler: StepStrategy) -> None:
        """An engine-provided strategy (the executor's ``task`` steps): a registered one wins."""
        if step_type in _BUILTIN_STEPS:
            raise ValueError(f"{step_type!r} is a built-in step type")
        self.engine_strategies[step_type] = handler

    def register_aggregator(self, name: str, aggregator: Aggregator) -> None:
        if not callable(aggregator):
            raise TypeError("an aggregator must be callable: aggregator(answers, parameters)")
        self.aggregators[name] = aggregator

    def strategy(self, step_type: str) -> StepStrategy | None:
        found = self.strategies.get(step_type)
        if found is not None or step_type in _BUILTIN_STEPS:
            return found
        found = self.engine_strategies.get(step_type)
        if found is not None:
            return found
        if step_type not in self._installed_strategies:
            loaded = _installed(STEP_STRATEGY_GROUP, step_type, "step strategy")
            self._installed_strategies[step_type] = loaded
        return self._installed_strategies[step_type]

    def aggregator(self, name: str) -> Aggregator | None:
        found = self.aggregators.get(name)
        if found is not None:
            return found
        if name not in self._installed_aggregators:
            self._installed_aggregators[name] = _installed(AGGREGATOR_GROUP, name, "aggregator")
        return self._installed_aggregators[name]
