"""SQLiteHistoryStore: the durable journal in one SQLite file (stdlib ``sqlite3``).

- WAL mode: readers (this process, the CLI, a dashboard) never block the writer nor wait for it.
- Group commit: the writes of all running executions made during one turn of the event loop go into
  one ``BEGIN IMMEDIATE`` transaction, and each ``append`` returns when its events are committed.
  With ``synchronous="NORMAL"`` such a commit is a few ``write()`` calls and no ``fsync``, made on the
  loop's own thread (:mod:`._sqlite_loop`); whenever the database is locked by another process, and
  always with ``FULL`` or ``loop_commit=False``, the store's one writer thread (:mod:`._sqlite_writer`)
  does it, waiting with backoff, so the event loop never blocks on a lock or an fsync.
- ``synchronous="NORMAL"`` (default): a committed event survives the crash of the process (kill -9);
  a power loss may lose the last transactions, never corrupt the file. ``synchronous="FULL"`` also
  survives power loss, at the cost of an fsync per commit.
- Busy: "database is locked" is retried with backoff for ``busy_timeout_s``, then reported as a clear
  :class:`~quorum.errors.StoreError`.
- Event payloads longer than ``blob_threshold`` (JSON characters) have their large parts — long texts,
  an agent's response, each phase of a checkpoint snapshot — stored once in a content-addressed blob
  table (:mod:`._sqlite_blobs`), so repeated outputs and cumulative snapshots cost their size once.
- Reads run in worker threads on read-only connections (a small pool), beside the writes.
- ``max_bytes`` caps the file (``PRAGMA max_page_count``): past it, writes fail with a StoreError
  saying the history is full (as on a full disk) and the journal stays intact.
- The schema is versioned (:mod:`.migrations`); opening applies the missing migrations.
- A damaged file is found when the store opens (``PRAGMA quick_check``) or by the first read or write
  that meets a damaged page (:mod:`._sqlite_damage`): a :class:`~quorum.errors.HistoryCorruptError`
  says how to save what it holds, and from then on the store refuses to read or write it.

The store opens itself on first use; ``await store.open()`` or ``async with store:`` opens it
explicitly (and reports a bad path or a foreign file at once); ``await store.close()`` flushes.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from quorum.errors import ConfigurationError, HistoryCorruptError, QuorumError, StoreError
from quorum.events import Event
from quorum.history import _sqlite_ops as ops
from quorum.history._rules import check_prune_options
from quorum.history._sqlite_damage import DAMAGED_CONTENT, damage_in, quick_check
from quorum.history._sqlite_loop import LoopCommitter
from quorum.history._sqlite_writer import Writer, retry_busy, store_error
from quorum.history.base import ControlAction, ControlRequest, ExecutionRecord, HistoryStats, Lease
from quorum.history.migrations import MIGRATIONS, migrate, schema_version

__all__ = ("SQLiteHistoryStore", "Synchronous")

Synchronous = Literal["NORMAL", "FULL"]
T = TypeVar("T")

_BUSY_SLICE_MS = 100
"""SQLite's own busy wait per attempt; the writer retries in such slices until busy_timeout_s."""
_READ_FAILURES: tuple[type[Exception], ...] = (sqlite3.Error, *DAMAGED_CONTENT)
_CONTROLS_FRESH_S = 0.05
"""How long one look at the pending control requests answers every execution's poll: thousands of
executions polling every 0.2 s cost one query per 50 ms instead of one write transaction each."""


