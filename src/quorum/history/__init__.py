"""Durable history: the HistoryStore interface, an in-memory and a SQLite backend.

Names load lazily, so that importing the package costs nothing until a backend is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum._lazy import lazy_exports

__all__ = (
    "ControlRequest",
    "ExecutionRecord",
    "HistoryStats",
    "HistoryStore",
    "Lease",
    "MemoryHistoryStore",
    "SQLiteHistoryStore",
    "open_store",
    "process_owner",
    "register_backend",
)

_EXPORTS = {
    "ControlRequest": "quorum.history.base",
    "ExecutionRecord": "quorum.history.base",
    "HistoryStats": "quorum.history.base",
    "HistoryStore": "quorum.history.base",
    "Lease": "quorum.history.base",
    "MemoryHistoryStore": "quorum.history.memory",
    "SQLiteHistoryStore": "quorum.history.sqlite",
    "open_store": "quorum.history.stores",
    "process_owner": "quorum.history.owner",
    "register_backend": "quorum.history.stores",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:
    from quorum.history.base import ControlRequest, ExecutionRecord, HistoryStats, HistoryStore, Lease
    from quorum.history.memory import MemoryHistoryStore
    from quorum.history.owner import process_owner
    from quorum.history.sqlite import SQLiteHistoryStore
    from quorum.history.stores import open_store, register_backend
