"""Keeping API keys out of everything quorum prints, stores or raises.

Keys are read from the environment or configuration only (never from agent or task files). Every key a
provider loads is registered here, and text that leaves a provider (error messages, answers echoed by a
server) passes through :func:`redact`, which replaces each registered key with ``***``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ("MASK", "read_secret", "redact", "register_secret", "registered_secret_count")

MASK = "***"
_MIN_SECRET_LEN = 6
"""Shorter values (``"x"``, ``"none"``) are placeholders local servers accept; masking them would garble
ordinary words in messages."""

_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` masks it from now on."""
    if value and len(value) >= _MIN_SECRET_LEN:
        _secrets.add(value)


def registered_secret_count() -> int:
    return len(_secrets)


def read_secret(
    *names: str, config: Mapping[str, str | None] | None = None, env: Mapping[str, str] | None = None
) -> str | None:
    """The first non-empty value among ``names``, looked up in ``config`` then the environment.

    The value is registered for redaction before it is returned.
    """
    environ = os.environ if env is None else env
    for name in names:
        value = (config or {}).get(name) or environ.get(name)
        if value:
            register_secret(value)
            return value
    return None


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    if not _secrets or not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
