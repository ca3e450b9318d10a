"""The event bus: handlers (``on``/``off``) and bounded async subscriptions (``events()``).

Handlers are called in the order they were added, ``"*"`` handlers after the type's own. A sync handler
runs inline; an async one runs as a task owned by its execution (the execution waits for them, up to
a grace period, before it ends, so none outlives it). A handler that raises is logged and forgotten:
it never breaks the execution.

A subscription ends with ``close()`` (or ``async with executor.events() as stream``); one that is
dropped without closing is forgotten when it is garbage-collected.

Overflow policy of subscriptions: each has a bounded buffer (``maxsize`` events, default 10,000).
When a slow subscriber's buffer is full, the *oldest* buffered event is dropped and
``Subscription.dropped`` counts it — the engine never waits for a subscriber. Sequence numbers let a
subscriber see where it missed events.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import weakref
from collections.abc import AsyncIterator, Callable, Container
from typing import Any

from quorum.events import Event

__all__ = ("EventBus", "Handler", "Subscription")

Handler = Callable[[Event], Any]
"""``handler(event)``, sync or async."""


class Subscription:
    """An async iterator over events with a bounded buffer (drop-oldest on overflow)."""

    __slots__ = (
        "__weakref__", "_buffer", "_bus", "_closed", "_waiter", "dropped", "execution_id", "maxsize", "types",
    )

    def __init__(
        self,
        bus: EventBus,
        *,
        maxsize: int = 10_000,
        execution_id: str | None = None,
        types: Container[str] | None = None,
    ) -> None:
        self._bus = bus
        self.maxsize = maxsize
        self.execution_id = execution_id
        self.types = types
        self._buffer: collections.deque[Event] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.dropped = 0

    def _put(self, event: Event) -> None:
        if self._closed:
            return
        if self.execution_id is not None and event.execution_id != self.execution_id:
            return
        if self.types is not None and event.type not in self.types:
            return
        if len(self._buffer) >= self.maxsize:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Stop receiving; iteration ends once the buffered events are consumed."""
        if not self._closed:
            self._closed = True
            self._bus._unsubscribe(self)
            self._wake()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._buffer:
                return self._buffer.popleft()
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._buffer)


class EventBus:
    """Dispatches events to handlers and subscriptions. ``wants(type)`` is the cheap "anyone there?"."""

    def __init__(self, *, on_handler_error: Callable[[Handler, Event, BaseException], None]) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        # Weak: a subscription the caller dropped (broke out of ``async for`` and forgot) goes away
        # by itself instead of buffering events forever. A plain dict of weak references (not a
        # WeakSet) so that "anyone subscribed?" is a C-fast truth test on every event.
        self._subscriptions: dict[int, weakref.ref[Subscription]] = {}
        self._on_handler_error = on_handler_error
        self._async_handlers: set[Handler] = set()

    def on(self, event_type: str, handler: Handler) -> None:
        self._handlers.setdefault(event_type, []).append(handler)
        if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - an async __call__
        ):
            self._async_handlers.add(handler)

    def off(self, event_type: str, handler: Handler | None = None) -> None:
        """Remove ``handler`` (or every handler of ``event_type`` when None). Unknown ones are ignored."""
        handlers = self._handlers.get(event_type)
        if not handlers:
            return
        if handler is None:
            handlers.clear()
        else:
            try:
                handlers.remove(handler)
            except ValueError:
                return
        if not handlers:
            del self._handlers[event_type]

    def subscribe(
        self, *, maxsize: int = 10_000, execution_id: str | None = None, types: Container[str] | None = None
    ) -> Subscription:
        sub = Subscription(self, maxsize=maxsize, execution_id=execution_id, types=types)
        key = id(sub)
        subs = self._subscriptions
        subs[key] = weakref.ref(sub, lambda ref: subs.pop(key, None) if subs.get(key) is ref else None)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        ref = self._subscriptions.get(id(sub))
        if ref is not None and ref() is sub:
            del self._subscriptions[id(sub)]

    def _live_subscriptions(self) -> list[Subscription]:
        return [sub for ref in list(self._subscriptions.values()) if (sub := ref()) is not None]

    def close_subscriptions(self, execution_id: str) -> None:
        for sub in self._live_subscriptions():
            if sub.execution_id == execution_id:
                sub.close()

    def wants(self, event_type: str) -> bool:
        handlers = self._handlers
        return bool(self._subscriptions) or (
            bool(handlers) and (event_type in handlers or "*" in handlers)
        )

    @property
    def has_async_handlers(self) -> bool:
        return bool(self._async_handlers)

    def publish(self, event: Event, spawn: Callable[[Any], None]) -> None:
        """Deliver ``event``; ``spawn(coroutine)`` runs what an async handler returned."""
        handlers = self._handlers
        if handlers:
            own = handlers.get(event.type)
            star = handlers.get("*")
            for group in (own, star):
                if not group:
                    continue
                for handler in tuple(group):
                    try:
                        outcome = handler(event)
                        if inspect.isawaitable(outcome):
                            spawn(self._guard(handler, event, outcome))
                    except Exception as exc:
                        self._on_handler_error(handler, event, exc)
        if self._subscriptions:
            for sub in self._live_subscriptions():
                sub._put(event)

    async def _guard(self, handler: Handler, event: Event, awaitable: Any) -> None:
        try:
            await awaitable
        except Exception as exc:
            self._on_handler_error(handler, event, exc)
