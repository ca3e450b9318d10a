"""AbortSignal: what agents and step strategies poll (or await) to learn that their execution ended."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from quorum.errors import ExecutionInterrupt

__all__ = ("AbortSignal",)


class AbortSignal:
    """Set once, when the execution is aborted or times out. Cheap to poll; awaitable.

    Work that cannot be cancelled by asyncio (a thread, a subprocess, a remote job) should check
    ``signal.aborted`` or register ``signal.add_callback(...)`` to stop early.
    """

    __slots__ = ("_callbacks", "_event", "kind", "reason")

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._callbacks: list[Callable[[AbortSignal], object]] = []
        self.reason: str | None = None
        self.kind: str | None = None

    @property
    def aborted(self) -> bool:
        return self.reason is not None

    def abort(self, reason: str, *, kind: str = "abort") -> None:
        if self.reason is not None:
            return
        self.reason = reason
        self.kind = kind
        if self._event is not None:
            self._event.set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def add_callback(self, callback: Callable[[AbortSignal], object]) -> None:
        if self.reason is not None:
            callback(self)
        else:
            self._callbacks.append(callback)

    async def wait(self) -> str:
        if self.reason is None:
            if self._event is None:
                self._event = asyncio.Event()
            await self._event.wait()
        assert self.reason is not None
        return self.reason

    def raise_if_aborted(self) -> None:
        if self.reason is not None:
            raise ExecutionInterrupt(self.reason, kind="timeout" if self.kind == "timeout" else "abort")
