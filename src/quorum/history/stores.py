"""Choosing a history backend from a URL or a path: ``open_store("sqlite:///history.db")``.

==========================================  ==============================================================
``memory:``, ``:memory:``, ``sqlite://``    :class:`~quorum.history.memory.MemoryHistoryStore` (nothing is
                                            kept after the process; also ``memory://``, ``sqlite:///:memory:``)
``sqlite:///relative/path.db``              :class:`~quorum.history.sqlite.SQLiteHistoryStore`; the path
``sqlite:////absolute/path.db``             follows the third slash, as in SQLAlchemy URLs; query options
``sqlite:///h.db?synchronous=FULL``         ``synchronous`` (NORMAL, FULL) and ``busy_timeout`` (seconds)
``/a/plain/path.db``, ``history.db``        SQLite at that path
``postgresql://user@host/db``               :class:`~quorum.history.postgres.PostgresHistoryStore` (also
``postgres://...``, ``?schema=NAME``        ``postgres://``; options ``schema``, ``pool_min``, ``pool_max``,
                                            ``notify``; needs ``pip install 'quorum[postgres]'``)
==========================================  ==============================================================

The URL is parsed once, by :mod:`quorum.history._location`; an error about it never shows its password.
The returned store is not opened yet: it opens on first use, or with ``await store.open()``.
Backends are looked up by URL scheme: PostgreSQL is registered here with ``register_backend``, as any
other backend plugs in without changes to this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from quorum.errors import ConfigurationError
from quorum.history._location import MEMORY, parse_location, redact_url
from quorum.history.base import HistoryStore

__all__ = ("BackendFactory", "open_store", "register_backend")

BackendFactory = Callable[[str], HistoryStore]
"""Builds a store from the full URL."""

_FACTORIES: dict[str, BackendFactory] = {}


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



def _postgres(url: str) -> HistoryStore:
    try:
        from quorum.history.postgres import PostgresHistoryStore
    except ModuleNotFoundError as exc:
        if exc.name != "asyncpg":
            raise
        raise ConfigurationError(
            f"history URL {redact_url(url)!r}: the PostgreSQL history needs the asyncpg driver: "
            "pip install 'quorum[postgres]'"
        ) from None
    return PostgresHistoryStore(url)


register_backend("postgresql", _postgres)
register_backend("postgres", _postgres)
