"""Recording events to a history store without putting the store on the agents' critical path.

Events are appended to an in-memory batch as they happen; one flusher task per execution writes the
batch with a single ``store.append``. After the first event of a batch it lingers ``linger_s``
(default 10 ms) so that the batch grows — nothing in the run waits for these writes, except the start
event (written at once: it carries the definition a resume needs) and the final flush at the end —
so the store sees few, large batches and agents never wait for it. A crash loses at most the events
of the last linger window: those calls count as in flight and run again on resume.

The linger also ends early when the event loop runs out of work (every agent of every execution is
waiting): the batch is written *before* the loop goes to sleep rather than by a timer in the middle of
the agents' wait. That matters for latency: each extra wake-up of a sleeping loop costs the agents'
timers up to a millisecond (the selector rounds its timeout up to whole milliseconds), measured as
+1–2 % on a chain of 50 ms agent calls. "Out of work" is read from CPython's queue of ready callbacks
(``loop._ready``); on a loop without one (uvloop) the linger simply runs its course.

A failed append is retried twice (50 ms, then 200 ms); after that — or at once when the store says
the lease was lost — the execution is told (``on_failure``) and ends as failed.

Backpressure: a store that writes slower than the executions produce events (SQLite under thousands
of concurrent executions: its writer thread shares the GIL with the busy loop) would otherwise let the
unwritten events of every execution pile up in memory. The executor's :class:`Backlog` counts them;
above its limit, executions wait at their next step boundary until half of it is written.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from quorum.errors import LeaseLostError
from quorum.events import Event
from quorum.history.base import HistoryStore

__all__ = ("Backlog", "Recorder")

_RETRY_DELAYS = (0.05, 0.2)


def _ignore(exc: BaseException) -> None:
    """``on_failure`` after the flusher ended (see ``Recorder.run``)."""


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _IdleWatch:
    """Settles futures when the loop has no ready callback left, i.e. is about to wait for I/O or a
    timer. One per loop, whatever the number of recorders: a single callback per loop turn, and only
    while someone waits."""

    __slots__ = ("__weakref__", "_armed", "_futures", "_loop", "_ready")

    def __init__(self, loop: asyncio.AbstractEventLoop, ready: Any) -> None:
        self._loop = loop
        self._ready = ready
        # A dict as an ordered set: a future settled by its timer is discarded at once, so that a loop
        # that never goes idle (thousands of busy executions) does not pile up settled futures.
        self._futures: dict[asyncio.Future[None], None] = {}
        self._armed = False

    def add(self, future: asyncio.Future[None]) -> None:
        self._futures[future] = None
        if not self._armed:
            self._armed = True
            self._loop.call_soon(self._check)

    def _check(self) -> None:
        if not self._futures:  # every waiter's timer came first: nothing to watch for
            self._armed = False
            return
        if self._ready:  # more callbacks to run: not idle yet (look again next turn)
            self._loop.call_soon(self._check)
            return
        self._armed = False
        futures, self._futures = self._futures, {}
        for future in futures:
            _settle(future)

    def discard(self, future: asyncio.Future[None]) -> None:
        self._futures.pop(future, None)


_WATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _IdleWatch] = weakref.WeakKeyDictionary()


def _idle_watch(loop: asyncio.AbstractEventLoop) -> _IdleWatch | None:
    watch = _WATCHES.get(loop)
    if watch is None:
        ready = getattr(loop, "_ready", None)
        if ready is None or not hasattr(ready, "__len__"):
            return None
        watch = _WATCHES[loop] = _IdleWatch(loop, ready)
    return watch


class Backlog:
    """The recorded events of an executor's executions that are not written yet (see the module).

    ``limit`` None: no bound. Executions that find more than ``limit`` waiting (:meth:`drained`) go on
    once at most ``limit // 2`` are."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"journal_backlog must be at least 1 event (or None: no bound), not {limit}")
        self.limit = limit
        self.pending = 0
        self._below_half = asyncio.Event()
        self._below_half.set()

    @property
    def over(self) -> bool:
        return self.limit is not None and self.pending > self.limit

    def added(self) -> None:
        self.pending += 1

    def written(self, count: int) -> None:
        """``count`` events are written (or will never be: their execution failed)."""
        self.pending -= count
        if self.pending <= (self.limit or 0) // 2:
            self._below_half.set()

    async def drained(self) -> None:
        """Return once the backlog is back to half its limit (at once when it is not over it)."""
        while self.over:
            self._below_half.clear()
            await self._below_half.wait()


