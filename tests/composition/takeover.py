"""A take-over from a chosen point: an execution's journal written into another store up to an event, as
the process that drove it left it when it died there (no owner, nothing after that event)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from quorum.events import Event
from quorum.history.base import HistoryStore

Edit = Callable[[Event], Event]


async def copy_execution(source: HistoryStore, target: HistoryStore, execution_id: str, *,
                         through: Callable[[Event], bool] | None = None, edit: Edit | None = None) -> None:
    """Write ``execution_id``'s row and journal from ``source`` into ``target``: the journal up to and with
    the first event ``through`` accepts (the whole journal without it), each event passed through ``edit``."""
    record = await source.get_execution(execution_id)
    assert record is not None, execution_id
    await target.create_execution(replace(
        record, status="pending", updated_at=record.created_at, started_at=None, ended_at=None,
        duration_ms=None, verdict=None, error=None, last_sequence=0, owner=None, epoch=0,
        lease_expires_at=None, recovery_attempts=0))
    kept: list[Event] = []
    for event in await source.read_journal(execution_id):
        kept.append(event if edit is None else edit(event))
        if through is not None and through(event):
            break
    else:
        assert through is None, f"no event of {execution_id} to stop at"
    await target.append(kept)


def checkpoint_after(phase: str) -> Callable[[Event], bool]:
    """The checkpoint taken when ``phase`` completed."""
    return lambda e: e.type == "checkpoint:created" and e.data.get("label") == f"after:{phase}"


def completion_of(phase: str) -> Callable[[Event], bool]:
    """The ``phase:complete`` of ``phase`` (its checkpoint, the next event, never written)."""
    return lambda e: e.type == "phase:complete" and e.phase == phase


def without_children_in_checkpoints(event: Event) -> Event:
    """The event as written before checkpoints kept each child's usage."""
    snapshot: Mapping[str, Any] | None = event.data.get("snapshot")
    if event.type != "checkpoint:created" or snapshot is None:
        return event
    old = {key: value for key, value in snapshot.items() if key != "children"}
    return replace(event, data={**event.data, "snapshot": old})


async def journal_until(store: HistoryStore, execution_id: str, found: Callable[[Event], bool],
                        *, timeout_s: float = 10.0) -> Sequence[Event]:
    """The journal of ``execution_id`` once an event ``found`` accepts is durable in ``store``."""
    async with asyncio.timeout(timeout_s):
        while True:
            journal = await store.read_journal(execution_id)
            if any(found(e) for e in journal):
                return journal
            await asyncio.sleep(0.01)
