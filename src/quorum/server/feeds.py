"""One tailer per watched journal, shared by every client that watches it.

A :class:`Feed` reads its execution's journal from the store (``read_journal(after=last)``), so events
written by any process arrive; events of executions driven here also *poke* it, so they are read at
once instead of at the next poll. Clients keep their own cursor (the last sequence they got) and take
what is newer from the feed's recent events, or from the store when they are further behind, so 200
clients of one execution cost one journal read per change, and none of them misses or repeats one.

Clients wait on their feed's signal alone, without a timer each: the hub wakes every feed's clients
every ``beat_s`` (a shared *beat*), and a client that has sent nothing for its heartbeat interval
sends one then. 200 clients waiting cost 200 waiters, not 200 timers rescheduled after every event.

With a *live source* (``FeedHub(store, live=RedisLiveSource(url))``, :mod:`quorum.fanout`), events that
other processes publish reach their feeds without a journal read: an event whose sequence is the feed's
``last + 1`` is appended as it is; one further ahead shows a gap (a message lost, a reconnection), and
the feed reads the journal from its ``last``, so a follower that missed messages loses nothing. Polling
stays, as the fallback for a source that is down or events nobody published.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from quorum.events import Event, EventType
from quorum.fanout._wire import encode_event
from quorum.history.base import ChangeFeed

if TYPE_CHECKING:
    from quorum.history.base import HistoryStore

__all__ = ("ENDING_EVENTS", "Encoded", "Feed", "FeedHub", "LiveSource", "encode_event")

Encoded = tuple[Event, bytes]
"""An event and its JSON, encoded once however many clients it goes to (the text the live events
carry between processes, too)."""
_log = logging.getLogger("quorum.server")


class LiveSource(Protocol):
    """Events as other processes publish them: ``watch`` calls ``on_event`` for each, and ``on_connect``
    after each (re)connection, until cancelled (:class:`quorum.fanout.RedisLiveSource`)."""

    async def watch(self, on_event: Callable[[Event], Any], on_connect: Callable[[], Any]) -> None: ...


ENDING_EVENTS = frozenset({EventType.EXECUTION_COMPLETE, EventType.EXECUTION_ERROR,
                           EventType.EXECUTION_TIMEOUT, EventType.EXECUTION_ABORTED})
"""The last event of a journal: nothing is recorded after the final outcome."""
_RECENT = 4096
_READ_BATCH = 2000
_SOON_S = 0.002


class Feed:
    def __init__(self, store: HistoryStore, execution_id: str, *, poll_s: float) -> None:
        self.execution_id = execution_id
        self._store = store
        self._poll_s = poll_s
        self._recent: collections.deque[Encoded] = collections.deque(maxlen=_RECENT)
        self.last = 0
        self.ended = False
        self.users = 0
        self._changed = asyncio.Event()
        self._poked = asyncio.Event()
        self._announced = 0
        self._soon_left = 0
        """The highest sequence an event of this process announced: the store may not have it yet (its
        writer commits in groups), so the feed reads again shortly instead of at the next poll."""
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

    def poke(self, sequence: int = 0) -> None:
        if sequence > self._announced:
            self._announced = sequence
            self._soon_left = max(1, round(self._poll_s / _SOON_S))
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
                full = len(events) == _READ_BATCH
                if events and events[0].sequence <= self.last:
                    # the live source delivered some of them while the store was read
                    events = [e for e in events if e.sequence > self.last]
                if events:
                    self._recent.extend((e, encode_event(e)) for e in events)
                    self.last = events[-1].sequence
                    self.ended = events[-1].type in ENDING_EVENTS
                    self._notify()
                if full:
                    continue
                if self.ended:
                    break
                if self._announced > self.last:
                    # some events are announced but never journaled (streamed chunks): try soon for a
                    # poll interval, then wait as usual
                    self._soon_left -= 1
                    if self._soon_left > 0:
                        await asyncio.sleep(_SOON_S)
                        continue
                    self._announced = self.last
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poked.wait(), self._poll_s)
        except Exception as exc:  # a broken store: the streams end, each client sees why
            self.failure = exc
            self.ended = True
            self._notify()

    def offer(self, event: Event) -> None:
        """An event from the live source: the next one is kept at once; one past a gap makes the feed
        read the journal (from ``last``) instead, and one it has already is ignored."""
        if self.ended or event.sequence <= self.last:
            return
        if event.sequence == self.last + 1:
            self._recent.append((event, encode_event(event)))
            self.last = event.sequence
            self.ended = event.type in ENDING_EVENTS
            self._notify()
            return
        self.poke(event.sequence)

    def beat(self) -> None:
        """Wake this feed's clients with nothing new (each decides whether a heartbeat is due)."""
        self._notify()

    def end(self) -> None:
        """No more events will come through this feed (the server is stopping)."""
        self.ended = True
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def after(self, sequence: int) -> list[Encoded]:
        """The events this feed has seen with a sequence above ``sequence``, in order."""
        if sequence >= self.last:
            return []
        recent = self._recent
        first = recent[0][0].sequence if recent else None
        if first is not None and first <= sequence + 1:
            # sequences are gap-free: the first newer event's index is known without a scan
            return list(itertools.islice(recent, sequence + 1 - first, None))
        older = await self._store.read_journal(self.execution_id, after=sequence, limit=self.last - sequence)
        return [(e, encode_event(e)) for e in older]


