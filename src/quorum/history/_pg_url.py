"""A ``postgresql://`` history URL: what asyncpg is given, quorum's own options, and how to show it.

    postgresql://user:password@host:5432/db?schema=quorum&pool_max=10

quorum's options (taken out of the URL before asyncpg sees it):

- ``schema``: the PostgreSQL schema that holds the tables (default ``public``); created when missing.
  Every connection of the pool has it as its ``search_path``.
- ``pool_min`` / ``pool_max``: the connection pool's size (default 1 and 10).
- ``notify``: ``off`` to send no NOTIFY on journal appends (no live feed; control requests still
  notify). Default ``on``.

Any other query option (``sslmode``, ``connect_timeout``, ...) goes to asyncpg as written. The password
(in the URL or a ``password=`` option) never leaves this module except inside the DSN given to asyncpg:
:attr:`PgSettings.shown` masks it, and :func:`scrub` removes it from any text (a driver's error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from quorum.errors import ConfigurationError
from quorum.history._location import redact_url

__all__ = ("PgSettings", "pg_settings", "scrub")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_OURS = frozenset({"schema", "pool_min", "pool_max", "notify"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PgSettings:
    dsn: str
    """For asyncpg only (holds the password, if any)."""
    shown: str
    """The URL as it may be printed (password masked)."""
    schema: str = "public"
    pool_min: int = 1
    pool_max: int = 10
    notify: bool = True
    secrets: tuple[str, ...] = ()
    """What :func:`scrub` removes from messages (the password, raw and URL-encoded)."""


def pg_settings(url: str) -> PgSettings:
    """The settings ``url`` gives; a ConfigurationError (password masked) saying what is wrong."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError as exc:
        raise ConfigurationError(f"history URL {shown!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise ConfigurationError(f"history URL {shown!r}: expected postgresql://user@host/database")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in pairs if k in _OURS}
    rest = [(k, v) for k, v in pairs if k not in _OURS]
    schema = ours.get("schema", "public")
    if not _IDENTIFIER.match(schema):
        raise ConfigurationError(
            f"history URL {shown!r}: schema {schema!r} must be a plain identifier (letters, digits, _; at "
            "most 63 characters, not starting with a digit)"
        )
    pool_min = _count(ours, "pool_min", 1, shown)
    pool_max = _count(ours, "pool_max", 10, shown)
    if pool_max < max(pool_min, 1):
        raise ConfigurationError(f"history URL {shown!r}: pool_max must be >= 1 and >= pool_min")
    notify = ours.get("notify", "on").lower()
    if notify not in ("on", "off", "true", "false", "1", "0"):
        raise ConfigurationError(f"history URL {shown!r}: notify must be on or off, got {notify!r}")
    secrets = [s for s in (password, dict(rest).get("password")) if s]
    secrets += [unquote(s) for s in secrets if unquote(s) != s]
    # asyncpg wants postgresql:// or postgres://, both of which it reads alike.
    dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment))
    return PgSettings(
        dsn=dsn, shown=shown, schema=schema, pool_min=pool_min, pool_max=pool_max,
        notify=notify in ("on", "true", "1"), secrets=tuple(s for s in secrets if len(s) >= 1),
    )


def _count(options: dict[str, str], name: str, default: int, shown: str) -> int:
    text = options.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise ConfigurationError(f"history URL {shown!r}: {name} must be a whole number, got {text!r}")
    return int(text)


def scrub(text: str, settings: PgSettings) -> str:
    """``text`` with every secret of ``settings`` replaced by ``***`` (for a driver's error message)."""
    for secret in settings.secrets:
        text = text.replace(secret, "***")
    return text
