"""ExecutorScope: the task group every execution of an executor runs in.

``TaskExecutor.start`` returns while its execution goes on, so the execution cannot be a task of the
caller's own group. It is a task of the executor's: a group held open by one task while executions
run, from the first until the last of them ends (then the group closes, and an idle executor holds no
task at all). ``aclose()`` waits for it; an event loop that shuts down cancels the holder, and with it
every execution still running. Nothing an executor starts outlives it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ("Admission", "ExecutorScope")

_T = TypeVar("_T")


class _Group:
    """One opening of the scope: a task group, the task holding it open, and what runs in it."""

    def __init__(self) -> None:
        self.group: asyncio.TaskGroup | None = None
        self.running = 0
        self.idle = asyncio.Event()
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.holder = loop.create_task(self._hold(), name="quorum-executor")

    async def _hold(self) -> None:
        async with asyncio.TaskGroup() as group:
            self.group = group
            self.opened.set_result(None)
            await self.idle.wait()

    @property
    def open(self) -> bool:
        return not self.idle.is_set() and not self.holder.done() and (
            self.holder.get_loop() is asyncio.get_running_loop()
        )

    def start(self, coroutine: Coroutine[Any, Any, _T], name: str) -> asyncio.Task[_T]:
        assert self.group is not None
        self.running += 1
        task = self.group.create_task(coroutine, name=name)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self.running -= 1
        if self.running == 0:
            self.idle.set()  # the last one: the group closes (a later start opens a new one)


class ExecutorScope:
    def __init__(self) -> None:
        self._current: _Group | None = None
        self._holders: set[asyncio.Task[None]] = set()

    async def start(self, coroutine: Coroutine[Any, Any, _T], *, name: str) -> asyncio.Task[_T]:
        """Run ``coroutine`` as a task of the group (opened if no execution runs)."""
        current = self._current
        if current is None or not current.open:
            current = self._current = _Group()
            self._holders.add(current.holder)
            current.holder.add_done_callback(self._holders.discard)
        await current.opened
        return current.start(coroutine, name)

    async def aclose(self) -> None:
        """Wait until every task started in the scope has ended."""
        loop = asyncio.get_running_loop()
        holders = [h for h in self._holders if h.get_loop() is loop]
        if holders:
            await asyncio.wait(holders)


class Admission:
    """At most ``limit`` executions driven at once, across an executor; the others wait their turn in
    the order they asked (``asyncio.Semaphore`` is first come, first served)."""

    __slots__ = ("_slots", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)

    async def acquire(self) -> None:
        await self._slots.acquire()

    def release(self) -> None:
        self._slots.release()
