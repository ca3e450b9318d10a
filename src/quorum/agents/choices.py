"""AgentChoices: what an execution's agents were built with besides their files, kept with the execution.

An agent's file names its model, but a run may replace it (``--model``, ``QUORUM_MODEL``, the
configuration's ``[models]``) and point a provider at another server (a base URL from the
configuration or the environment). A resume or a recovery in another process must build the same
agents, or the verdict mixes two models: the choices are recorded with the execution
(``ExecutionRecord.agent_choices``) and reused. API keys are never part of them (a key is looked up
again where the execution continues), nor is a URL that carries ``user:password@``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quorum.definition.model import frozen_mapping

__all__ = ("AgentChoices", "base_url_variables")

_BASE_URL_VAR = re.compile(r"(QUORUM_[A-Z0-9_]+|OPENAI|ANTHROPIC)_BASE_URL")
_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@]*@", re.IGNORECASE)


def _keeps_no_secret(url: str) -> bool:
    return not _USERINFO.match(url)


def base_url_variables(*sources: Mapping[str, str | None]) -> dict[str, str]:
    """The ``*_BASE_URL`` variables of ``sources`` (an earlier source wins), without secrets: an API key
    variable is never taken, and a URL with ``user:password@`` is left out."""
    found: dict[str, str] = {}
    for source in sources:
        for name, value in source.items():
            if value and name not in found and _BASE_URL_VAR.fullmatch(name) and _keeps_no_secret(value):
                found[name] = value
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentChoices:
    """The model overrides and base URLs of one execution (JSON form: :meth:`to_dict`)."""

    models: tuple[str, ...] = ()
    """``--model`` specs: ``provider:model`` for every agent, ``<agent-id>=provider:model`` for one."""
    endpoints: Mapping[str, str] = field(default_factory=frozen_mapping)
    """Named endpoints (``[endpoints.<name>]`` of the configuration) -> base URL."""
    base_urls: Mapping[str, str] = field(default_factory=frozen_mapping)
    """``OPENAI_BASE_URL``, ``QUORUM_<NAME>_BASE_URL``, ... -> base URL."""

    @classmethod
    def current(
        cls,
        models: list[str],
        *,
        endpoints: Mapping[str, str],
        config: Mapping[str, str | None],
        env: Mapping[str, str] | None = None,
    ) -> AgentChoices:
        """The choices a run makes now: its model specs, and the base URLs of its configuration (first)
        and of the environment."""
        environ = os.environ if env is None else env
        return cls(
            models=tuple(models),
            endpoints=frozen_mapping({n: u for n, u in endpoints.items() if _keeps_no_secret(u)}),
            base_urls=frozen_mapping(base_url_variables(config, environ)),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> AgentChoices | None:
        """From :meth:`to_dict`'s form as a store returns it; None for a record made before choices
        were kept (or holding something else)."""
        if not isinstance(data, Mapping):
            return None
        models = data.get("models") or ()
        endpoints = data.get("endpoints") or {}
        base_urls = data.get("base_urls") or {}
        if not isinstance(models, list | tuple) or not isinstance(endpoints, Mapping) \
                or not isinstance(base_urls, Mapping):
            return None
        return cls(
            models=tuple(str(m) for m in models),
            endpoints=frozen_mapping({str(k): str(v) for k, v in endpoints.items()}),
            base_urls=frozen_mapping({str(k): str(v) for k, v in base_urls.items()}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"models": list(self.models), "endpoints": dict(self.endpoints),
                "base_urls": dict(self.base_urls)}

    def with_models(self, models: list[str]) -> AgentChoices:
        """The same servers, other models (``quorum resume --model``)."""
        return AgentChoices(models=tuple(models), endpoints=self.endpoints, base_urls=self.base_urls)

    def provider_config(self, config: Mapping[str, str | None]) -> dict[str, str | None]:
        """``config`` (base URLs and API keys of this process) with these base URLs in place of its own."""
        return {**config, **self.base_urls}

    def endpoint_urls(self, endpoints: Mapping[str, str]) -> dict[str, str]:
        return {**endpoints, **self.endpoints}

    def describe_models(self) -> str:
        return ", ".join(self.models) if self.models else "each agent's own"

    def describe(self) -> str:
        """One line for people: ``models a=openai:x; OPENAI_BASE_URL=http://...``."""
        parts = [f"models {self.describe_models()}"]
        parts += [f"{name}={url}" for name, url in sorted(self.base_urls.items())]
        parts += [f"endpoint {name}={url}" for name, url in sorted(self.endpoints.items())]
        return "; ".join(parts)
