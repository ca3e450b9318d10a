"""Recording events to a history store without putting the store on the agents' critical path.

Events are appended to an in-memory batch as they happen; one flusher task per execution writes the
batch with a single ``store.append``. After the first event of a batch it lingers ``linger_s``
(default 10 ms) so that the batch grows — nothing in the run waits for these writes, except the start
event (written at once: it carries the definition a resume needs) and the final flush at the end —
so the store sees few, large batches and agents never wait for it. A crash loses at most the events
of the last linger window: those calls count as in flight and run again on resume.

A failed append is retried twice (50 ms, then 200 ms); after that — or at once when the store says
the lease was lost — the execution is told (``on_failure``) and ends as failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from quorum.errors import LeaseLostError
from quorum.events import Event
from quorum.history.base import HistoryStore

__all__ = ("Recorder",)

_RETRY_DELAYS = (0.05, 0.2)


class Recorder:
    __slots__ = (
        "_batch", "_closed", "_durable", "_hurry", "_on_failure", "_waiters", "_wake", "epoch", "failed",
        "linger_s", "store", "written",
    )

    def __init__(
        self, store: HistoryStore, *, on_failure: Callable[[BaseException], None], linger_s: float = 0.01
    ) -> None:
        self.store = store
        self.linger_s = linger_s
        self._hurry = asyncio.Event()
        self.epoch: int | None = None
        self._batch: list[Event] = []
        self._wake = asyncio.Event()
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
        self._hurry.set()
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
        self._batch.append(event)
        if len(self._batch) == 1:
            self._wake.set()

    def close(self) -> None:
        """Flush what is left, then stop (``run`` returns)."""
        self._closed = True
        self._wake.set()
        self._hurry.set()

    async def flush(self) -> None:
        while self._batch and self.failed is None:
            batch, self._batch = self._batch, []
            await self._append(batch)

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._hurry.is_set() and self.linger_s > 0:
                try:
                    async with asyncio.timeout(self.linger_s):
                        await self._hurry.wait()
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)  # at least the rest of this tick's events join the batch
            if not self._closed:
                self._hurry.clear()
            await self.flush()
            if self._closed and not self._batch:
                return

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
        self._batch.clear()
        self._release(everyone=True)
        self._on_failure(exc)
