"""What keeps a recorded execution attached to its history store while it runs.

- :class:`LeaseKeeper` — the lease that makes this process the execution's one driver: renewed when
  half its TTL has passed, released at the end. A lease lost to another process stops the execution.
- :class:`ControlPoller` — control requests from other processes (``quorum pause|resume|abort <id>``),
  read every ``control_poll_s``; each poll also renews the lease when due. When the store is a
  :class:`~quorum.history.base.ChangeFeed` (PostgreSQL's LISTEN/NOTIFY), a request made by any process
  triggers a poll at once (within milliseconds of its commit); the timer stays as the fallback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from quorum.engine.log import EngineLogger
from quorum.errors import LeaseLostError
from quorum.history.base import ChangeFeed, HistoryStore, Lease
from quorum.ids import ExecutionId

__all__ = ("ControlPoller", "LeaseKeeper")


class LeaseKeeper:
    __slots__ = ("_log", "_on_lost", "_store", "_ttl_s", "lease")

    def __init__(
        self,
        store: HistoryStore,
        lease: Lease | None,
        *,
        ttl_s: float,
        on_lost: Callable[[BaseException], None],
        log: EngineLogger,
    ) -> None:
        self._store = store
        self.lease = lease
        self._ttl_s = ttl_s
        self._on_lost = on_lost
        self._log = log

    async def renew_if_due(self) -> None:
        lease = self.lease
        if lease is None or lease.expires_at - time.time() > self._ttl_s / 2:
            return
        try:
            self.lease = await self._store.renew_lease(lease, ttl_s=self._ttl_s)
        except LeaseLostError as exc:
            self._on_lost(exc)
        except Exception as exc:
            self._log.warning("execution %s: renewing the lease failed: %s", lease.execution_id, exc)

    async def release(self) -> None:
        lease, self.lease = self.lease, None
        if lease is None:
            return
        try:
            await self._store.release_lease(lease)
        except Exception as exc:  # an expired or taken lease: nothing left to release
            self._log.warning("execution %s: releasing the lease failed: %s", lease.execution_id, exc)


class ControlPoller:
    """Polls on a timer: a poll runs as a task of the execution's scope only when it is due, so an
    execution between polls holds a timer, not a sleeping task (see benchmarks/PROFILE.md, memory)."""

    __slots__ = (
        "_again", "_apply", "_execution_id", "_interval_s", "_lease", "_log", "_poll", "_scope", "_store",
        "_timer", "_watch",
    )

    def __init__(
        self,
        store: HistoryStore,
        execution_id: ExecutionId,
        *,
        interval_s: float,
        apply: Callable[[str, str], None],
        lease: LeaseKeeper,
        log: EngineLogger,
    ) -> None:
        self._store = store
        self._execution_id = execution_id
        self._interval_s = interval_s
        self._apply = apply
        self._lease = lease
        self._log = log
        self._scope: asyncio.TaskGroup | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._poll: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._again = False
        """A change was notified while a poll ran: poll again as soon as it ends."""

    def start(self, scope: asyncio.TaskGroup) -> None:
        self._scope = scope
        self._arm()
        if isinstance(self._store, ChangeFeed) and self._watch is None:
            self._watch = scope.create_task(self._watch_feed(self._store), name=f"feed {self._execution_id}")

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._interval_s, self._due)

    def stop(self) -> None:
        self._scope = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        poll, self._poll = self._poll, None  # forgotten as it is cancelled: no cycle through its frame
        if poll is not None:
            poll.cancel()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()

    async def _watch_feed(self, feed: ChangeFeed) -> None:
        try:
            await feed.watch(self._changed, kind="control", execution_id=self._execution_id)
        except Exception as exc:  # the feed is a shortcut: without it the timer still polls
            self._log.warning("execution %s: watching for control requests failed (polling goes on): %s",
                              self._execution_id, exc)

    def _changed(self, _execution_id: str, _request_id: int) -> None:
        """A control request was made for this execution (by any process): poll now, not at the timer."""
        if self._scope is None:
            return
        if self._poll is not None:
            self._again = True  # that poll may have looked before the request committed
            return
        if self._timer is not None:
            self._timer.cancel()
        self._due()

    def _due(self) -> None:
        self._timer = None
        if self._scope is not None:
            self._poll = self._scope.create_task(self._poll_and_rearm(), name=f"control {self._execution_id}")

    async def _poll_and_rearm(self) -> None:
        await self.poll()
        self._poll = None
        if self._scope is None:
            return
        if self._again:
            self._again = False
            self._due()
        else:
            self._arm()

    async def poll(self) -> None:
        try:
            requests = await self._store.take_control_requests(self._execution_id)
        except Exception as exc:
            self._log.warning("execution %s: reading control requests failed: %s", self._execution_id, exc)
            requests = []
        for request in requests:
            self._apply(request.action, request.reason)
        await self._lease.renew_if_due()
