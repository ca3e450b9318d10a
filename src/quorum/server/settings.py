"""How ``quorum serve`` is set up: where it listens, its token, the hosts it answers for, its limits.

The token comes from ``QUORUM_API_TOKEN``, else from ``[serve] token`` in quorum.toml, else it is made
here (and printed once by the command). Listening on anything but a loopback address needs a token that
was set on purpose: a generated one would be shown only to whoever started the server.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from quorum.errors import ConfigurationError

__all__ = ("ServeSettings", "is_loopback", "resolve_settings")

TokenSource = Literal["QUORUM_API_TOKEN", "quorum.toml", "generated"]

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_MIN_TOKEN_CHARS = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8300
    token: str
    token_source: TokenSource = "generated"
    allowed_hosts: frozenset[str] = _LOOPBACK_NAMES
    """Host header values (without port) the server answers for; anything else is a DNS-rebinding
    attempt and gets 400."""
    max_body_bytes: int = 1_000_000
    heartbeat_s: float = 15.0
    """How often an idle event stream gets a comment line (proxies close silent connections)."""
    poll_s: float = 0.05
    """How often a watched journal is read for events written by other processes."""

    def __repr__(self) -> str:  # the token never reaches a log line or a traceback
        return (f"ServeSettings(host={self.host!r}, port={self.port}, token=<{self.token_source}>, "
                f"allowed_hosts={sorted(self.allowed_hosts)!r})")


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_settings(
    *, host: str, port: int, config_file: Path | None, env: Mapping[str, str] | None = None,
    heartbeat_s: float = 15.0,
) -> ServeSettings:
    env = os.environ if env is None else env
    section = _serve_section(config_file)
    token, source = _token(env, section, config_file)
    if not is_loopback(host) and source == "generated":
        raise ConfigurationError(
            f"listening on {host} (not a loopback address) needs a token set on purpose: "
            "export QUORUM_API_TOKEN=<a long random string>, or put token = \"...\" under [serve] in "
            "quorum.toml"
        )
    allowed = set(_LOOPBACK_NAMES)
    allowed.add(host)
    extra = section.get("allowed_hosts", [])
    if not isinstance(extra, list) or not all(isinstance(h, str) and h for h in extra):
        raise ConfigurationError(f"{config_file}: [serve] allowed_hosts must be a list of host names")
    allowed.update(extra)
    allowed.update(h.strip() for h in env.get("QUORUM_ALLOWED_HOSTS", "").split(",") if h.strip())
    if not is_loopback(host) and host in ("0.0.0.0", "::"):
        import socket

        allowed.add(socket.gethostname())
    allowed.discard("0.0.0.0")
    allowed.discard("::")
    return ServeSettings(host=host, port=port, token=token, token_source=source,
                         allowed_hosts=frozenset(h.lower() for h in allowed), heartbeat_s=heartbeat_s)


def _serve_section(config_file: Path | None) -> Mapping[str, Any]:
    if config_file is None:
        return {}
    try:
        with config_file.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{config_file}: cannot read [serve]: {exc}") from None
    section = data.get("serve", {})
    if not isinstance(section, dict):
        raise ConfigurationError(f"{config_file}: serve must be a table ([serve])")
    unknown = sorted(set(section) - {"token", "allowed_hosts"})
    if unknown:
        raise ConfigurationError(f"{config_file}: [serve] has unknown key(s) {', '.join(unknown)}; "
                                 "known keys: allowed_hosts, token")
    return section


def _token(env: Mapping[str, str], section: Mapping[str, Any],
           config_file: Path | None) -> tuple[str, TokenSource]:
    given = env.get("QUORUM_API_TOKEN", "").strip()
    source: TokenSource = "QUORUM_API_TOKEN"
    if not given and "token" in section:
        value = section["token"]
        if not isinstance(value, str):
            raise ConfigurationError(f"{config_file}: [serve] token must be a string")
        given, source = value.strip(), "quorum.toml"
    if not given:
        return secrets.token_urlsafe(32), "generated"
    if len(given) < _MIN_TOKEN_CHARS:
        raise ConfigurationError(f"the API token from {source} is too short ({len(given)} characters); "
                                 f"use at least {_MIN_TOKEN_CHARS}, e.g. python -c 'import secrets; "
                                 "print(secrets.token_urlsafe(32))'")
    return given, source
