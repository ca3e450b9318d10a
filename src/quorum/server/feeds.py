"""One tailer per watched journal, shared by every client that watches it.

A :class:`Feed` reads its execution's journal from the store (``read_journal(after=last)``), so events
written by any process arrive; events of executions driven here also *poke* it, so they are read at
once instead of at the next poll. Clients keep their own cursor (the last sequence they got) and take
what is newer from the feed's recent events, or from the store when they are further behind, so 200
clients of one execution cost one journal read per change, and none of them misses or repeats one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import TYPE_CHECKING

from quorum.events import Event, EventType

if TYPE_CHECKING:
    from quorum.history.base import HistoryStore

__all__ = ("ENDING_EVENTS", "Feed", "FeedHub")

ENDING_EVENTS = frozenset({EventType.EXECUTION_COMPLETE, EventType.EXECUTION_ERROR,
                           EventType.EXECUTION_TIMEOUT, EventType.EXECUTION_ABORTED})
"""The last event of a journal: nothing is recorded after the final outcome."""
_RECENT = 4096
_READ_BATCH = 2000


class Feed:
    def __init__(self, store: HistoryStore, execution_id: str, *, poll_s: float) -> None:
        self.execution_id = execution_id
        self._store = store
        self._poll_s = poll_s
        self._recent: collections.deque[Event] = collections.deque(maxlen=_RECENT)
        self.last = 0
        self.ended = False
        self.users = 0
        self._changed = asyncio.Event()
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poke(self) -> None:
        self._poked.set()

    def signal(self) -> asyncio.Event:
        """Set when something newer arrives; take it *before* reading, so nothing slips between."""
        return self._changed

    async def _run(self) -> None:
        try:
            while not self.ended:
                self._poked.clear()
                events = await self._store.read_journal(self.execution_id, after=self.last,
                                                        limit=_READ_BATCH)
                if events:
                    self._recent.extend(events)
                    self.last = events[-1].sequence
                    self.ended = events[-1].type in ENDING_EVENTS
                    self._notify()
                    if len(events) == _READ_BATCH:
                        continue
                if self.ended:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poked.wait(), self._poll_s)
        except Exception as exc:  # a broken store: the streams end, each client sees why
            self.failure = exc
            self.ended = True
            self._notify()

    def end(self) -> None:
        """No more events will come through this feed (the server is stopping)."""
        self.ended = True
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def after(self, sequence: int) -> list[Event]:
        """The events this feed has seen with a sequence above ``sequence``, in order."""
        if sequence >= self.last:
            return []
        recent = self._recent
        if recent and recent[0].sequence <= sequence + 1:
            return [e for e in recent if e.sequence > sequence]
        return await self._store.read_journal(self.execution_id, after=sequence,
                                              limit=self.last - sequence)


class FeedHub:
    def __init__(self, store: HistoryStore, *, poll_s: float) -> None:
        self._store = store
        self._poll_s = poll_s
        self._feeds: dict[str, Feed] = {}

    def acquire(self, execution_id: str) -> Feed:
        feed = self._feeds.get(execution_id)
        if feed is None:
            feed = self._feeds[execution_id] = Feed(self._store, execution_id, poll_s=self._poll_s)
            feed.start()
        feed.users += 1
        return feed

    async def release(self, feed: Feed) -> None:
        feed.users -= 1
        if feed.users <= 0 and self._feeds.get(feed.execution_id) is feed:
            del self._feeds[feed.execution_id]
            await feed.stop()

    def poke(self, execution_id: str) -> None:
        feed = self._feeds.get(execution_id)
        if feed is not None:
            feed.poke()

    async def close(self) -> None:
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            feed.end()
            await feed.stop()
