"""Control requests from other processes (``quorum pause|resume|abort <id>``) and lease renewal.

While a history store records an execution, its control requests are polled every ``control_poll_s``
by a timer, not by a sleeping task: a short execution never creates a poll task at all; a due poll
runs as a task of the execution's services group. Each poll also renews the lease when half its TTL
has passed; a lost lease stops the execution.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from quorum.errors import LeaseLostError

if TYPE_CHECKING:
    from quorum.engine.live import LiveExecution

__all__ = ("ControlPoller",)


class ControlPoller:
    __slots__ = ("_handle", "_live", "_services", "_task")

    def __init__(self, live: LiveExecution, services: asyncio.TaskGroup) -> None:
        self._live = live
        self._services = services
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def schedule(self) -> None:
        live = self._live
        if not live._finished:
            loop = asyncio.get_running_loop()
            self._handle = loop.call_later(live.executor.control_poll_s, self._due)

    def _due(self) -> None:
        self._handle = None
        if not self._live._finished:
            self._task = self._services.create_task(self._poll())

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        task, self._task = self._task, None
        if task is not None:
            # Forget the task as it is cancelled: its CancelledError's traceback holds the ``_poll``
            # frame, which holds this poller; kept here, that cycle would leave the whole finished
            # execution to the garbage collector instead of freeing it at once.
            task.cancel()

    async def _poll(self) -> None:
        live = self._live
        store = live.store
        assert store is not None
        try:
            requests = await store.take_control_requests(live.ctx.id)
        except Exception as exc:
            live.log.warning("execution %s: reading control requests failed: %s", live.ctx.id, exc)
            requests = []
        for request in requests:
            live.apply_control(request.action, request.reason)
        await self._renew_lease()
        self._task = None
        self.schedule()

    async def _renew_lease(self) -> None:
        live = self._live
        lease, store = live.lease, live.store
        if lease is None or store is None:
            return
        ttl = live.executor.lease_ttl_s
        if lease.expires_at - time.time() > ttl / 2:
            return
        try:
            live.lease = await store.renew_lease(lease, ttl_s=ttl)
        except LeaseLostError as exc:
            live.store_failed(exc)
        except Exception as exc:
            live.log.warning("execution %s: renewing the lease failed: %s", live.ctx.id, exc)
