"""Model strings (``provider:rest``) and model overrides (``--model openai:x``, ``--model id=openai:y``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from quorum.definition.fields import NAME_PATTERN
from quorum.definition.model import frozen_mapping
from quorum.definition.suggest import suggest
from quorum.errors import ConfigurationError

__all__ = (
    "BUILTIN_PROVIDERS",
    "ENTRY_POINT_GROUP",
    "ModelOverrides",
    "check_model_string",
    "entry_point_providers",
    "parse_model_overrides",
)

ENTRY_POINT_GROUP = "quorum.providers"
BUILTIN_PROVIDERS: frozenset[str] = frozenset({"builtin", "python", "openai", "anthropic"})

_PROVIDER = re.compile(r"[a-z][a-z0-9_-]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_MAX_MODEL_LEN = 200


@functools.cache
def entry_point_providers() -> frozenset[str]:
    """Provider names registered by installed packages (entry point group ``quorum.providers``)."""
    from importlib.metadata import entry_points

    return frozenset(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def check_model_string(model: str) -> list[tuple[str, str | None]]:
    """Problems with ``model`` as (message, hint) pairs; empty when it is well formed."""
    examples = "builtin:<name>, python:<module>:<callable>, openai:<model>, anthropic:<model>"
    if len(model) > _MAX_MODEL_LEN:
        return [(f"model string is longer than {_MAX_MODEL_LEN} characters", None)]
    provider, sep, rest = model.partition(":")
    if not sep or not provider or not rest.strip():
        return [(f"bad model {model!r}: expected <provider>:<model>", examples)]
    if not _PROVIDER.fullmatch(provider):
        return [(f"bad provider {provider!r} in model {model!r}", examples)]
    if any(c.isspace() for c in rest):
        return [(f"bad model {model!r}: no spaces allowed", None)]
    if provider == "builtin" and not NAME_PATTERN.fullmatch(rest):
        return [(f"bad built-in agent name {rest!r}", "builtin:<name>, e.g. builtin:technical-analyst")]
    if provider == "python":
        module, sep, attr = rest.partition(":")
        if not sep or not _DOTTED.fullmatch(module) or not _DOTTED.fullmatch(attr):
            return [
                (
                    f"bad python model {model!r}",
                    "python:<module>:<callable>, e.g. python:my_pkg.agents:analyst",
                )
            ]
    if provider not in BUILTIN_PROVIDERS and provider not in entry_point_providers():
        known = BUILTIN_PROVIDERS | entry_point_providers()
        guess = suggest(provider, known)
        hint = f"did you mean {guess!r}?" if guess else "known: " + ", ".join(sorted(known))
        return [(f"unknown model provider {provider!r}", hint)]
    return []


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelOverrides:
    """Replace the model of every agent (``all_agents``) and/or of named ones (``per_agent`` wins)."""

    all_agents: str | None = None
    per_agent: Mapping[str, str] = field(default_factory=frozen_mapping)

    def __bool__(self) -> bool:
        return self.all_agents is not None or bool(self.per_agent)

    def model_for(self, agent_id: str, model: str) -> str:
        return self.per_agent.get(agent_id) or self.all_agents or model

    def unknown_agents(self, agent_ids: Iterable[str]) -> list[str]:
        """Overridden agent ids that are not among ``agent_ids`` (a typo on the command line)."""
        known = set(agent_ids)
        return sorted(a for a in self.per_agent if a not in known)


def parse_model_overrides(values: Iterable[str] | str | None) -> ModelOverrides:
    """Read ``--model`` values: ``provider:model`` for all agents, ``<agent-id>=provider:model`` for one.

    Raises :class:`ConfigurationError` naming the bad value.
    """
    if values is None:
        return ModelOverrides()
    if isinstance(values, str):
        values = [values]
    all_agents: str | None = None
    per_agent: dict[str, str] = {}
    for raw in values:
        value = raw.strip()
        agent, eq, model = value.partition("=")
        if eq and NAME_PATTERN.fullmatch(agent.strip()) and ":" not in agent:
            agent, model = agent.strip(), model.strip()
        else:
            agent, model = "", value
        problems = check_model_string(model)
        if problems:
            message, hint = problems[0]
            raise ConfigurationError(
                f"--model {raw!r}: {message}"
                + (f" ({hint})" if hint else "")
                + "; use provider:model for every agent or <agent-id>=provider:model for one"
            )
        if agent:
            per_agent[agent] = model
        else:
            all_agents = model
    return ModelOverrides(all_agents=all_agents, per_agent=frozen_mapping(per_agent))
