"""EventPublisher: an executor's events, PUBLISHed to Redis for other processes to follow live.

Attached as a handler (:func:`attach`), it never blocks nor fails an execution: the handler only appends
the event to a bounded buffer (an event that finds it full is dropped and counted in ``dropped``) and
one task of its own sends what gathered, many events per round trip. A server that is down costs the
events published meanwhile (counted in ``failed``, one warning per outage), never a step of the run. The
journal stays the source of truth: a follower that misses messages reads them there by sequence.

``agent:chunk`` events (streamed text, never journaled, with no sequence of their own) are not sent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quorum.agents.cache_redis import redis_client, unavailable_errors
from quorum.events import EVENT_TYPES, Event, EventType
from quorum.fanout._wire import ALL_CHANNEL, channel_for, encode_event
from quorum.history._location import redact_url

if TYPE_CHECKING:
    from quorum.engine.executor import TaskExecutor

__all__ = ("EventPublisher", "PublisherStats", "attach")

_log = logging.getLogger("quorum.fanout")
_BATCH = 256
_RETRY_S = 0.5
PUBLISHED_TYPES = frozenset(EVENT_TYPES - {EventType.AGENT_CHUNK})


@dataclass(frozen=True, slots=True, kw_only=True)
class PublisherStats:
    published: int
    dropped: int
    """Events that found the buffer full (the server was slower than the run, or away)."""
    failed: int
    """Events lost to a server that could not be reached."""
    buffered: int


class EventPublisher:
    def __init__(self, url: str, *, max_buffer: int = 10_000, timeout_s: float = 1.0) -> None:
        self.url = url
        self.location = redact_url(url)
        self.max_buffer = max_buffer
        self._client = redis_client(url, timeout_s=timeout_s, what="the live events server")
        self._errors = unavailable_errors()
        self._buffer: collections.deque[Event] = collections.deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._down = False
        self.published = 0
        self.dropped = 0
        self.failed = 0

    def __repr__(self) -> str:
        return f"EventPublisher({self.location!r}, {self.stats()})"

    def stats(self) -> PublisherStats:
        return PublisherStats(published=self.published, dropped=self.dropped, failed=self.failed,
                              buffered=len(self._buffer))

    def __call__(self, event: Event) -> None:
        """The executor's handler: keep the event for the sender, at once, whatever the server does."""
        if self._closed:
            return
        if len(self._buffer) >= self.max_buffer:
            self.dropped += 1
            return
        self._buffer.append(event)
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._send_forever(), name="quorum-fanout")

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._buffer:
                batch = [self._buffer.popleft() for _ in range(min(_BATCH, len(self._buffer)))]
                if not await self._send(batch):
                    await asyncio.sleep(_RETRY_S)  # the server is away: let events gather (or drop)
            self._idle.set()

    async def _send(self, batch: list[Event]) -> bool:
        pipe = self._client.pipeline(transaction=False)
        for event in batch:
            payload = encode_event(event)
            pipe.publish(channel_for(event.execution_id), payload)
            pipe.publish(ALL_CHANNEL, payload)
        try:
            await pipe.execute()
        except self._errors as exc:
            self.failed += len(batch)
            if not self._down:
                self._down = True
                _log.warning("live events: Redis at %s is unavailable (%s: %s); events are not published "
                             "until it is back (the journal has them all)", self.location,
                             type(exc).__name__, exc)
            return False
        if self._down:
            self._down = False
            _log.warning("live events: Redis at %s is back", self.location)
        self.published += len(batch)
        return True

    async def flush(self) -> None:
        """Until every buffered event was sent (or given up on)."""
        await self._idle.wait()

    async def aclose(self, *, flush_s: float = 2.0) -> None:
        """Send what is buffered (for at most ``flush_s``), then stop and close the connection."""
        self._closed = True
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), flush_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._client.aclose()


def attach(executor: TaskExecutor | Any, url: str, **options: Any) -> EventPublisher:
    """A publisher of ``executor``'s events to ``url`` (every journaled type; not ``agent:chunk``, so
    attaching it does not turn on the streaming of LLM answers)."""
    publisher = EventPublisher(url, **options)
    for event_type in sorted(PUBLISHED_TYPES):
        executor.on(event_type, publisher)
    return publisher
