"""Where a history lives, parsed once: a store URL or a plain path, and how to show it without secrets.

The forms (SQLAlchemy's rules for ``sqlite:``)::

    sqlite:///relative/path.db       the path follows the third slash: relative to the working directory
    sqlite:////absolute/path.db      ... so an absolute path gives four slashes
    sqlite:///h.db?synchronous=FULL  query options of the backend
    sqlite://, sqlite:///:memory:    in memory (nothing kept after the process), as :memory: and memory:
    /a/plain/path.db, history.db     SQLite at that path (``C:\\h.db`` too: one letter is a drive)
    postgresql://user:pw@host/db     any other scheme: a backend registered for it

URLs are split by :func:`urllib.parse.urlsplit`, not by hand, so a password is found wherever the URL
puts it; :func:`redact_url` replaces it with ``***`` (and a ``password=`` query option too), and every
message quorum writes about a store URL uses :attr:`StoreLocation.shown`.

Only the standard library is imported: the configuration parses the history setting before anything
heavy is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from quorum.errors import ConfigurationError

__all__ = ("MEMORY", "StoreLocation", "is_store_url", "parse_location", "redact_url")

MEMORY = "memory"
"""The scheme of the in-process store."""
_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]+):")
_MEMORY_FORMS = frozenset({":memory:", "memory:", "memory://", "sqlite://", "sqlite:///:memory:"})
_SECRET_OPTIONS = frozenset({"password", "pass", "pwd", "passwd", "secret", "token", "api_key"})
_MASK = "***"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreLocation:
    """A parsed history setting. ``scheme`` is ``sqlite``, ``memory`` or a URL's own (``postgresql``)."""

    text: str
    """As written (may hold a password: never show it, show :attr:`shown`)."""
    scheme: str
    path: str | None = None
    """The SQLite file (as given: relative paths are relative to the working directory); else None."""
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def shown(self) -> str:
        """The setting as it may be printed: any password replaced by ``***``."""
        return redact_url(self.text)

    @property
    def is_file(self) -> bool:
        return self.scheme == "sqlite" and self.path is not None


def is_store_url(text: str) -> bool:
    """A URL (``scheme:...``), not a file path; a one-letter scheme is a Windows drive (``C:\\h.db``)."""
    return text.strip().lower() in _MEMORY_FORMS or _SCHEME.match(text) is not None


def parse_location(text: str) -> StoreLocation:
    """The location ``text`` names; a clear ConfigurationError (password masked) when it is malformed."""
    if text.strip().lower() in _MEMORY_FORMS:
        return StoreLocation(text=text, scheme=MEMORY)
    match = _SCHEME.match(text)
    if match is None:
        if not text.strip():
            raise ConfigurationError("the history database is empty: give a file path or a store URL")
        return StoreLocation(text=text, scheme="sqlite", path=text)
    scheme = match["scheme"].lower()
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 host
        raise ConfigurationError(f"history URL {redact_url(text)!r} is not a valid URL: {exc}") from None
    if scheme == MEMORY:
        raise ConfigurationError(f"history URL {redact_url(text)!r}: memory: takes no path or options")
    if scheme != "sqlite":
        return StoreLocation(text=text, scheme=scheme)
    if parts.netloc or not parts.path.startswith("/"):
        raise ConfigurationError(
            f"history URL {redact_url(text)!r}: write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (three slashes, then the path)"
        )
    path = unquote(parts.path[1:])
    if not path:
        raise ConfigurationError(f"history URL {redact_url(text)!r}: the database path is missing")
    options = MappingProxyType(dict(parse_qsl(parts.query, keep_blank_values=True)))
    return StoreLocation(text=text, scheme="sqlite", path=path, options=options)


def redact_url(text: str) -> str:
    """``text`` with the password of its URL (``user:pw@``, ``?password=``) replaced by ``***``.

    A plain path comes back unchanged; a URL too malformed to split is shown as its scheme only."""
    match = _SCHEME.match(text)
    if match is None:
        return text
    try:
        parts = urlsplit(text)
        has_password = parts.password is not None
    except ValueError:
        return f"{match['scheme']}://{_MASK}"
    netloc = parts.netloc
    if has_password:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{_MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in _SECRET_OPTIONS for key, _ in pairs):
            query = urlencode(
                [(k, _MASK if k.lower() in _SECRET_OPTIONS else v) for k, v in pairs], safe="*/:"
            )
    if netloc == parts.netloc and query == parts.query:
        return text  # keep it exactly as written (urlunsplit would drop an empty "//")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
