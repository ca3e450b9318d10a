"""PostgresHistoryStore: the journal in PostgreSQL, shared by every process and machine that reaches it.

- asyncpg, a connection pool (``pool_min``/``pool_max``); every statement is a constant text, so
  asyncpg prepares it once per connection and reuses it (its statement cache). The pool's sessions
  plan each prepared statement once (``plan_cache_mode = force_generic_plan``): PostgreSQL would
  otherwise plan the append's statement again on every execution (0.4 ms of its 1.5 ms on the
  server), and every statement here is a lookup whose plan does not depend on its values (optional
  filters are left out of the text, not compared with NULL).
- One schema per history (``?schema=NAME``, default ``public``): the pool's connections have it as
  their ``search_path``. Opening applies the missing migrations under an advisory lock
  (:mod:`._pg_schema`), so two processes opening a new database at once migrate it once.
- Group commit (:mod:`._pg_writer`): the appends of all running executions go into one statement per
  batch (:mod:`._pg_append`), fenced; ``append`` returns once it committed.
- Fencing by epoch in the statement that writes; leases by compare-and-swap; ``claim_orphans`` uses
  ``FOR UPDATE SKIP LOCKED`` so that recoverers share orphans out and never take the same one.
- LISTEN/NOTIFY (:mod:`._pg_feed`): a journal append and a control request NOTIFY when they commit,
  each on its own channel (``quorum_<schema>_j``, ``quorum_<schema>``); the store implements
  :class:`~quorum.history.base.ChangeFeed` (``watch``).
- A lost connection: an append is tried again (never a silently lost event, see :mod:`._pg_writer`);
  a read is tried again once; other writes fail with a StoreError. No message shows the password.

The store belongs to the event loop that opened it (asyncpg's connections do); used from a new loop
after that one closed, it opens again there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Final, TypeVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

from quorum.errors import ConfigurationError, QuorumError, StoreError
from quorum.events import Event
from quorum.history import _pg_ops as ops
from quorum.history import _pg_reads as reads
from quorum.history._pg_append import FENCE_SQLSTATE, AppendJob, StateCache, append_batch
from quorum.history._pg_feed import Listener
from quorum.history._pg_schema import migrate
from quorum.history._pg_url import PgSettings, pg_settings, scrub
from quorum.history._pg_writer import GroupCommitter
from quorum.history._rules import RowState, check_prune_options
from quorum.history.base import (
    ChangeKind,
    ControlAction,
    ControlRequest,
    ExecutionRecord,
    HistoryStats,
    Lease,
)

__all__ = ("PostgresHistoryStore",)

T = TypeVar("T")

_IDENTIFIER_MAX: Final = 63
_CONTROLS_FRESH_S: Final = 0.05
"""How long one look at the pending control requests answers every execution's poll (as in SQLite);
a control notification makes the next poll look again at once."""
_TRANSIENT: Final[tuple[type[BaseException], ...]] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # pg_terminate_backend, a server shutting down
    asyncpg.exceptions.CannotConnectNowError,
    # asyncpg's protocol met a connection that broke in the middle of a statement ("cannot switch to
    # state ..."): the transaction did not commit; a fresh connection is the cure.
    asyncpg.exceptions.InternalClientError,
    OSError,
    asyncio.TimeoutError,
)


class PostgresHistoryStore:
    """A :class:`~quorum.history.base.HistoryStore` (and :class:`~quorum.history.base.ChangeFeed`) in
    PostgreSQL."""

    def __init__(self, url: str, *, blob_threshold: int = 4096, retry_s: float = 10.0) -> None:
        self.settings: PgSettings = pg_settings(url)
        self.blob_threshold = blob_threshold
        self.retry_s = retry_s
        self.channel = channel_name(self.settings.schema)
        """Where control requests are NOTIFYed (every process that drives executions LISTENs here)."""
        self.journal_channel = channel_name(self.settings.schema, "_j")
        """Where journal appends are NOTIFYed: apart, so that a process watching only control requests
        (a worker, ``quorum run``) is not sent a notification for every batch of every execution."""
        self._pool: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._committer: GroupCommitter | None = None
        self._rows = StateCache()
        self._flusher: asyncio.Task[None] | None = None
        self._listeners: dict[ChangeKind, Listener] | None = None
        self._opening: asyncio.Task[None] | None = None
        self._closed = False
        self.migrations_applied = 0
        """How many migrations this store's opening applied (0 when it found the schema current)."""
        self._controls_seen: tuple[float, frozenset[str]] = (float("-inf"), frozenset())
        self._controls_look: asyncio.Task[frozenset[str]] | None = None

    def __repr__(self) -> str:
        return f"PostgresHistoryStore({self.settings.shown!r}, schema={self.settings.schema!r})"

    async def __aenter__(self) -> PostgresHistoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- lifecycle --------------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._closed:
            raise StoreError(f"history store {self.settings.shown} is closed")
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            if not self._loop.is_closed():
                raise StoreError(
                    f"history store {self.settings.shown} is in use by another event loop; open one store "
                    "per event loop"
                )
            self._forget()  # that loop is gone, and its connections with it: open again here
        if self._pool is not None:
            return
        if self._opening is None or (self._opening.done() and self._opening.exception() is not None):
            self._loop = loop
            self._opening = loop.create_task(self._open())
        try:
            await asyncio.shield(self._opening)
        except BaseException:
            if self._opening.done():
                self._opening = None
            raise

    async def _open(self) -> None:
        s = self.settings
        try:
            pool = await asyncpg.create_pool(
                s.dsn, min_size=min(s.pool_min, s.pool_max), max_size=s.pool_max,
                server_settings={"search_path": s.schema, "application_name": f"quorum {s.schema}",
                                 "plan_cache_mode": "force_generic_plan"},
                reset=_keep_session,
            )
        except Exception as exc:
            raise self._connect_error(exc) from None
        try:
            async with pool.acquire() as conn:
                self.migrations_applied = await migrate(conn, schema=s.schema, shown=s.shown)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, QuorumError):
                raise
            raise self._store_error(exc) from None
        committer = GroupCommitter(self._write_batch, is_transient=_is_transient,
                                   as_error=self._store_error, retry_s=self.retry_s)
        self._committer = committer
        self._flusher = asyncio.get_running_loop().create_task(committer.run(), name="quorum-pg-flusher")
        self._listeners = {
            "control": Listener(self._connect_listener, self.channel, on_control=self._control_seen),
            "journal": Listener(self._connect_listener, self.journal_channel, on_control=self._control_seen),
        }
        self._pool = pool

    async def close(self) -> None:
        self._closed = True
        committer, flusher, listeners, pool = self._committer, self._flusher, self._listeners, self._pool
        self._committer = self._flusher = self._listeners = self._pool = None
        if committer is not None and flusher is not None:
            committer.stop()
            await flusher
        for listener in (listeners or {}).values():
            await listener.close()
        if pool is not None:
            await pool.close()

    def _forget(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
        self._committer = self._flusher = self._listeners = self._pool = self._opening = None
        self._controls_look = None

    async def _connect_listener(self) -> Any:
        s = self.settings
        settings = {"search_path": s.schema, "application_name": f"quorum-listen {s.schema}"}
        return await asyncpg.connect(s.dsn, server_settings=settings)

    def _connect_error(self, exc: BaseException) -> StoreError:
        reason = scrub(f"{type(exc).__name__}: {exc}", self.settings)
        return StoreError(
            f"cannot connect to the PostgreSQL history at {self.settings.shown}: {reason}; check that the "
            "server runs and that host, port, user, password and database are right"
        )

    def _store_error(self, exc: BaseException) -> QuorumError:
        if isinstance(exc, QuorumError):
            return exc
        if _is_transient(exc):
            return StoreError(
                f"the connection to the PostgreSQL history at {self.settings.shown} was lost and could not "
                f"be made again within {self.retry_s:g}s ({scrub(str(exc), self.settings)}); what this call "
                "wrote was not written: retry when the server is back"
            )
        return StoreError(f"PostgreSQL history at {self.settings.shown}: {scrub(str(exc), self.settings)}")

    async def _ready(self) -> Any:
        if self._pool is None or self._loop is not asyncio.get_running_loop():
            await self.open()
        return self._pool

    async def _run(self, fn: Callable[[Any], Awaitable[T]], *, retry: bool = False) -> T:
        """``fn`` on a connection of the pool; tried again once on a lost connection when ``retry``."""
        pool = await self._ready()
        for attempt in (1, 2):
            try:
                async with pool.acquire() as conn:
                    return await fn(conn)
            except QuorumError:
                raise
            except Exception as exc:
                if retry and attempt == 1 and _is_transient(exc):
                    continue
                raise self._store_error(exc) from None
        raise AssertionError("unreachable")

    async def _write_batch(self, jobs: Sequence[AppendJob], replay: bool) -> list[BaseException | None]:
        pool = await self._ready()
        channel = self.journal_channel if self.settings.notify else None
        async with pool.acquire() as conn:
            return await append_batch(conn, jobs, cache=self._rows, threshold=self.blob_threshold,
                                      channel=channel, is_stale=_is_stale, replay=replay)

    # -- HistoryStore -----------------------------------------------------------------------------------

    async def create_execution(
        self, record: ExecutionRecord, *, owner: str | None = None, ttl_s: float | None = None
    ) -> Lease | None:
        lease = await self._run(
            lambda c: ops.create_execution(c, record, owner, ttl_s, asyncpg.UniqueViolationError)
        )
        self._rows.keep({record.id: RowState(id=record.id, status=record.status, last_sequence=0,
                                             updated_at=record.updated_at, started_at=record.started_at,
                                             epoch=0 if lease is None else lease.epoch)})
        return lease

    async def append(self, events: Sequence[Event], *, epoch: int | None = None) -> None:
        if not events:
            return
        await self._ready()
        committer = self._committer
        if committer is None:
            raise StoreError(f"history store {self.settings.shown} is closed")
        await committer.submit(AppendJob(tuple(events), epoch))

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        return await self._run(lambda c: reads.get_execution(c, execution_id), retry=True)

    async def list_executions(
        self,
        *,
        limit: int = 10,
        status: str | None = None,
        task: str | None = None,
        task_version: str | None = None,
        parent_id: str | None = None,
    ) -> list[ExecutionRecord]:
        return await self._run(
            lambda c: reads.list_executions(c, limit, status, task, task_version, parent_id), retry=True
        )

    async def read_journal(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        return await self._run(lambda c: reads.read_journal(c, execution_id, after, limit), retry=True)

    async def completed_calls(self, execution_id: str) -> Mapping[str, Mapping[str, Any]]:
        return await self._run(lambda c: reads.completed_calls(c, execution_id), retry=True)

    async def latest_checkpoint(self, execution_id: str) -> Event | None:
        return await self._run(lambda c: reads.latest_checkpoint(c, execution_id), retry=True)

    async def acquire_lease(self, execution_id: str, owner: str, *, ttl_s: float) -> Lease | None:
        lease = await self._run(lambda c: ops.acquire_lease(c, execution_id, owner, ttl_s))
        cached = self._rows.rows.get(execution_id)
        if lease is not None and cached is not None:
            cached.epoch = lease.epoch  # what we wrote; anything else changed since is caught by the fence
        return lease

    async def claim_orphans(
        self, owner: str, *, ttl_s: float, limit: int = 100, statuses: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[Lease]:
        """Take the leases of up to ``limit`` orphans in one transaction, skipping rows that another
        process is claiming at the same moment (``SKIP LOCKED``): concurrent recoverers split the
        orphans between them, each taken once. ``statuses``: only orphans with one of these (default:
        every status that needs an owner); ``exclude``: ids never to claim (a recoverer leaves a
        paused execution, or a child its parent's step re-attaches to, as it is: not even its epoch
        changes)."""
        leases = await self._run(lambda c: ops.claim_orphans(c, owner, ttl_s, limit, statuses, exclude))
        for lease in leases:
            self._rows.forget(lease.execution_id)
        return leases

    async def renew_lease(self, lease: Lease, *, ttl_s: float) -> Lease:
        return await self._run(lambda c: ops.renew_lease(c, lease, ttl_s), retry=True)

    async def release_lease(self, lease: Lease) -> None:
        if self._rows.ended.get(lease.execution_id) == lease.epoch:
            del self._rows.ended[lease.execution_id]
            return  # this store wrote the end of that execution, which ended the lease with it
        await self._run(lambda c: ops.release_lease(c, lease), retry=True)

    async def request_control(self, execution_id: str, action: ControlAction, reason: str = "") -> None:
        await self._run(lambda c: ops.request_control(c, execution_id, action, reason, self.channel))
        self._control_seen(execution_id)

    async def take_control_requests(self, execution_id: str) -> list[ControlRequest]:
        if execution_id not in await self._pending_controls():
            return []
        return await self._run(lambda c: ops.take_control_requests(c, execution_id))

    def _control_seen(self, _execution_id: str) -> None:
        # A request was made (here, or in another process: its NOTIFY): the next poll looks again.
        self._controls_seen, self._controls_look = (float("-inf"), frozenset()), None

    async def _pending_controls(self) -> frozenset[str]:
        loop = asyncio.get_running_loop()
        seen_at, pending = self._controls_seen
        if loop.time() - seen_at < _CONTROLS_FRESH_S:
            return pending
        look = self._controls_look
        if look is None or look.done() or look.get_loop() is not loop:
            look = self._controls_look = loop.create_task(self._look_at_controls())
        return await asyncio.shield(look)

    async def _look_at_controls(self) -> frozenset[str]:
        started = asyncio.get_running_loop().time()  # a request made after this is seen by the next look
        pending = frozenset(await self._run(ops.pending_control_executions, retry=True))
        if started > self._controls_seen[0]:
            self._controls_seen = (started, pending)
        return pending

    async def list_orphans(self) -> list[ExecutionRecord]:
        return await self._run(reads.list_orphans, retry=True)

    async def prune(self, *, older_than_s: float | None = None, keep: int | None = None) -> int:
        check_prune_options(older_than_s, keep)
        return await self._run(lambda c: ops.prune(c, older_than_s, keep))

    async def stats(self) -> HistoryStats:
        return await self._run(reads.stats, retry=True)

    # -- ChangeFeed -------------------------------------------------------------------------------------

    async def watch(
        self,
        on_change: Callable[[str, int], None],
        *,
        kind: ChangeKind = "journal",
        execution_id: str | None = None,
    ) -> None:
        """See :class:`~quorum.history.base.ChangeFeed`: LISTEN on this store's channel for ``kind``
        (one connection per kind, opened by its first watcher, however many watch), until cancelled or
        the store closes."""
        if kind not in ("journal", "control"):
            raise ConfigurationError(f"watch: kind must be 'journal' or 'control', got {kind!r}")
        await self._ready()
        listener = None if self._listeners is None else self._listeners[kind]
        if listener is not None:
            await listener.watch(on_change, kind=kind, execution_id=execution_id)

    @property
    def commits(self) -> int:
        """Append transactions committed by this store so far (each one a group of appends)."""
        return 0 if self._committer is None else self._committer.batches


async def _keep_session(_conn: Any) -> None:
    """The pool's reset of a connection given back: nothing to do. asyncpg's default sends ``RESET ALL;
    UNLISTEN *; CLOSE ALL; SELECT pg_advisory_unlock_all()`` — one more round trip per statement, two
    thirds of the CPU a pooled statement costs here (benchmarks/PROFILE.md) — to undo session state
    that this store never leaves: its settings are the connection's startup parameters, its advisory
    locks are transaction-level, it declares no cursors and LISTENs on its own connections. (An open
    transaction is still rolled back by asyncpg before this is called.)"""


def channel_name(schema: str, suffix: str = "") -> str:
    """``quorum_<schema><suffix>``, or with the schema's hash in place of a name too long for a channel
    (PostgreSQL's identifiers: at most 63 bytes)."""
    name = f"quorum_{schema}{suffix}"
    if len(name) <= _IDENTIFIER_MAX:
        return name
    import hashlib

    return f"quorum_{hashlib.sha256(schema.encode()).hexdigest()[:24]}{suffix}"


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT)


def _is_stale(exc: BaseException) -> bool:
    """The rows changed under a batch (its fence, a concurrent duplicate, a deadlock between writers):
    read them again and apply the rules again."""
    if isinstance(exc, asyncpg.UniqueViolationError | asyncpg.exceptions.DeadlockDetectedError):
        return True
    return isinstance(exc, asyncpg.PostgresError) and getattr(exc, "sqlstate", None) == FENCE_SQLSTATE
