"""Where an LLM provider lives and which key it uses: from config and the environment, never from files.

Base URL, first match wins:
  the agent's ``base_url`` (a URL, or the name of an endpoint: ``endpoints[name]`` from configuration,
  else ``QUORUM_<NAME>_BASE_URL``), then ``QUORUM_<PROVIDER>_BASE_URL``, then ``<PROVIDER>_BASE_URL``
  (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``), else the SDK's default.
API key, first match wins:
  the variable named by the agent's ``api_key_env``, then ``QUORUM_<NAME>_API_KEY`` for a named endpoint,
  then ``QUORUM_<PROVIDER>_API_KEY``, then ``<PROVIDER>_API_KEY``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from quorum.agents.definitions import AgentDefinition
from quorum.agents.secrets import read_secret
from quorum.errors import ConfigurationError

__all__ = ("Endpoint", "resolve_endpoint")

_URL = re.compile(r"https?://", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    base_url: str | None
    api_key: str | None
    key_names: tuple[str, ...]
    """The variables that were searched for the key (for error messages; never the key)."""

    def __repr__(self) -> str:
        key = "set" if self.api_key else "unset"
        return f"Endpoint(base_url={self.base_url!r}, api_key=<{key}>)"


def _env_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def resolve_endpoint(
    provider: str,
    definition: AgentDefinition,
    *,
    endpoints: Mapping[str, str] | None = None,
    config: Mapping[str, str | None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    environ = os.environ if env is None else env
    conf = config or {}
    prefix = _env_part(provider)
    alias: str | None = None
    base_url: str | None = None
    if definition.base_url:
        if _URL.match(definition.base_url):
            base_url = definition.base_url
        else:
            alias = definition.base_url
            var = f"QUORUM_{_env_part(alias)}_BASE_URL"
            base_url = (endpoints or {}).get(alias) or conf.get(var) or environ.get(var)
            if not base_url:
                where = f" ({definition.source}:{definition.line})" if definition.source else ""
                raise ConfigurationError(
                    f"agent {definition.id!r}{where}: unknown endpoint {alias!r}; "
                    f"define it in quorum.toml or set {var}"
                )
    if base_url is None:
        for var in (f"QUORUM_{prefix}_BASE_URL", f"{prefix}_BASE_URL"):
            base_url = conf.get(var) or environ.get(var)
            if base_url:
                break
    names: list[str] = []
    if definition.api_key_env:
        names.append(definition.api_key_env)
    if alias:
        names.append(f"QUORUM_{_env_part(alias)}_API_KEY")
    names += [f"QUORUM_{prefix}_API_KEY", f"{prefix}_API_KEY"]
    api_key = read_secret(*names, config=conf, env=environ)
    return Endpoint(base_url=base_url or None, api_key=api_key, key_names=tuple(names))
