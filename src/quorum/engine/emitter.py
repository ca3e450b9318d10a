"""EventEmitter: one execution's events — numbered, journaled by its recorder, published on the bus.

Every event takes the next sequence number, whether or not anyone records or listens, so that a
journal's sequences are gap-free and the same for the same work. The :class:`~quorum.events.Event`
itself is built only when someone wants it.

Streaming: ``agent:chunk`` events are live-only. They are never journaled (a long answer streams
hundreds of them; ``agent:response`` already records the whole text) and take no sequence number of
their own: each carries the sequence of the latest numbered event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from quorum.engine.bus import EventBus
from quorum.events import Event, EventType

if TYPE_CHECKING:
    from quorum.engine.context import ExecutionContext
    from quorum.engine.recorder import Recorder

__all__ = ("EventEmitter",)

_NO_DATA: Mapping[str, Any] = MappingProxyType({})

Spawn = Callable[[Coroutine[Any, Any, None]], None]
"""Runs an async handler's coroutine as a task of the execution's scope."""


class EventEmitter:
    __slots__ = ("_bus", "_ctx", "_recorder", "_spawn", "_task_name")

    def __init__(self, ctx: ExecutionContext, bus: EventBus, recorder: Recorder | None, spawn: Spawn) -> None:
        self._ctx = ctx
        self._bus = bus
        self._recorder = recorder
        self._spawn = spawn
        self._task_name = ctx.task.name

    def record_with(self, recorder: Recorder | None) -> None:
        """Journal every event from now on with ``recorder`` (the execution's history store)."""
        self._recorder = recorder

    def wants(self, event_type: str) -> bool:
        return self._recorder is not None or self._bus.wants(event_type)

    def emit(
        self,
        event_type: str,
        *,
        phase: str | None = None,
        step: int | None = None,
        agent: str | None = None,
        duration_ms: float | None = None,
        error: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        ctx = self._ctx
        ctx.sequence += 1
        if not self.wants(event_type):
            return
        event = Event(
            type=event_type, execution_id=ctx.id, sequence=ctx.sequence, timestamp=time.time(),
            task=self._task_name, phase=phase, step=step, agent=agent,  # type: ignore[arg-type]
            duration_ms=duration_ms, error=error, data=_NO_DATA if data is None else data,
        )
        if self._recorder is not None:
            self._recorder.add(event)
        self._bus.publish(event, self._spawn)

    def streamer(self, phase: str, step: int, agent: str) -> Callable[[str], None] | None:
        if not self._bus.wants(EventType.AGENT_CHUNK):
            return None
        loop = asyncio.get_running_loop()
        ctx, bus, task_name = self._ctx, self._bus, self._task_name

        def publish(text: str) -> None:
            event = Event(
                type=EventType.AGENT_CHUNK, execution_id=ctx.id, sequence=ctx.sequence,
                timestamp=time.time(), task=task_name, phase=phase, step=step, agent=agent,  # type: ignore[arg-type]
                data={"text": text},
            )
            bus.publish(event, self._spawn)

        def on_chunk(text: str) -> None:
            if not text:
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                publish(text)
            else:  # an agent streaming from a worker thread: hand the piece to the execution's loop
                loop.call_soon_threadsafe(publish, text)

        return on_chunk
