"""A second process following live events: ``python -m tests.fanout.follow_child URL`` prints
``ready`` once subscribed, then each event's JSON on a line of its own, until it is terminated."""

from __future__ import annotations

import asyncio
import json
import sys

from quorum.events import Event
from quorum.fanout import watch


def main(url: str) -> None:
    def on_event(event: Event) -> None:
        print(json.dumps(event.to_dict(), default=str), flush=True)

    def on_connect() -> None:
        print("ready", flush=True)

    asyncio.run(watch(url, on_event, on_connect=on_connect))


if __name__ == "__main__":
    main(sys.argv[1])
