"""ExecutionHandle: a running execution, as returned by ``TaskExecutor.start``; ActiveExecution rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Container
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quorum.engine.live import LiveExecution
from quorum.engine.results import ExecutionResult
from quorum.engine.status import ExecutionStatus
from quorum.events import Event
from quorum.ids import ExecutionId, PhaseName

if TYPE_CHECKING:
    from quorum.engine.context import ExecutionContext

__all__ = ("ActiveExecution", "ExecutionHandle")


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveExecution:
    """One row of ``get_active_executions()``."""

    id: ExecutionId
    task: str
    status: ExecutionStatus
    current_phases: tuple[PhaseName, ...]
    started_at: float | None


class ExecutionHandle:
    """Await ``result()`` for the outcome; ``events()`` for this execution's event stream.

    Also usable as ``async with handle:`` — leaving the block aborts the execution if it is still
    running and waits for it to end, so nothing outlives the block.
    """

    __slots__ = ("_live", "id")

    def __init__(self, live: LiveExecution) -> None:
        self._live = live
        self.id: ExecutionId = live.ctx.id

    @property
    def status(self) -> ExecutionStatus:
        return self._live.ctx.status

    @property
    def context(self) -> ExecutionContext:
        return self._live.ctx

    @property
    def done(self) -> bool:
        return self._live.done.done()

    async def result(self) -> ExecutionResult:
        """Wait for the end; cancelling this wait does not cancel the execution."""
        return await asyncio.shield(self._live.done)

    def events(
        self, *, maxsize: int = 10_000, types: Container[str] | None = None
    ) -> AsyncIterator[Event]:
        """This execution's events from now on; the iteration ends when the execution ends."""
        return self._live.events(maxsize=maxsize, types=types)

    async def pause(self, reason: str = "") -> None:
        self._live.pause(reason)

    async def resume(self) -> None:
        self._live.resume()

    async def detach(self) -> ExecutionResult:
        """Leave this paused execution for another process (see ``TaskExecutor.detach``)."""
        self._live.detach()
        return await self.result()

    async def abort(self, reason: str = "aborted") -> ExecutionResult:
        self._live.abort(reason)
        return await self.result()

    async def __aenter__(self) -> ExecutionHandle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self._live.done.done():
            self._live.abort("handle closed")
        await self.result()

    def __repr__(self) -> str:
        return f"<ExecutionHandle {self.id} {self.status.value}>"
