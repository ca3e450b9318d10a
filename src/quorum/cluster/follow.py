"""Following an execution that runs elsewhere: its journal, as it grows, from the shared store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from quorum.events import Event
from quorum.history.base import TERMINAL_STATUSES, ChangeFeed, HistoryStore

__all__ = ("follow_journal",)


async def follow_journal(
    store: HistoryStore,
    execution_id: str,
    *,
    after: int = 0,
    poll_s: float = 0.25,
    given_up: Callable[[], bool] = lambda: False,
) -> AsyncIterator[Event]:
    """Every event of the execution after ``after``, in order, until it has ended (its record says so
    and its last event was read), or until ``given_up()`` says nobody will write it any more.

    The store's change feed (PostgreSQL's NOTIFY) wakes it as each batch commits; the poll every
    ``poll_s`` makes it sure when a notification was missed."""
    wake = asyncio.Event()
    watcher: asyncio.Task[None] | None = None
    if isinstance(store, ChangeFeed):
        watcher = asyncio.create_task(store.watch(lambda _eid, _n: wake.set(), execution_id=execution_id))
    try:
        while True:
            wake.clear()
            for event in await store.read_journal(execution_id, after=after):
                after = event.sequence
                yield event
            record = await store.get_execution(execution_id)
            if record is not None and record.status in TERMINAL_STATUSES and record.last_sequence <= after:
                return
            if given_up():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll_s)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