class Recorder:
    __slots__ = (
        "_backlog", "_batch", "_closed", "_durable", "_hurry", "_lingering", "_on_failure", "_waiters",
        "_wake", "_woken", "epoch", "failed", "linger_s", "store", "written",
    )

    def __init__(
        self,
        store: HistoryStore,
        *,
        on_failure: Callable[[BaseException], None],
        linger_s: float = 0.01,
        backlog: Backlog | None = None,
    ) -> None:
        self.store = store
        self._backlog = backlog
        self.linger_s = linger_s
        # Plain flags and a future made only while the flusher sleeps, not two ``asyncio.Event``s, which
        # would each hold a deque for the life of the execution (see benchmarks/PROFILE.md, memory).
        self._hurry = False
        self._lingering: asyncio.Future[None] | None = None
        self.epoch: int | None = None
        self._batch: list[Event] = []
        self._woken = False
        self._wake: asyncio.Future[None] | None = None
        self._closed = False
        self._on_failure = on_failure
        self.failed: BaseException | None = None
        self.written = 0
        self._durable = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def durable(self, sequence: int) -> None:
        """Wait until the event with ``sequence`` (and all before it) is written (or writing failed)."""
        if self._durable >= sequence or self.failed is not None:
            return
        self._nudge()
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((sequence, future))
        await future

    def _release(self, everyone: bool = False) -> None:
        keep = []
        for sequence, future in self._waiters:
            if everyone or sequence <= self._durable:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((sequence, future))
        self._waiters = keep

    def add(self, event: Event) -> None:
        if self.failed is not None:
            return  # nothing more of this execution is written (it ends as failed)
        self._batch.append(event)
        if self._backlog is not None:
            self._backlog.added()
        if len(self._batch) == 1:
            self._signal()

    def _signal(self) -> None:
        """Wake the flusher (``run``)."""
        self._woken = True
        if self._wake is not None:
            _settle(self._wake)

    def close(self) -> None:
        """Flush what is left, then stop (``run`` returns)."""
        self._closed = True
        self._signal()
        self._nudge()

    def _nudge(self) -> None:
        """Write now: end the current linger."""
        self._hurry = True
        if self._lingering is not None:
            _settle(self._lingering)

    async def flush(self) -> None:
        while self._batch and self.failed is None:
            batch, self._batch = self._batch, []
            try:
                await self._append(batch)
            finally:
                if self._backlog is not None:
                    self._backlog.written(len(batch))

    async def run(self) -> None:
        try:
            while True:
                if not self._woken:
                    wake = self._wake = asyncio.get_running_loop().create_future()
                    try:
                        await wake
                    finally:
                        self._wake = None
                self._woken = False
                if not self._hurry and self.linger_s > 0:
                    # Until the linger ends, the loop runs out of work, or someone needs the write.
                    loop = asyncio.get_running_loop()
                    lingering = self._lingering = loop.create_future()
                    timer = loop.call_later(self.linger_s, _settle, lingering)
                    watch = _idle_watch(loop)
                    if watch is not None:
                        watch.add(lingering)
                    try:
                        await lingering
                    finally:
                        timer.cancel()
                        if watch is not None:
                            watch.discard(lingering)
                        self._lingering = None
                else:
                    await asyncio.sleep(0)  # at least the rest of this tick's events join the batch
                if not self._closed:
                    self._hurry = False
                await self.flush()
                if self._closed and not self._batch:
                    return
        finally:
            # ``on_failure`` is a bound method of the execution, which holds this recorder: a reference
            # cycle that only the garbage collector could free. Once the flusher is done, drop it, so
            # that a finished execution (its journal batch, snapshots, events) is freed at once by
            # reference counting. A failure later (a stray ``flush``) is still kept in ``failed``.
            self._on_failure = _ignore

    async def _append(self, batch: list[Event]) -> None:
        for delay in (*_RETRY_DELAYS, None):
            try:
                await self.store.append(batch, epoch=self.epoch)
            except LeaseLostError as exc:
                self._fail(exc)
                return
            except Exception as exc:
                if delay is None:
                    self._fail(exc)
                    return
                await asyncio.sleep(delay)
            else:
                self.written += len(batch)
                self._durable = batch[-1].sequence
                if self._waiters:
                    self._release()
                return

    def _fail(self, exc: BaseException) -> None:
        self.failed = exc
        if self._backlog is not None:
            self._backlog.written(len(self._batch))
        self._batch.clear()
        self._release(everyone=True)
        self._on_failure(exc)
