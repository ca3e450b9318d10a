"""AgentPolicy: how the manager calls one agent (all optional; nothing set = the cheapest path)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quorum.agents.resilience import BreakerPolicy
from quorum.definition.model import frozen_mapping

if TYPE_CHECKING:  # definitions imports PyYAML; the manager (engine hot path) must not pay for it
    from quorum.agents.definitions import AgentDefinition

__all__ = ("REMOTE_PROVIDERS", "AgentPolicy", "policy_from_definition")

REMOTE_PROVIDERS: frozenset[str] = frozenset({"openai", "anthropic"})
"""Providers that call a network service: retried and guarded by a circuit breaker by default."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentPolicy:
    timeout_s: float | None = None
    """Per attempt. ``None``: the request's timeout, else the manager's default."""
    max_concurrency: int | None = None
    max_retries: int = 0
    """Retries of transient failures (429, 5xx, connection errors, timeouts)."""
    cache_ttl_s: float | None = None
    provider: str | None = None
    """Rate limits are per provider (the model string's prefix)."""
    model: str | None = None
    breaker: BreakerPolicy | None = None
    parameters: Mapping[str, Any] = field(default_factory=frozen_mapping)
    """Generation parameters that change answers (part of the cache key)."""

    @property
    def needs_management(self) -> bool:
        return (
            self.max_concurrency is not None
            or self.max_retries > 0
            or self.breaker is not None
            or self.cache_ttl_s is not None
        )


def policy_from_definition(definition: AgentDefinition) -> AgentPolicy:
    """The policy an agent file asks for; remote providers get retries and a breaker unless told not to."""
    remote = definition.provider in REMOTE_PROVIDERS
    breaker: BreakerPolicy | None = None
    if definition.breaker_failures is not None or definition.breaker_reset_s is not None:
        defaults = BreakerPolicy()
        breaker = BreakerPolicy(
            failure_threshold=definition.breaker_failures or defaults.failure_threshold,
            reset_after_s=(
                definition.breaker_reset_s
                if definition.breaker_reset_s is not None
                else defaults.reset_after_s
            ),
        )
    elif remote:
        breaker = BreakerPolicy()
    max_retries = definition.max_retries if definition.max_retries is not None else (2 if remote else 0)
    return AgentPolicy(
        timeout_s=definition.timeout_s,
        max_concurrency=definition.max_concurrency,
        max_retries=max_retries,
        cache_ttl_s=definition.cache_ttl_s,
        provider=definition.provider,
        model=definition.model,
        breaker=breaker,
        parameters=frozen_mapping(
            {
                "temperature": definition.temperature,
                "max_tokens": definition.max_tokens,
                "options": definition.options,
            }
        ),
    )
