"""``Waiters``: tasks waiting until something lets them all go, with no cost while nobody waits.

``asyncio.Event`` keeps a deque (~0.8 KB) from the start; the pause gate of every execution and the
executor's journal backlog are waited on rarely, by 2,000 executions at once, so they make a future
per waiter only while it waits.
"""

from __future__ import annotations

import asyncio

__all__ = ("Waiters",)


class Waiters:
    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _wait_once(self) -> None:
        """Wait until :meth:`_release` (a cancelled waiter leaves the others waiting)."""
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)

    def _release(self) -> None:
        """Let every waiter go."""
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)
