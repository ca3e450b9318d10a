"""The effective configuration's values, and how secrets in them are shown (masked)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from quorum.history._location import redact_url

__all__ = ("PROVIDERS", "Config", "Endpoint", "ProviderSettings", "Source", "mask_secret", "mask_url")

Source = Literal["default", "file", "env", "flag"]

PROVIDERS: tuple[str, ...] = ("openai", "anthropic")
"""Providers whose base URL and API key the configuration carries (the SDKs' own variables)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSettings:
    base_url: str | None = None
    api_key: str | None = None

    def __repr__(self) -> str:  # never print a key by accident
        key = None if self.api_key is None else mask_secret(self.api_key)
        return f"ProviderSettings(base_url={self.base_url!r}, api_key={key!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """A named OpenAI- or Anthropic-compatible server that agent files refer to (``base_url: ollama``)."""

    base_url: str
    api_key: str | None = None

    def __repr__(self) -> str:
        key = None if self.api_key is None else mask_secret(self.api_key)
        return f"Endpoint(base_url={mask_url(self.base_url)!r}, api_key={key!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    db: str
    """A path of the SQLite history, or a store URL (``sqlite:///h.db?synchronous=FULL``, ``memory:``)."""
    tasks_dirs: tuple[Path, ...] = ()
    agents_dirs: tuple[Path, ...] = ()
    models: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Model overrides: ``"*"`` for every agent, else an agent id -> model string."""
    timeout: str | None = None
    """Time limit of ``quorum run`` as given (a time string); None = the task's own."""
    cache: str | None = None
    """The agent-response cache: a SQLite path, ``sqlite:///FILE``, ``memory:`` or ``redis://...``;
    None = none."""
    events: str | None = None
    """Where executions publish their live events (``redis://HOST:6379/0``); None = nowhere."""
    telemetry: Mapping[str, Any] | None = None
    """The ``[telemetry]`` table as written (read by :func:`quorum.telemetry.settings.settings_of`, with
    the ``OTEL_*`` variables); None = none."""
    providers: Mapping[str, ProviderSettings] = field(default_factory=lambda: MappingProxyType({}))
    endpoints: Mapping[str, Endpoint] = field(default_factory=lambda: MappingProxyType({}))
    file: Path | None = None
    """The quorum.toml that was read, if any."""
    sources: Mapping[str, tuple[Source, str]] = field(default_factory=lambda: MappingProxyType({}))
    """key -> (source, origin) for every key above."""

    @property
    def db_shown(self) -> str:
        """``db`` as it may be printed: a password in a store URL replaced by ``***``."""
        return redact_url(self.db)

    @property
    def cache_shown(self) -> str | None:
        return None if self.cache is None else redact_url(self.cache)

    @property
    def events_shown(self) -> str | None:
        return None if self.events is None else redact_url(self.events)

    def __repr__(self) -> str:
        return f"Config(db={self.db_shown!s}, file={self.file!s}, models={dict(self.models)!r})"

    def provider_variables(self) -> dict[str, str | None]:
        """Settings from quorum.toml under the environment variable names the agent layer reads
        (``OPENAI_BASE_URL``, ``QUORUM_<ENDPOINT>_API_KEY``...); the real environment still wins there."""
        out: dict[str, str | None] = {}
        for name, settings in self.providers.items():
            prefix = name.upper()
            if settings.base_url:
                out[f"{prefix}_BASE_URL"] = settings.base_url
            if settings.api_key:
                out[f"{prefix}_API_KEY"] = settings.api_key
        for name, endpoint in self.endpoints.items():
            prefix = "QUORUM_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
            out[f"{prefix}_BASE_URL"] = endpoint.base_url
            if endpoint.api_key:
                out[f"{prefix}_API_KEY"] = endpoint.api_key
        return out

    def model_specs(self) -> list[str]:
        """The overrides in ``--model`` form (``provider:model``, ``agent=provider:model``)."""
        return [model if target == "*" else f"{target}={model}" for target, model in self.models.items()]

    def endpoint_urls(self) -> dict[str, str]:
        return {name: e.base_url for name, e in self.endpoints.items()}


def mask_secret(value: str) -> str:
    """Show that a secret is set without revealing it: the last 4 characters of long ones only."""
    if len(value) >= 16:
        return "****" + value[-4:]
    return "****"


def mask_url(url: str) -> str:
    """Hide ``user:password@`` in a URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "****@" + netloc.rsplit("@", 1)[1]
    return f"{scheme}://{netloc}{slash}{path}"
