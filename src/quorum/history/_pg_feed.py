"""LISTEN/NOTIFY for the PostgreSQL store: one listening connection per store, shared by its watchers.

The store NOTIFYs in the statement that writes (so a notification goes out exactly when its
transaction commits), on one channel per kind: ``j <execution id>:<last sequence>`` on the journal
channel when a journal grew, ``c <execution id>:<request id>`` on the control channel when a control
request was made. Two channels, because every driving process watches control requests while few
(``quorum serve``, ``show --follow``) watch journals: on one channel every driver was sent, and
parsed, a notification for every batch of every execution. A :class:`Listener` serves one channel: it
keeps one dedicated connection (not one of the pool's: a listening connection must stay open), opened
by its first watcher, that LISTENs, and dispatches each notification to the watchers registered for
its kind and execution (or for all executions) — a dict lookup per notification, however many
executions watch.

A lost listening connection is opened again with backoff while anyone watches; notifications sent
meanwhile are missed, which is why every user of the feed keeps polling as its fallback.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Final

from quorum.history.base import ChangeKind

__all__ = ("Listener", "parse_notification")

_BACKOFF_MAX_S: Final = 2.0

OnChange = Callable[[str, int], None]


def parse_notification(payload: str) -> tuple[ChangeKind, str, int] | None:
    """``(kind, execution id, number)`` of a payload, None for one that is not quorum's."""
    tag, _, rest = payload.partition(" ")
    eid, _, number = rest.rpartition(":")
    if tag not in ("j", "c") or not eid or not number.isdigit():
        return None
    return ("journal" if tag == "j" else "control"), eid, int(number)


class Listener:
    """The store's LISTEN connection and its watchers."""

    def __init__(
        self, connect: Callable[[], Awaitable[Any]], channel: str, *, on_control: Callable[[str], None]
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._on_control = on_control
        self._watchers: dict[tuple[ChangeKind, str | None], dict[int, OnChange]] = {}
        self._ids = itertools.count()
        self._conn: Any = None
        self._lost = asyncio.Event()
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False
        self.received = 0
        self.connects = 0
        """Listening connections opened (one for the store's life, unless the server drops it)."""

    async def watch(self, on_change: OnChange, *, kind: ChangeKind, execution_id: str | None) -> None:
        token = next(self._ids)
        self._watchers.setdefault((kind, execution_id), {})[token] = on_change
        delay = 0.05
        try:
            while not self._closed:
                try:
                    await self._ensure()
                    delay = 0.05
                    await self._lost.wait()
                except Exception:  # the server is away (or refuses): try again later; callers poll too
                    pass
                if self._is_closed():
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
        finally:
            watchers = self._watchers.get((kind, execution_id), {})
            watchers.pop(token, None)
            if not watchers:
                self._watchers.pop((kind, execution_id), None)

    async def _ensure(self) -> None:
        if self._closed or (self._conn is not None and not self._conn.is_closed()):
            return
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.get_running_loop().create_task(self._open(), name="quorum-pg-listen")
            self._connecting.add_done_callback(_retrieve)
        # Shielded: a watcher cancelled while the connection opens (an execution that ended at once)
        # must not abort it for the watchers that come next; the listener owns it, ``close`` ends it.
        await asyncio.shield(self._connecting)

    async def _open(self) -> None:
        self.connects += 1
        conn = await self._connect()
        try:
            await conn.add_listener(self._channel, self._dispatch)
        except BaseException:
            conn.terminate()
            raise
        if self._closed:
            conn.terminate()
            return
        conn.add_termination_listener(self._terminated)
        self._lost = asyncio.Event()
        self._conn = conn

    def _is_closed(self) -> bool:
        return self._closed  # a method: close() may have run while this task waited

    def _terminated(self, _conn: Any) -> None:
        self._conn = None
        self._lost.set()

    def _dispatch(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        parsed = parse_notification(payload)
        if parsed is None:
            return
        self.received += 1
        kind, eid, number = parsed
        if kind == "control":
            self._on_control(eid)
        for key in ((kind, eid), (kind, None)):
            for on_change in list(self._watchers.get(key, {}).values()):
                on_change(eid, number)

    async def close(self) -> None:
        self._closed = True
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
            await asyncio.wait([connecting])
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.remove_termination_listener(self._terminated)
            try:
                await asyncio.wait_for(conn.close(), timeout=2)
            except (TimeoutError, OSError):
                conn.terminate()
        self._lost.set()


def _retrieve(task: asyncio.Task[None]) -> None:
    # Its watchers may all have gone: read the outcome, so that a failed connect is not reported as
    # "exception was never retrieved" (the next watcher tries again).
    if not task.cancelled():
        task.exception()
