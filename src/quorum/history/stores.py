"""Choosing a history backend from a URL or a path: ``open_store("sqlite:///history.db")``.

==========================================  ==============================================================
``memory:`` (or ``memory://``)              :class:`~quorum.history.memory.MemoryHistoryStore`
``sqlite:///relative/path.db``              :class:`~quorum.history.sqlite.SQLiteHistoryStore`; the path
``sqlite:////absolute/path.db``             follows the third slash, as in SQLAlchemy URLs; query options
``sqlite:///h.db?synchronous=FULL``         ``synchronous`` (NORMAL, FULL) and ``busy_timeout`` (seconds)
``/a/plain/path.db``, ``history.db``        SQLite at that path
``postgresql://...``                        a backend registered for the scheme (``register_backend``)
==========================================  ==============================================================

The returned store is not opened yet: it opens on first use, or with ``await store.open()``.
Backends are looked up by URL scheme, so a PostgreSQL backend plugs in with
``register_backend("postgresql", factory)`` without changes here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote

from quorum.errors import ConfigurationError
from quorum.history.base import HistoryStore

__all__ = ("BackendFactory", "open_store", "register_backend")

BackendFactory = Callable[[str], HistoryStore]
"""Builds a store from the full URL."""

_URL = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*):(?://)?")
_FACTORIES: dict[str, BackendFactory] = {}
_PLANNED = {"postgresql": "PostgreSQL", "postgres": "PostgreSQL"}


def register_backend(scheme: str, factory: BackendFactory) -> None:
    """Make ``open_store`` build stores for URLs starting with ``<scheme>:`` (case-insensitive)."""
    _FACTORIES[scheme.lower()] = factory


def open_store(url_or_path: str | os.PathLike[str]) -> HistoryStore:
    """The store that ``url_or_path`` names (see the module docstring for the forms)."""
    text = os.fspath(url_or_path)
    match = _URL.match(text)
    # A one-letter scheme is a Windows drive ("C:\\..."), not a URL.
    if match is None or len(match["scheme"]) == 1 or isinstance(url_or_path, os.PathLike):
        return _sqlite(text, {})
    scheme = match["scheme"].lower()
    factory = _FACTORIES.get(scheme)
    if factory is not None:
        return factory(text)
    if scheme in _PLANNED:
        raise ConfigurationError(
            f"history URL {_redact(text)!r}: no {_PLANNED[scheme]} backend is installed in this quorum; "
            "use sqlite:///PATH (the default) or a plain file path"
        )
    known = ", ".join(sorted({*_FACTORIES, "memory", "sqlite"}))
    raise ConfigurationError(
        f"history URL {_redact(text)!r}: unknown scheme {scheme!r}; known: {known} (or a plain file path)"
    )


def _redact(url: str) -> str:
    # Never echo a password from a database URL into an error message.
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def _memory(url: str) -> HistoryStore:
    from quorum.history.memory import MemoryHistoryStore

    rest = url.split(":", 1)[1].lstrip("/")
    if rest:
        raise ConfigurationError(f"history URL {url!r}: memory: takes no path or options")
    return MemoryHistoryStore()


def _sqlite_url(url: str) -> HistoryStore:
    rest = url.split(":", 1)[1]
    if not rest.startswith("///"):
        raise ConfigurationError(
            f"history URL {url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    path, _, query = rest[3:].partition("?")
    if not path:
        raise ConfigurationError(f"history URL {url!r}: the database path is missing")
    return _sqlite(unquote(path), dict(parse_qsl(query, keep_blank_values=True)))


def _sqlite(path: str, options: dict[str, str]) -> HistoryStore:
    from quorum.history.sqlite import SQLiteHistoryStore

    unknown = set(options) - {"synchronous", "busy_timeout"}
    if unknown:
        raise ConfigurationError(
            f"history database {path}: unknown option(s) {', '.join(sorted(unknown))}; "
            "known: synchronous (NORMAL or FULL), busy_timeout (seconds)"
        )
    synchronous = options.get("synchronous", "NORMAL").upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise ConfigurationError(f"history database {path}: synchronous must be NORMAL or FULL")
    try:
        busy_timeout_s = float(options.get("busy_timeout", "5"))
    except ValueError:
        raise ConfigurationError(
            f"history database {path}: busy_timeout must be a number of seconds, got "
            f"{options['busy_timeout']!r}"
        ) from None
    return SQLiteHistoryStore(
        path, synchronous="FULL" if synchronous == "FULL" else "NORMAL", busy_timeout_s=busy_timeout_s
    )


register_backend("memory", _memory)
register_backend("sqlite", _sqlite_url)
