"""Group commit for the PostgreSQL store: the appends of all running executions, one transaction.

``append`` queues a job and waits; the store's one flusher task (:meth:`GroupCommitter.run`, started by
``open`` and awaited by ``close``) takes every job queued since its last commit and writes them in ONE
transaction (:func:`._pg_append.append_batch`: one statement that inserts all the events and updates all
the rows, fenced, with their NOTIFYs). A job refused by the journal's rules (a gap, a stale
epoch) is answered alone; the others commit. A caller's await returns once its transaction committed,
so its events are durable. While one batch commits the next gathers: the more executions run at once,
the larger the batches and the cheaper each event.

A connection lost mid-commit (the server restarted, ``pg_terminate_backend``) never loses an event in
silence: the batch is tried again on a fresh connection, and a job whose events turn out to be in the
journal already (that commit went through before the connection dropped) is answered as written. If
the server cannot be reached again within ``retry_s``, every job of the batch fails with a
:class:`~quorum.errors.StoreError` saying its events were not written.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from quorum.errors import QuorumError, StoreError
from quorum.history._pg_append import AppendJob

__all__ = ("GroupCommitter", "WriteBatch")

_MAX_BATCH: Final = 500
"""Jobs per transaction: bounds how long a batch holds its row locks."""

WriteBatch = Callable[[Sequence[AppendJob], bool], Awaitable[list[BaseException | None]]]
"""Writes jobs in one transaction on a connection of the pool: ``(jobs, replay) -> outcome per job``."""


@dataclass(slots=True)
class _Pending:
    job: AppendJob
    future: asyncio.Future[None]


class GroupCommitter:
    """Batches append jobs into transactions, on one flusher task that the store starts and stops."""

    def __init__(
        self,
        write: WriteBatch,
        *,
        is_transient: Callable[[BaseException], bool],
        as_error: Callable[[BaseException], QuorumError],
        retry_s: float,
    ) -> None:
        self._write = write
        self._is_transient = is_transient
        self._as_error = as_error
        self._retry_s = retry_s
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._closing = False
        self.batches = 0
        """Transactions committed (for statistics and tests of group commit)."""
        self.retries = 0
        """Batches tried again after a lost connection."""

    async def submit(self, job: AppendJob) -> None:
        if self._closing:
            raise StoreError("the history store is closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(job, future))
        self._wake.set()
        future.add_done_callback(_retrieve)
        # Shielded: a caller cancelled while its batch commits must not cancel the batch of others;
        # its own events are written (or not) regardless, as with any cancelled write.
        await asyncio.shield(future)

    async def run(self) -> None:
        """The flusher: commit what is queued, batch after batch, until :meth:`stop` (queue emptied)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await asyncio.sleep(0)  # let the appends of this turn of the loop join the batch
                batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
                await self._commit(batch)
            if self._closing:
                return

    def stop(self) -> None:
        """Ask :meth:`run` to finish the queued jobs and return."""
        self._closing = True
        self._wake.set()

    def fail_pending(self, error: BaseException) -> None:
        """Answer every queued job with ``error`` (the flusher is gone)."""
        pending, self._queue = self._queue, []
        for p in pending:
            if not p.future.done():
                p.future.set_exception(error)

    async def _commit(self, batch: list[_Pending]) -> None:
        jobs = [p.job for p in batch]
        deadline = time.monotonic() + self._retry_s
        delay = 0.05
        replay = False
        while True:
            try:
                outcomes = await self._write(jobs, replay)
            except asyncio.CancelledError:
                self.fail_pending(StoreError("the history store was closed before these events were written"))
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(StoreError("the history store was closed while writing"))
                raise
            except BaseException as exc:
                if self._is_transient(exc) and time.monotonic() < deadline:
                    self.retries += 1
                    replay = True  # that commit may have gone through: the retry checks the journal
                    await asyncio.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 1.0)
                    continue
                if len(jobs) > 1 and not self._is_transient(exc):
                    # The server refused the transaction as a whole: write each job alone, so that one
                    # bad job does not fail the executions batched with it.
                    for p in batch:
                        await self._commit([p])
                    return
                error = self._as_error(exc)
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(error)
                return
            self.batches += 1
            for p, outcome in zip(batch, outcomes, strict=True):
                if p.future.done():
                    continue
                if outcome is None:
                    p.future.set_result(None)
                else:
                    p.future.set_exception(outcome)
            return




def _retrieve(future: asyncio.Future[None]) -> None:
    # A caller cancelled while waiting no longer reads its outcome: read it here, so that a failure is
    # not reported as "exception was never retrieved".
    if not future.cancelled():
        future.exception()
