"""Durable history: the HistoryStore interface, in-memory, SQLite and PostgreSQL backends.

Names load lazily, so that importing the package costs nothing until a backend is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum._lazy import lazy_exports

__all__ = (
    "ChangeFeed",
    "ControlRequest",
    "ExecutionRecord",
    "HistoryStats",
    "HistoryStore",
    "Lease",
    "MemoryHistoryStore",
    "PostgresHistoryStore",
    "SQLiteHistoryStore",
    "open_store",
    "process_owner",
    "register_backend",
)

_EXPORTS = {
    "ChangeFeed": "quorum.history.base",
    "ControlRequest": "quorum.history.base",
    "ExecutionRecord": "quorum.history.base",
    "HistoryStats": "quorum.history.base",
    "HistoryStore": "quorum.history.base",
    "Lease": "quorum.history.base",
    "MemoryHistoryStore": "quorum.history.memory",
    "PostgresHistoryStore": "quorum.history.postgres",
    "SQLiteHistoryStore": "quorum.history.sqlite",
    "open_store": "quorum.history.stores",
    "process_owner": "quorum.history.owner",
    "register_backend": "quorum.history.stores",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:
    from quorum.history.base import (
        ChangeFeed,
        ControlRequest,
        ExecutionRecord,
        HistoryStats,
        HistoryStore,
        Lease,
    )
    from quorum.history.memory import MemoryHistoryStore
    from quorum.history.owner import process_owner
    from quorum.history.postgres import PostgresHistoryStore
    from quorum.history.sqlite import SQLiteHistoryStore
    from quorum.history.stores import open_store, register_backend
