"""The channels live events travel on, and what a message holds.

Every event goes out twice: on ``quorum:events:<execution id>`` (for a tail of one execution) and on
``quorum:events`` (for a server that follows them all). A message is the event's JSON, the same text the
server's event stream sends: it carries ``execution_id``, ``sequence`` and ``type`` with the rest.
"""

from __future__ import annotations

import json

from quorum.events import Event

__all__ = ("ALL_CHANNEL", "channel_for", "decode_event", "encode_event")

ALL_CHANNEL = "quorum:events"


def channel_for(execution_id: str) -> str:
    return f"{ALL_CHANNEL}:{execution_id}"


def encode_event(event: Event) -> bytes:
    return json.dumps(event.to_dict(), default=str, separators=(",", ":")).encode()


def decode_event(payload: bytes | str) -> Event | None:
    """The event a message holds; None for one that is not an event of ours (it is ignored)."""
    try:
        data = json.loads(payload)
        if not isinstance(data, dict) or not isinstance(data.get("sequence"), int):
            return None
        return Event.from_dict(data)
    except (ValueError, TypeError, KeyError):
        return None