class SQLiteHistoryStore:
    """A :class:`~quorum.history.base.HistoryStore` in a SQLite file, shared safely between processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "NORMAL",
        busy_timeout_s: float = 5.0,
        blob_threshold: int = 4096,
        max_bytes: int | None = None,
        loop_commit: bool = True,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ConfigurationError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if busy_timeout_s < 0:
            raise ConfigurationError(f"busy_timeout_s must be >= 0, got {busy_timeout_s!r}")
        self.path = Path(path)
        self.synchronous: Synchronous = synchronous
        self.busy_timeout_s = busy_timeout_s
        self.blob_threshold = blob_threshold
        self.max_bytes = max_bytes
        # FULL pays an fsync per commit: that must not block the event loop, so it stays on the thread.
        self.loop_commit = loop_commit and synchronous == "NORMAL"
        self._writer: Writer | None = None
        self._committer: LoopCommitter | None = None
        self._controls_seen: tuple[float, frozenset[str]] = (float("-inf"), frozenset())
        self._controls_look: asyncio.Task[frozenset[str]] | None = None
        self._open_lock = threading.Lock()
        self._opening: asyncio.Future[None] | None = None
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._ready = False
        self._damage: str | None = None
        """What SQLite said when the file was found damaged; once set, nothing is read or written."""

    def __repr__(self) -> str:
        return f"SQLiteHistoryStore({str(self.path)!r}, synchronous={self.synchronous!r})"

    async def __aenter__(self) -> SQLiteHistoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- lifecycle --------------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._ready:
            return
        self._refuse_if_damaged()
        with self._open_lock:
            if self._writer is None:
                if self._closed:
                    raise StoreError(f"history store {self.path} is closed")
                writer = Writer(
                    self._connect_writer, path=str(self.path), busy_timeout_s=self.busy_timeout_s,
                    name=f"quorum-history-writer:{self.path.name}",
                )
                writer.start()
                self._writer = writer
                if self.loop_commit:
                    self._committer = LoopCommitter(self._connect_loop, writer, path=str(self.path))
                self._opening = self._submit_migration(writer)
            opening = self._opening
        assert opening is not None
        try:
            # Shielded: one caller giving up must not cancel the migration others wait for.
            await asyncio.shield(opening)
        except Exception as exc:
            await self._shutdown()
            raise self._as_damage(exc) from exc.__cause__
        self._ready = True

    def _submit_migration(self, writer: Writer) -> asyncio.Future[None]:
        try:
            return writer.submit(self._migrate, transactional=False)
        except QuorumError as exc:
            # The thread may fail to connect before the job is queued (a file that is not a database):
            # its error then comes from submit itself, and must be told as damage all the same.
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed

    async def close(self) -> None:
        self._closed = True
        await self._shutdown()

    async def _shutdown(self) -> None:
        with self._open_lock:
            writer, self._writer, self._opening = self._writer, None, None
            committer, self._committer = self._committer, None
            self._ready = False
        if committer is not None:
            if committer.loop is asyncio.get_running_loop():
                await committer.drain()
            committer.close()
        if writer is not None:
            writer.stop()
            await asyncio.to_thread(writer.join)
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()

    def _connect_loop(self) -> sqlite3.Connection:
        # No busy wait at all: when another process holds the lock, the batch goes to the writer thread.
        # The writer thread has put the file in WAL mode (persistent) before this connection is made.
        conn = self._connect(timeout_s=0.0, set_wal=False)
        # Checkpoints (an fsync) are the writer thread's job; see _sqlite_loop.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        return conn

    def _connect_writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._connect(timeout_s=_BUSY_SLICE_MS / 1000)

    def _connect(self, *, timeout_s: float, set_wal: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        try:
            mode = "wal"
            if set_wal:
                mode = retry_busy(
                    lambda: conn.execute("PRAGMA journal_mode").fetchone()[0], self.busy_timeout_s
                )
            if str(mode).lower() != "wal":
                # Switching needs the database to itself for a moment: wait out other writers.
                mode = retry_busy(
                    lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0], self.busy_timeout_s
                )
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"history database {self.path}: WAL mode is unavailable here (journal mode {mode!r}); "
                    "put the database on a local file system"
                )
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            if self.max_bytes is not None:
                page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
                conn.execute(f"PRAGMA max_page_count = {max(1, self.max_bytes // page_size):d}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        quick_check(conn, str(self.path))
        # Most opens find the schema current: check without taking the write lock (a CLI reading
        # the history must not queue behind a busy writer just to learn that nothing is to be done).
        if schema_version(conn) == len(MIGRATIONS):
            return
        retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"), self.busy_timeout_s)
        try:
            migrate(conn, path=str(self.path))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _reader(self) -> sqlite3.Connection:
        with self._readers_lock:
            if self._readers:
                return self._readers.pop()
        # Read-only: a reader can never take the write lock, so it never waits for the writer (WAL).
        uri = self.path.absolute().as_uri() + "?mode=ro"
        conn = sqlite3.connect(
            uri, uri=True, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        return conn

    def _read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._reader()
            result = fn(conn)
        except _READ_FAILURES as exc:
            if conn is not None:
                conn.close()
            if damage_in(exc) is None and isinstance(exc, sqlite3.Error):
                raise store_error(exc, str(self.path), busy_timeout_s=self.busy_timeout_s) from exc
            raise self._as_damage(exc) from exc
        with self._readers_lock:
            if self._closed:
                conn.close()
            else:
                self._readers.append(conn)
        return result

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if not self._ready:
            await self.open()
        self._refuse_if_damaged()
        return await asyncio.to_thread(self._read_sync, fn)

    async def _write(self, job: Callable[[sqlite3.Connection], T], *, transactional: bool = True) -> T:
        if not self._ready:
            await self.open()
        self._refuse_if_damaged()
        writer, committer = self._writer, self._committer
        if writer is None:
            raise StoreError(f"history store {self.path} is closed")

        def guarded(conn: sqlite3.Connection) -> T:
            # Checked again where the write runs: another job of the queue may have met the damage.
            self._refuse_if_damaged()
            try:
                return job(conn)
            except sqlite3.DatabaseError as exc:
                if damage_in(exc) is None:
                    raise
                raise self._as_damage(exc) from exc

        try:
            if transactional and committer is not None and committer.accepts(asyncio.get_running_loop()):
                result: T = await committer.submit(guarded)
            else:
                result = await writer.submit(guarded, transactional=transactional)
        except StoreError as exc:  # BEGIN or COMMIT may meet the damage too, outside the job
            raise self._as_damage(exc) from exc.__cause__
        return result

    def _refuse_if_damaged(self) -> None:
        if self._damage is not None:
            raise HistoryCorruptError(str(self.path), self._damage)

    def _as_damage(self, exc: BaseException) -> BaseException:
        """``exc`` as a HistoryCorruptError when it means the file is damaged (remembered: from now on
        the store refuses it), else ``exc`` itself."""
        detail = damage_in(exc)
        if detail is None:
            return exc
        self._damage = detail
        return exc if isinstance(exc, HistoryCorruptError) else HistoryCorruptError(str(self.path), detail)

    # -- HistoryStore -----------------------------------------------------------------------------------

    async def create_execution(
        self, record: ExecutionRecord, *, owner: str | None = None, ttl_s: float | None = None
    ) -> Lease | None:
        lease: Lease | None = await self._write(lambda c: ops.create_execution(c, record, owner, ttl_s))
        return lease

    async def append(self, events: Sequence[Event], *, epoch: int | None = None) -> None:
        if not events:
            return
        batch = tuple(events)
        threshold = self.blob_threshold
        await self._write(lambda c: ops.append(c, batch, epoch, threshold))

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        return await self._read(lambda c: ops.get_execution(c, execution_id))

    async def list_executions(
        self,
        *,
        limit: int = 10,
        status: str | None = None,
        task: str | None = None,
        task_version: str | None = None,
        parent_id: str | None = None,
    ) -> list[ExecutionRecord]:
        filters = {"status": status, "task": task, "task_version": task_version, "parent_id": parent_id}
        return await self._read(lambda c: ops.list_executions(c, limit, filters))

    async def read_journal(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        return await self._read(lambda c: ops.read_journal(c, execution_id, after, limit))

    async def completed_calls(self, execution_id: str) -> Mapping[str, Mapping[str, Any]]:
        return await self._read(lambda c: ops.completed_calls(c, execution_id))

    async def latest_checkpoint(self, execution_id: str) -> Event | None:
        return await self._read(lambda c: ops.latest_checkpoint(c, execution_id))

    async def acquire_lease(self, execution_id: str, owner: str, *, ttl_s: float) -> Lease | None:
        lease: Lease | None = await self._write(lambda c: ops.acquire_lease(c, execution_id, owner, ttl_s))
        return lease

    async def renew_lease(self, lease: Lease, *, ttl_s: float) -> Lease:
        return await self._write(lambda c: ops.renew_lease(c, lease, ttl_s))

    async def release_lease(self, lease: Lease) -> None:
        await self._write(lambda c: ops.release_lease(c, lease))

    async def request_control(self, execution_id: str, action: ControlAction, reason: str = "") -> None:
        await self._write(lambda c: ops.request_control(c, execution_id, action, reason))
        # Seen by this process's next poll at once (not by a look that began before it was written).
        self._controls_seen, self._controls_look = (float("-inf"), frozenset()), None

    async def take_control_requests(self, execution_id: str) -> list[ControlRequest]:
        if execution_id not in await self._pending_controls():
            return []
        return await self._write(lambda c: ops.take_control_requests(c, execution_id))

    async def _pending_controls(self) -> frozenset[str]:
        """The executions with control requests not taken yet, as seen at most ``_CONTROLS_FRESH_S`` ago
        (one read shared by every caller in that window)."""
        seen_at, pending = self._controls_seen
        if time.monotonic() - seen_at < _CONTROLS_FRESH_S:
            return pending
        loop = asyncio.get_running_loop()
        look = self._controls_look
        if look is None or look.done() or look.get_loop() is not loop:
            look = self._controls_look = loop.create_task(self._look_at_controls())
        return await asyncio.shield(look)

    async def _look_at_controls(self) -> frozenset[str]:
        started = time.monotonic()  # a request made after this is seen by the next look
        pending = frozenset(await self._read(ops.pending_control_executions))
        if started > self._controls_seen[0]:
            self._controls_seen = (started, pending)
        return pending

    async def list_orphans(self) -> list[ExecutionRecord]:
        return await self._read(ops.list_orphans)

    async def prune(self, *, older_than_s: float | None = None, keep: int | None = None) -> int:
        check_prune_options(older_than_s, keep)
        deleted = await self._write(lambda c: ops.prune(c, older_than_s, keep))
        if deleted:
            await self.vacuum()
        return deleted

    async def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system (``VACUUM``, then a WAL checkpoint)."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        await self._write(job, transactional=False)

    async def stats(self) -> HistoryStats:
        return await self._read(ops.stats)

    async def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check``: ``["ok"]`` for a sound file, else the problems SQLite found."""
        rows = await self._read(lambda c: c.execute("PRAGMA integrity_check").fetchall())
        return [str(r[0]) for r in rows]

    @property
    def commits(self) -> int:
        """Write transactions committed by this store so far (each one a group of writes)."""
        thread = 0 if self._writer is None else self._writer.batches
        return thread + (0 if self._committer is None else self._committer.commits)

