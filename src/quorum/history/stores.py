"""Choosing a history backend from a URL or a path: ``open_store("sqlite:///history.db")``.

==========================================  ==============================================================
``memory:``, ``:memory:``, ``sqlite://``    :class:`~quorum.history.memory.MemoryHistoryStore` (nothing is
                                            kept after the process; also ``memory://``, ``sqlite:///:memory:``)
``sqlite:///relative/path.db``              :class:`~quorum.history.sqlite.SQLiteHistoryStore`; the path
``sqlite:////absolute/path.db``             follows the third slash, as in SQLAlchemy URLs; query options
``sqlite:///h.db?synchronous=FULL``         ``synchronous`` (NORMAL, FULL) and ``busy_timeout`` (seconds)
``/a/plain/path.db``, ``history.db``        SQLite at that path
``postgresql://...``                        a backend registered for the scheme (``register_backend``);
                                            none is shipped yet, so such a URL is a clear error
==========================================  ==============================================================

The URL is parsed once, by :mod:`quorum.history._location`; an error about it never shows its password.
The returned store is not opened yet: it opens on first use, or with ``await store.open()``.
Backends are looked up by URL scheme, so a PostgreSQL backend plugs in with
``register_backend("postgresql", factory)`` without changes here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from quorum.errors import ConfigurationError
from quorum.history._location import MEMORY, parse_location
from quorum.history.base import HistoryStore

__all__ = ("BackendFactory", "open_store", "register_backend")

BackendFactory = Callable[[str], HistoryStore]
"""Builds a store from the full URL."""

_FACTORIES: dict[str, BackendFactory] = {}
_PLANNED = {"postgresql": "PostgreSQL", "postgres": "PostgreSQL"}


def register_backend(scheme: str, factory: BackendFactory) -> None:
    """Make ``open_store`` build stores for URLs starting with ``<scheme>:`` (case-insensitive)."""
    _FACTORIES[scheme.lower()] = factory


def open_store(url_or_path: str | os.PathLike[str]) -> HistoryStore:
    """The store that ``url_or_path`` names (see the module docstring for the forms)."""
    text = os.fspath(url_or_path)
    if isinstance(url_or_path, os.PathLike):
        return _sqlite(text, {})
    location = parse_location(text)
    factory = _FACTORIES.get(location.scheme)
    if factory is not None:
        return factory(text)
    if location.scheme == MEMORY:
        return _memory()
    if location.path is not None:
        return _sqlite(location.path, location.options)
    if location.scheme in _PLANNED:
        raise ConfigurationError(
            f"history URL {location.shown!r}: no {_PLANNED[location.scheme]} backend is installed: "
            f"{_PLANNED[location.scheme]} history is not implemented yet; use sqlite:///PATH or a plain "
            "file path"
        )
    known = ", ".join(sorted({*_FACTORIES, MEMORY, "sqlite"}))
    raise ConfigurationError(
        f"history URL {location.shown!r}: unknown scheme {location.scheme!r}; known: {known} "
        "(or a plain file path)"
    )


def _memory() -> HistoryStore:
    from quorum.history.memory import MemoryHistoryStore

    return MemoryHistoryStore()


def _sqlite(path: str, options: Mapping[str, str]) -> HistoryStore:
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

