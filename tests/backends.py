"""The ``store`` fixture shared by test packages that run against each local history backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quorum.history.base import HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    """Each history backend in turn, open (a SQLite file in the test's directory)."""
    s: HistoryStore = MemoryHistoryStore() if request.param == "memory" else SQLiteHistoryStore(
        tmp_path / "h.db")
    await s.open()
    yield s
    await s.close()
