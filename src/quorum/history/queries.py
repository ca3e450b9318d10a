"""Listing executions by a task *selector*: ``committee``, ``committee@1.1``, ``committee@^1``.

``HistoryStore.list_executions`` filters by equality (a task name, an exact recorded version); a
selector picks a range of versions (``@1.1`` is every 1.1.x, ``@^1`` every 1.x), so it is matched here,
over the task's executions newest first, read in growing pages until ``limit`` match or the task's
history is exhausted. The same function serves ``quorum history --task`` and the HTTP API's
``?task=``, so both select alike.

A record whose version is not known (written before versions were kept) matches a selector without a
version only (see :mod:`quorum.definition.matching`).
"""

from __future__ import annotations

from typing import Final

from quorum.definition.matching import matches
from quorum.definition.versions import parse_selector
from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("find_executions",)

_FIRST_PAGE: Final = 4
"""The first read asks for this many times ``limit`` executions of the task; each next one, twice more."""


async def find_executions(
    store: HistoryStore,
    *,
    limit: int = 10,
    task: str | None = None,
    status: str | None = None,
    parent_id: str | None = None,
) -> list[ExecutionRecord]:
    """Newest first, at most ``limit``: the executions of ``task`` (a name, or ``name@selector``) with
    this ``status`` and parent (each None: any).

    A plain name (no ``@``) is the store's own equality filter, whatever the name looks like.
    :class:`~quorum.definition.versions.VersionSyntaxError` (a ``ValueError`` whose message says what
    to write) for a malformed selector."""
    if task is None or "@" not in task:
        return await store.list_executions(limit=limit, status=status, task=task, parent_id=parent_id)
    selector = parse_selector(task)
    if limit <= 0:
        return []
    page = limit * _FIRST_PAGE
    while True:
        rows = await store.list_executions(limit=page, status=status, task=selector.name, parent_id=parent_id)
        chosen = [r for r in rows if matches(r, selector)]
        if len(chosen) >= limit or len(rows) < page:
            return chosen[:limit]
        page *= 2