class FeedHub:
    """The feeds of the journals being watched, by execution id; ``live`` (optional) brings other
    processes' events to them as they happen (see the module's docstring)."""

    def __init__(self, store: HistoryStore, *, poll_s: float, beat_s: float = 5.0,
                 live: LiveSource | None = None) -> None:
        self._store = store
        self._poll_s = poll_s
        self._beat_s = beat_s
        self._feeds: dict[str, Feed] = {}
        self._beating: asyncio.Task[None] | None = None
        self._live = live
        self._following: asyncio.Task[None] | None = None
        self._changes: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._beat_s)
            for feed in list(self._feeds.values()):
                feed.beat()

    def acquire(self, execution_id: str) -> Feed:
        feed = self._feeds.get(execution_id)
        if feed is None:
            feed = self._feeds[execution_id] = Feed(self._store, execution_id, poll_s=self._poll_s)
            feed.start()
        if self._beating is None:
            self._beating = asyncio.ensure_future(self._beat())
        if self._live is not None and self._following is None:
            self._following = asyncio.ensure_future(self._follow(self._live))
        if self._changes is None and isinstance(self._store, ChangeFeed):
            self._changes = asyncio.ensure_future(self._watch_store(self._store))
        feed.users += 1
        return feed

    async def _follow(self, live: LiveSource) -> None:
        try:
            await live.watch(self._offer, self._reconnected)
        except Exception as exc:  # the live source is broken: the feeds go on polling the journal
            _log.warning("live events: %r stopped (%s); the event streams poll the journal", live, exc)

    def _offer(self, event: Event) -> None:
        feed = self._feeds.get(event.execution_id)
        if feed is not None:
            feed.offer(event)

    def _reconnected(self) -> None:
        # messages may have been lost while the source was away: every feed reads its journal again
        for feed in self._feeds.values():
            feed.poke()

    async def release(self, feed: Feed) -> None:
        feed.users -= 1
        if feed.users <= 0 and self._feeds.get(feed.execution_id) is feed:
            del self._feeds[feed.execution_id]
            await feed.stop()

    def poke(self, execution_id: str, sequence: int = 0) -> None:
        feed = self._feeds.get(execution_id)
        if feed is not None:
            feed.poke(sequence)

    closing = False
    """Set by :meth:`end_all`: the server is stopping, and every stream ends now."""

    def end_all(self) -> None:
        """End every stream (the server is stopping: clients reconnect, with Last-Event-ID, to the next
        one). Without it, a browser tab left open would hold the shutdown until uvicorn's grace ends."""
        self.closing = True
        for feed in list(self._feeds.values()):
            feed.end()

    async def _watch_store(self, store: ChangeFeed) -> None:
        """A store that says when journals grow (PostgreSQL's LISTEN/NOTIFY) wakes their feeds as any
        process commits, instead of at their next poll."""
        try:
            await store.watch(self.poke)
        except Exception as exc:  # the notifications stopped: the feeds go on polling the journal
            _log.warning("journal notifications stopped (%s); the event streams poll the journal", exc)

    async def close(self) -> None:
        for task in (self._beating, self._following, self._changes):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._beating = self._following = self._changes = None
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            feed.end()
            await feed.stop()
