"""The one writer thread of a SQLite store: group commit of every caller's writes.

Callers (on any event loop) submit *jobs* — functions of the write connection — and await a future.
The thread takes every job queued since its last commit and runs them in ONE ``BEGIN IMMEDIATE``
transaction, each inside its own SAVEPOINT so that a refused job (a sequence gap, a stale epoch) is
rolled back alone while the others commit. The futures are resolved after ``COMMIT``, so a caller's
write is durable when its await returns. While one batch commits the next one gathers: the more
executions run at once, the larger the batches and the cheaper each event.

"database is locked" never reaches a caller: ``BEGIN IMMEDIATE`` is retried with backoff (SQLite's
own busy timeout in short slices) until ``busy_timeout_s`` has passed; then the jobs fail with a
:class:`~quorum.errors.StoreError` that says what is holding the database and what to do.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from quorum.errors import QuorumError, StoreError

__all__ = ("Job", "Writer", "is_busy", "retry_busy", "run_group", "store_error")

T = TypeVar("T")

Job = Callable[[sqlite3.Connection], Any]

_MAX_BATCH = 2000
"""Jobs per transaction: bounds the time a batch holds the write lock."""


@dataclass(slots=True)
class _Pending:
    job: Job
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    transactional: bool


def store_error(exc: BaseException, path: str, *, busy_timeout_s: float | None = None) -> QuorumError:
    """A clear StoreError for a sqlite3 error (project errors pass through unchanged)."""
    if isinstance(exc, QuorumError):
        return exc
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        waited = f" for more than {busy_timeout_s:g}s" if busy_timeout_s is not None else ""
        message = (
            f"history database {path} is locked by another process{waited}; another quorum process (or "
            "a tool holding a write transaction) is still writing: retry, raise busy_timeout_s, or use "
            "another database (--db PATH)"
        )
    elif "full" in lowered:
        message = (
            f"history database {path} is full ({text}): free disk space or delete old executions "
            "(`quorum prune --older-than 30d`)"
        )
    elif "not a database" in lowered or "malformed" in lowered:
        message = f"{path} is not a usable quorum history database ({text}); point --db at another file"
    elif "readonly" in lowered or "unable to open" in lowered:
        message = f"history database {path} cannot be written ({text}): check the path and its permissions"
    else:
        message = f"history database {path}: {text}"
    error = StoreError(message)
    error.__cause__ = exc
    return error


class Writer:
    """Owns the write connection; runs submitted jobs in grouped transactions on its own thread."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, path: str, busy_timeout_s: float, name: str
    ) -> None:
        self._connect = connect
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._stopping = False
        self._fatal: QuorumError | None = None
        """Why the thread could not start (no connection): every later submit fails with it."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.batches = 0
        """Transactions committed (for statistics and tests of group commit)."""
        self.jobs = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job, *, transactional: bool = True) -> asyncio.Future[Any]:
        """Queue ``job``; the returned future resolves with its result once its transaction committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._cond:
            if self._fatal is not None:
                raise self._fatal
            if self._stopping:
                raise StoreError(f"history store {self._path} is closed")
            self._queue.append(_Pending(job, loop, future, transactional))
            self._cond.notify()
        return future

    def stop(self) -> None:
        """Ask the thread to finish the queued jobs and exit (``join`` waits for it)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # the thread must answer every caller, whatever went wrong
            self._fail_forever(store_error(exc, self._path))
            return
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._stopping:
                        self._cond.wait()
                    if not self._queue:
                        return
                    batch = [self._queue.popleft() for _ in range(min(len(self._queue), _MAX_BATCH))]
                try:
                    self._process(conn, batch)
                except BaseException as exc:
                    # Never leave a caller waiting: whatever escaped, answer this batch and go on.
                    _rollback(conn)
                    error = store_error(exc, self._path)
                    _deliver([(p, None, error) for p in batch if not p.future.done()])
        finally:
            _rollback(conn)
            conn.close()

    def _fail_forever(self, error: QuorumError) -> None:
        with self._cond:
            self._fatal = error
            self._stopping = True
            pending = list(self._queue)
            self._queue.clear()
        _deliver([(p, None, error) for p in pending])

    def _process(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        group: list[_Pending] = []
        for pending in batch:
            if pending.transactional:
                group.append(pending)
                continue
            if group:
                _deliver(self._transaction(conn, group))
                group = []
            _deliver([self._outside_transaction(conn, pending)])
        if group:
            _deliver(self._transaction(conn, group))

    def _outside_transaction(self, conn: sqlite3.Connection, pending: _Pending) -> _Outcome:
        try:
            return pending, pending.job(conn), None
        except BaseException as exc:
            return pending, None, store_error(exc, self._path, busy_timeout_s=self._busy_timeout_s)

    def _transaction(self, conn: sqlite3.Connection, group: list[_Pending]) -> list[_Outcome]:
        try:
            self._begin(conn)
        except BaseException as exc:
            failed: BaseException = store_error(exc, self._path, busy_timeout_s=self._busy_timeout_s)
            return [(p, None, failed) for p in group]
        jobs = [p.job for p in group]
        results = run_group(conn, jobs, path=self._path, busy_timeout_s=self._busy_timeout_s)
        if any(e is None for _r, e in results):
            self.batches += 1
            self.jobs += len(group)
        return [(p, r, e) for p, (r, e) in zip(group, results, strict=True)]

    def _begin(self, conn: sqlite3.Connection) -> None:
        retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"), self._busy_timeout_s)


_Outcome = tuple[_Pending, Any, BaseException | None]


def run_group(
    conn: sqlite3.Connection, jobs: list[Job], *, path: str, busy_timeout_s: float | None = None
) -> list[tuple[Any, BaseException | None]]:
    """Run ``jobs`` in the transaction just begun on ``conn``, each in its own SAVEPOINT, then COMMIT.

    Returns ``(result, error)`` per job: a refused job is rolled back alone; when the transaction as a
    whole is lost (COMMIT failed, or SQLite rolled it back, e.g. on a full disk) every job has an error.
    """
    outcomes: list[tuple[Any, BaseException | None]] = []
    alone = len(jobs) == 1
    for job in jobs:
        try:
            if not alone:
                conn.execute("SAVEPOINT job")
            result = job(conn)
            if not alone:
                conn.execute("RELEASE job")
            outcomes.append((result, None))
        except BaseException as exc:
            error: BaseException = store_error(exc, path, busy_timeout_s=busy_timeout_s)
            outcomes.append((None, error))
            if not _undo(conn, alone):
                return [(None, error) for _ in jobs]
    try:
        if conn.in_transaction:
            conn.execute("COMMIT")
    except BaseException as exc:
        lost: BaseException = store_error(exc, path, busy_timeout_s=busy_timeout_s)
        _rollback(conn)
        return [(None, e if e is not None else lost) for _r, e in outcomes]
    return outcomes


def retry_busy(action: Callable[[], T], timeout_s: float) -> T:
    """Run ``action``, retrying "database is locked" with backoff until ``timeout_s`` has passed.

    Each attempt also waits SQLite's own busy timeout (a short slice set on the connection)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        # Jitter, so that several writers waiting on one lock do not retry in lockstep.
        time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.1)


def _undo(conn: sqlite3.Connection, alone: bool) -> bool:
    """Roll back the failed job; False when the whole transaction had to go (nothing left to commit)."""
    if not conn.in_transaction:
        return False  # SQLite itself rolled back (e.g. disk full): the batch is lost
    if alone:
        _rollback(conn)
        return True
    try:
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return True
    except sqlite3.Error:
        _rollback(conn)
        return False


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _deliver(outcomes: list[_Outcome]) -> None:
    """Resolve the futures, one ``call_soon_threadsafe`` per event loop (not one per job)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, items)
        except RuntimeError:
            pass  # that loop is closed: nobody is waiting any more


def _resolve(items: list[_Outcome]) -> None:
    for pending, result, error in items:
        if pending.future.done():
            continue  # the caller was cancelled; the write happened (or not) regardless
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(result)


def is_busy(exc: BaseException) -> bool:
    """The database is locked by another connection (SQLITE_BUSY / SQLITE_LOCKED)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text
