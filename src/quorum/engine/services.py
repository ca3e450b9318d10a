"""What keeps a recorded execution attached to its history store while it runs.

- :class:`LeaseKeeper` — the lease that makes this process the execution's one driver: renewed when
  half its TTL has passed, released at the end. A lease lost to another process stops the execution.
- :class:`ControlPoller` — control requests from other processes (``quorum pause|resume|abort <id>``),
  read every ``control_poll_s``; each poll also renews the lease when due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from quorum.engine.log import EngineLogger
from quorum.errors import LeaseLostError
from quorum.history.base import HistoryStore, Lease
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
        "_apply", "_execution_id", "_interval_s", "_lease", "_log", "_poll", "_scope", "_store", "_timer"
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

    def start(self, scope: asyncio.TaskGroup) -> None:
        self._scope = scope
        self._timer = asyncio.get_running_loop().call_later(self._interval_s, self._due)

    def stop(self) -> None:
        self._scope = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        poll, self._poll = self._poll, None  # forgotten as it is cancelled: no cycle through its frame
        if poll is not None:
            poll.cancel()

    def _due(self) -> None:
        self._timer = None
        if self._scope is not None:
            self._poll = self._scope.create_task(self._poll_and_rearm(), name=f"control {self._execution_id}")

    async def _poll_and_rearm(self) -> None:
        await self.poll()
        self._poll = None
        if self._scope is not None:
            self.start(self._scope)

    async def poll(self) -> None:
        try:
            requests = await self._store.take_control_requests(self._execution_id)
        except Exception as exc:
            self._log.warning("execution %s: reading control requests failed: %s", self._execution_id, exc)
            requests = []
        for request in requests:
            self._apply(request.action, request.reason)
        await self._lease.renew_if_due()
