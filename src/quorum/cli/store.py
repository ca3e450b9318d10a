"""Opening the history store the configuration names, and finding an execution by id or prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from quorum.cli.common import CliError, ExitCode, fail

if TYPE_CHECKING:
    from quorum.config import Config
    from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("db_exists", "find_execution", "opened_store", "owner_alive")

_ACTIVE = ("pending", "running", "paused", "waiting")
"""The statuses of an execution that some process may still drive."""
_PREFIX_SCAN = 10_000
"""How many recent executions a short id prefix is matched against."""


def db_exists(cfg: Config) -> bool:
    """False when the history is a SQLite file (a path or a ``sqlite:`` URL) that does not exist yet:
    nothing is recorded, and reading must not create it. Other stores are asked."""
    from quorum.history._location import parse_location

    location = parse_location(cfg.db)
    return location.path is None or Path(location.path).exists()


@asynccontextmanager
async def opened_store(cfg: Config) -> AsyncIterator[HistoryStore]:
    from quorum.history.stores import open_store

    store = open_store(cfg.db)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def find_execution(store: HistoryStore, id_or_prefix: str, *, where: str = "") -> ExecutionRecord:
    """The execution with this id, or the one execution whose id starts with it. ``where`` names the
    history in the error (its password, if it is a URL with one, is masked here)."""
    from quorum.history._location import redact_url

    where = redact_url(where)
    text = id_or_prefix.strip()
    if not text:
        fail("an execution id is needed (see `quorum history`)", code=ExitCode.USAGE)
    record = await store.get_execution(text)
    if record is not None:
        return record
    recent = await store.list_executions(limit=_PREFIX_SCAN)
    matches = [r for r in recent if r.id.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        fail(
            f"no execution with id {text!r}",
            details=(f"history: {where}" if where else "", "list the executions with `quorum history`"),
        )
    raise CliError(
        f"execution id prefix {text!r} is ambiguous: {len(matches)} executions match",
        code=ExitCode.USAGE,
        details=tuple(f"{r.id}  {r.task}  {r.status}" for r in matches[:10]),
    )


async def owner_alive(store: HistoryStore, record: ExecutionRecord) -> bool:
    """Whether a live process drives the execution (a dead owner or an expired lease makes it an
    orphan, which ``quorum resume`` / ``quorum recover`` take over)."""
    if record.status not in _ACTIVE or not record.owner:
        return False
    orphans = await store.list_orphans()
    return all(o.id != record.id for o in orphans)
