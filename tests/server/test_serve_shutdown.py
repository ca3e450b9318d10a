"""Ctrl-C with event streams open (a dashboard tab, a tail of /events): the streams end at once and the
server stops without waiting out its graceful-shutdown grace."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from .serving import Server

pytestmark = pytest.mark.integration


def test_ctrl_c_ends_open_event_streams_and_the_server_stops_promptly(serve: Callable[..., Server]) -> None:
    server = serve()
    ended: list[str] = []
    opened = threading.Barrier(3)

    def tail(path: str) -> None:
        with server.client(timeout=120) as client, client.stream("GET", path) as response:
            assert response.status_code == 200
            opened.wait()
            for _ in response.iter_bytes():
                pass
        ended.append(path)

    readers = [threading.Thread(target=tail, args=(path,), daemon=True) for path in ("/events", "/events")]
    for reader in readers:
        reader.start()
    opened.wait(timeout=60)
    time.sleep(0.5)
    started = time.monotonic()
    assert server.interrupt(timeout=60) == 0, server.output()
    took = time.monotonic() - started
    for reader in readers:
        reader.join(timeout=10)
    assert len(ended) == 2
    assert took < 15, f"stopping took {took:.1f}s (the 35 s grace was waited out)"
    assert "CancelledError" not in server.output()
