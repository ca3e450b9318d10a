"""watch: follow the live events other processes publish (see :mod:`quorum.fanout.publisher`).

``await watch(url, on_event)`` calls ``on_event(event)`` for every event of every execution (or of one,
with ``execution_id``) until it is cancelled. A lost connection is opened again (waits growing to
``max_wait_s``); ``on_connect`` is called after each subscription, the first and every later one, so a
follower can read the journal for what it may have missed meanwhile. A quiet connection is pinged every
``ping_s``: a server that stops answering (frozen, or the network gone) counts as lost too. Pub/sub
delivers nothing twice but may skip: the receiver compares sequences (see
:class:`~quorum.server.feeds.Feed`).

:class:`RedisLiveSource` is the same, as the live source a server's :class:`~quorum.server.feeds.FeedHub`
takes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from quorum.agents.cache_redis import redis_client, unavailable_errors
from quorum.events import Event
from quorum.fanout._wire import ALL_CHANNEL, channel_for, decode_event
from quorum.history._location import redact_url

__all__ = ("RedisLiveSource", "live_source", "watch")

_log = logging.getLogger("quorum.fanout")
_POLL_S = 1.0


async def watch(
    url: str,
    on_event: Callable[[Event], Any],
    *,
    execution_id: str | None = None,
    on_connect: Callable[[], Any] | None = None,
    timeout_s: float = 2.0,
    max_wait_s: float = 5.0,
    ping_s: float = 5.0,
) -> None:
    channel = ALL_CHANNEL if execution_id is None else channel_for(execution_id)
    errors = unavailable_errors()
    wait = 0.05
    down = False
    while True:
        client = redis_client(url, timeout_s=timeout_s, what="the live events server")
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            if down:
                _log.warning("live events: subscribed again to %s at %s", channel, redact_url(url))
            down, wait = False, 0.05
            if on_connect is not None:
                on_connect()
            loop = asyncio.get_running_loop()
            heard = pinged = loop.time()
            while True:
                message = await pubsub.get_message(timeout=min(_POLL_S, ping_s))
                now = loop.time()
                if message is not None:
                    heard = now
                    if message.get("type") == "message" and (event := decode_event(message["data"])):
                        on_event(event)
                    continue
                if pinged > heard and now - pinged > timeout_s:
                    raise TimeoutError(f"no answer to a ping within {timeout_s} s")
                if now - max(heard, pinged) >= ping_s:
                    await pubsub.ping()
                    pinged = now
        except errors as exc:
            if not down:
                _log.warning("live events: lost %s at %s (%s); subscribing again", channel,
                             redact_url(url), type(exc).__name__)
            down = True
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            await client.aclose()
        await asyncio.sleep(wait)
        wait = min(max_wait_s, wait * 2)


class RedisLiveSource:
    """Every execution's live events from one Redis server (for ``FeedHub(live=...)``)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"RedisLiveSource({redact_url(self.url)!r})"

    async def watch(self, on_event: Callable[[Event], Any], on_connect: Callable[[], Any]) -> None:
        await watch(self.url, on_event, on_connect=on_connect)


def live_source(url: str | None) -> RedisLiveSource | None:
    """The live source a configuration's ``events`` names (None: no live source, polling only)."""
    return None if url is None else RedisLiveSource(url)
