"""Live events across processes: executions PUBLISH their events to Redis, any number of servers and
tails follow them; the journal stays the source of truth (a follower that missed a message reads it
there by sequence).

::

    publisher.py   EventPublisher, attach(executor, url): a bounded buffer, never blocks nor fails a run
    subscriber.py  watch(url, on_event) until cancelled; RedisLiveSource for the server's FeedHub
    _wire.py       the channels (quorum:events, quorum:events:<execution id>) and the message (event JSON)
"""

from __future__ import annotations

from quorum.fanout._wire import ALL_CHANNEL, channel_for, decode_event, encode_event
from quorum.fanout.publisher import EventPublisher, PublisherStats, attach
from quorum.fanout.subscriber import RedisLiveSource, live_source, watch

__all__ = (
    "ALL_CHANNEL",
    "EventPublisher",
    "PublisherStats",
    "RedisLiveSource",
    "attach",
    "channel_for",
    "decode_event",
    "encode_event",
    "live_source",
    "watch",
)
