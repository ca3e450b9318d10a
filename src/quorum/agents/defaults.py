"""default_agent_manager: the AgentManager the engine builds when the user gives none.

It loads every agent definition (the package's built-in agent files, ``agents/`` beside the tasks, and
``agents_dirs``; later ones override by id), applies model overrides (``--model``), and builds each agent
from its model string. Built-in specialists that no file describes are registered too, under their own
names (``builtin:<name>``), so the shipped workflows run offline even without agent files.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace

from quorum.agents.cache import CacheMode, ResponseCache
from quorum.agents.definitions import AgentDefinition
from quorum.agents.llm import ChunkHook
from quorum.agents.manager import AgentManager
from quorum.agents.models import ModelOverrides, parse_model_overrides
from quorum.agents.policy import policy_from_definition
from quorum.agents.prices import active_prices
from quorum.agents.providers import ProviderContext, build_agent
from quorum.agents.registry import AgentRegistry
from quorum.agents.resilience import Backoff
from quorum.definition.model import frozen_mapping
from quorum.definition.suggest import suggest
from quorum.errors import ConfigurationError
from quorum.ids import AgentId

__all__ = ("builtin_specialist_names", "default_agent_manager", "load_definitions")


def builtin_specialist_names() -> list[str]:
    """Names of the offline specialists shipped in ``quorum.agents.builtin`` (none if absent)."""
    try:
        builtin = importlib.import_module("quorum.agents.builtin")
    except ImportError:
        return []
    return sorted(getattr(builtin, "SPECIALISTS", {}) or ())


def load_definitions(
    agents_dirs: Iterable[str | os.PathLike[str]] = (),
    tasks_dirs: Iterable[str | os.PathLike[str]] = (),
    *,
    include_builtin: bool = True,
    model_overrides: ModelOverrides | Iterable[str] | str | None = None,
) -> dict[str, AgentDefinition]:
    """Every agent definition by id, overrides applied. DefinitionError/ConfigurationError on problems."""
    registry = AgentRegistry(agents_dirs, tasks_dirs=tasks_dirs, include_builtin=include_builtin)
    definitions = registry.load()
    if include_builtin:
        for name in builtin_specialist_names():
            if name not in definitions:
                definitions[name] = AgentDefinition(id=AgentId(name), model=f"builtin:{name}", name=name)
    overrides = (
        model_overrides
        if isinstance(model_overrides, ModelOverrides)
        else parse_model_overrides(model_overrides)
    )
    if overrides:
        unknown = overrides.unknown_agents(definitions)
        if unknown:
            guess = suggest(unknown[0], definitions)
            raise ConfigurationError(
                f"--model names an unknown agent {unknown[0]!r}"
                + (
                    f"; did you mean {guess!r}?"
                    if guess
                    else f"; known agents: {', '.join(sorted(definitions))}"
                )
            )
        definitions = {agent_id: _overridden(d, overrides.model_for(agent_id, d.model))
                       for agent_id, d in definitions.items()}
    return {agent_id: _priced(d) for agent_id, d in definitions.items()}


def _overridden(definition: AgentDefinition, model: str) -> AgentDefinition:
    # A file's price is for the file's model: another model is priced from the table.
    if model == definition.model:
        return definition
    return replace(definition, model=model, price_in_per_mtok=None, price_out_per_mtok=None)


def _priced(definition: AgentDefinition) -> AgentDefinition:
    """The definition with the price table's price for its model, when its file sets none."""
    if definition.price_in_per_mtok is not None or definition.price_out_per_mtok is not None:
        return definition
    price = active_prices().price_of(definition.model)
    if price is None:
        return definition
    return replace(definition, price_in_per_mtok=price.input_per_mtok,
                   price_out_per_mtok=price.output_per_mtok)


def default_agent_manager(
    agents_dirs: Iterable[str | os.PathLike[str]] = (),
    tasks_dirs: Iterable[str | os.PathLike[str]] = (),
    model_overrides: ModelOverrides | Iterable[str] | str | None = None,
    cache: ResponseCache | str | os.PathLike[str] | None = None,
    *,
    cache_mode: CacheMode = "read_write",
    include_builtin: bool = True,
    endpoints: Mapping[str, str] | None = None,
    config: Mapping[str, str | None] | None = None,
    env: Mapping[str, str] | None = None,
    rate_limits: Mapping[str, float] | None = None,
    on_chunk: ChunkHook | None = None,
    default_timeout_s: float | None = 60.0,
    backoff: Backoff | None = None,
) -> AgentManager:
    """An AgentManager holding every agent found, each built from its model string.

    ``cache`` is a :class:`ResponseCache`, or where one is (opened in ``cache_mode``): the path of its
    SQLite file, ``sqlite:///FILE``, ``memory:`` or ``redis://HOST:6379/0``.
    ``endpoints``/``config``/``env`` feed base URLs and API keys (see :mod:`quorum.agents.endpoints`).
    """
    definitions = load_definitions(
        agents_dirs, tasks_dirs, include_builtin=include_builtin, model_overrides=model_overrides
    )
    if cache is not None and not isinstance(cache, ResponseCache):
        cache = ResponseCache(cache, mode=cache_mode)
    manager = AgentManager(
        default_timeout_s=default_timeout_s, cache=cache, rate_limits=rate_limits, backoff=backoff
    )
    context = ProviderContext(
        endpoints=frozen_mapping(endpoints),
        config=frozen_mapping(config),
        env=env,
        on_chunk=on_chunk,
    )
    for agent_id, definition in definitions.items():
        manager.register(
            agent_id, build_agent(definition, context), policy=policy_from_definition(definition)
        )
    return manager
