"""Group commit on the event loop's own thread: the fast path of the SQLite store.

Why: with ``synchronous=NORMAL`` a WAL commit is a few ``write()`` calls and no ``fsync``. Handing it
to the writer thread costs far more than that when the event loop is busy: every time the writer
thread releases the GIL (each SQLite statement, the wake-up of the loop) it must wait for the loop
thread to give it back, up to the interpreter's switch interval (5 ms). On the shared workload,
committing on the writer thread instead is markedly slower per agent call (benchmarks/PROFILE.md,
"Kept").

How: writes made during one turn of the loop are queued; one callback scheduled with ``call_soon``
commits them together in one ``BEGIN IMMEDIATE`` transaction (the same savepoint-per-job rules as the
writer thread) and resolves their futures. So concurrent executions still share transactions.

The loop is never blocked on another process: the connection has no busy timeout, and when the
database is locked the whole batch is handed to the writer thread, which waits with backoff. Until
the thread has answered every handed-off job, later writes go to the thread too, so that writes are
committed in the order they were made. WAL checkpoints (the only ``fsync`` in NORMAL mode) run on the
writer thread, not here.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable
from typing import Any

from quorum.history._sqlite_writer import Job, Writer, is_busy, run_group, store_error

__all__ = ("LoopCommitter",)

_INLINE_MAX_JOBS = 8
"""Larger batches go to the writer thread (see ``_flush``)."""
_CHECKPOINT_EVERY = 128
"""Commits between two WAL checkpoints (run by the writer thread)."""


class LoopCommitter:
    """Commits the writes of one event loop on that loop's thread, handing off when the file is busy."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], writer: Writer, *, path: str) -> None:
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._writer = writer
        self._path = path
        self.loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[tuple[Job, asyncio.Future[Any]]] = []
        self._scheduled = False
        self._handed_off = 0
        self._since_checkpoint = 0
        self.commits = 0

    def accepts(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether a write made on ``loop`` may take this path now (it binds to the first loop)."""
        if self.loop is None:
            self.loop = loop
        return loop is self.loop and self._handed_off == 0

    def submit(self, job: Job) -> asyncio.Future[Any]:
        assert self.loop is not None
        future: asyncio.Future[Any] = self.loop.create_future()
        self._queue.append((job, future))
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._flush)
        return future

    async def drain(self) -> None:
        """Wait until every write submitted so far is answered."""
        while self._queue or self._handed_off:
            pending = [f for _j, f in self._queue]
            if pending:
                await asyncio.wait(pending)
            else:
                await asyncio.sleep(0.001)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._queue = self._queue, []
        if not batch:
            return
        if len(batch) > _INLINE_MAX_JOBS:
            # Many executions wrote at once: their commit is work enough to be worth the thread, where
            # SQLite runs without the GIL, beside the loop.
            self._hand_off(batch)
            return
        try:
            conn = self._conn = self._conn or self._connect()
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            if is_busy(exc):
                self._hand_off(batch)
                return
            failed = store_error(exc, self._path)
            for _job, future in batch:
                if not future.done():
                    future.set_exception(failed)
            return
        results = run_group(conn, [job for job, _f in batch], path=self._path)
        if any(error is None for _r, error in results):
            self.commits += 1
            self._since_checkpoint += 1
        for (_job, future), (result, error) in zip(batch, results, strict=True):
            if future.done():
                continue  # the caller was cancelled; its write happened (or not) regardless
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
        if self._since_checkpoint >= _CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            self._checkpoint()

    def _hand_off(self, batch: list[tuple[Job, asyncio.Future[Any]]]) -> None:
        for job, future in batch:
            self._handed_off += 1
            relayed = self._writer.submit(job)
            relayed.add_done_callback(functools.partial(self._relay, future))

    def _relay(self, target: asyncio.Future[Any], done: asyncio.Future[Any]) -> None:
        self._handed_off -= 1
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif (error := done.exception()) is not None:
            target.set_exception(error)
        else:
            target.set_result(done.result())

    def _checkpoint(self) -> None:
        try:
            done = self._writer.submit(_passive_checkpoint, transactional=False)
        except Exception:
            return  # closing: the last connection to close checkpoints anyway
        # Nobody awaits it: read its outcome so that a failure is not reported as "never retrieved".
        done.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _passive_checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
