"""Server-Sent Events: an execution's journal as it grows, or every execution's.

Each message is ``event: <quorum event type>``, ``id: <journal sequence>`` (on ``/events``:
``<execution id>:<sequence>``) and ``data: <the event as JSON>``. A client that reconnects with
``Last-Event-ID`` gets exactly the events after that one. Idle streams get a ``: heartbeat`` comment
every ``heartbeat_s``. An execution's stream ends after its final event; ``/events`` never ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from quorum.server.feeds import Feed, FeedHub, encode_event

if TYPE_CHECKING:
    from quorum.events import Event
    from quorum.history.base import HistoryStore

__all__ = ("all_executions_stream", "execution_stream", "format_event", "parse_global_id")

_DISCOVER_S = 0.5
_DISCOVER_LIMIT = 200
_ACTIVE = ("pending", "running", "paused", "waiting")


def format_event(event: Event, *, event_id: str, data: bytes | None = None) -> bytes:
    """One SSE message; ``data`` is the event's JSON when the feed has it encoded already."""
    body = encode_event(event) if data is None else data
    return b"event: " + event.type.encode() + b"\nid: " + event_id.encode() + b"\ndata: " + body + b"\n\n"


async def _wait(signals: list[asyncio.Event], limit_s: float) -> bool:
    """Until one of ``signals`` is set; False after ``limit_s``."""
    waiters = [asyncio.ensure_future(s.wait()) for s in signals]
    try:
        done, _ = await asyncio.wait(waiters, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for w in waiters:
            w.cancel()


async def execution_stream(hub: FeedHub, execution_id: str, *, after: int,
                           heartbeat_s: float) -> AsyncGenerator[bytes, None]:
    feed = hub.acquire(execution_id)
    loop = asyncio.get_running_loop()
    try:
        cursor = after
        yield b"retry: 1000\n\n"
        last_sent = loop.time()
        while True:
            changed = feed.signal()
            batch = await feed.after(cursor)
            if batch:
                # what arrived together goes out in one write: one send per client, not per event
                yield b"".join(format_event(e, event_id=str(e.sequence), data=d) for e, d in batch)
                cursor = batch[-1][0].sequence
                last_sent = loop.time()
            elif loop.time() - last_sent >= heartbeat_s:
                yield b": heartbeat\n\n"
                last_sent = loop.time()
            if feed.ended and cursor >= feed.last:
                return
            await changed.wait()  # new events, or the hub's beat (see quorum.server.feeds)
    finally:
        await hub.release(feed)


def parse_global_id(value: str | None) -> tuple[str, int] | None:
    """``<execution id>:<sequence>`` from a Last-Event-ID of ``/events``; None when absent or malformed."""
    if not value or ":" not in value:
        return None
    execution_id, _, sequence = value.rpartition(":")
    return (execution_id, int(sequence)) if sequence.isdigit() and execution_id else None


async def all_executions_stream(store: HistoryStore, hub: FeedHub, *, resume: tuple[str, int] | None,
                                now: float, heartbeat_s: float) -> AsyncGenerator[bytes, None]:
    """Events of every execution recorded after the stream began (or after the ``resume`` event)."""
    since = now
    cursors: dict[str, int] = {}
    if resume is not None:
        execution_id, sequence = resume
        marker = await store.read_journal(execution_id, after=sequence - 1, limit=1) if sequence else []
        if marker:
            since = marker[0].timestamp
            cursors[execution_id] = sequence
    feeds: dict[str, Feed] = {}
    done: set[str] = set()
    try:
        yield b"retry: 1000\n\n"
        next_look = 0.0
        loop = asyncio.get_running_loop()
        last_sent = loop.time()
        while not hub.closing:
            if loop.time() >= next_look:
                await _discover(store, hub, feeds, cursors, done, since=since)
                next_look = loop.time() + _DISCOVER_S
            signals = [f.signal() for f in feeds.values()]
            for execution_id, feed in list(feeds.items()):
                for event, data in await feed.after(cursors[execution_id]):
                    yield format_event(event, event_id=f"{execution_id}:{event.sequence}", data=data)
                    cursors[execution_id] = event.sequence
                    last_sent = loop.time()
                if feed.ended and cursors[execution_id] >= feed.last:
                    done.add(execution_id)
                    del feeds[execution_id]
                    await hub.release(feed)
            if loop.time() - last_sent >= heartbeat_s:
                yield b": heartbeat\n\n"
                last_sent = loop.time()
            timeout = max(0.0, min(next_look, last_sent + heartbeat_s) - loop.time())
            if signals:
                await _wait(signals, timeout)
            else:
                await asyncio.sleep(timeout)
    finally:
        for feed in feeds.values():
            with contextlib.suppress(Exception):
                await hub.release(feed)


async def _discover(store: HistoryStore, hub: FeedHub, feeds: dict[str, Feed], cursors: dict[str, int],
                    done: set[str], *, since: float) -> None:
    for record in await store.list_executions(limit=_DISCOVER_LIMIT):
        if record.id in feeds or record.id in done:
            continue
        if record.updated_at < since and record.status not in _ACTIVE:
            continue
        if record.id not in cursors:
            cursors[record.id] = await _position_at(store, record.id, since, record.created_at)
        feeds[record.id] = hub.acquire(record.id)


async def _position_at(store: HistoryStore, execution_id: str, since: float, created_at: float) -> int:
    """The last sequence recorded at or before ``since`` (0 for an execution created after it)."""
    if created_at > since:
        return 0
    position = 0
    for event in await store.read_journal(execution_id):
        if event.timestamp > since:
            break
        position = event.sequence
    return position
