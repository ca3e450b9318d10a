"""The recorder's idle watch holds only the futures still waiting, even on a loop that is never idle."""

from __future__ import annotations

import asyncio

import pytest

from quorum.engine.recorder import Recorder, _idle_watch
from quorum.history.memory import MemoryHistoryStore

pytestmark = pytest.mark.unit


async def test_lingers_ended_by_their_timer_leave_nothing_behind_on_a_busy_loop() -> None:
    loop = asyncio.get_running_loop()
    watch = _idle_watch(loop)
    assert watch is not None
    stop = False

    async def busy() -> None:  # keeps a callback ready at every turn: the loop never goes idle
        while not stop:  # noqa: ASYNC110 - the point is a callback ready at every turn
            await asyncio.sleep(0)

    spinner = asyncio.ensure_future(busy())
    store = MemoryHistoryStore()
    recorders = [Recorder(store, on_failure=lambda exc: None, linger_s=0.001) for _ in range(20)]
    flushers = [asyncio.ensure_future(r.run()) for r in recorders]
    for _ in range(5):
        for recorder in recorders:
            recorder._signal()  # a batch to write: each flusher lingers, and its timer ends the linger
        await asyncio.sleep(0.005)
    assert len(watch._futures) == 0
    for recorder in recorders:
        recorder.close()
    await asyncio.gather(*flushers)
    stop = True
    await spinner
