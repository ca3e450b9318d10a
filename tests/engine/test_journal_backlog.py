"""Backpressure: executions wait at a step boundary while the history store is too far behind."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from quorum.engine.recorder import Backlog
from quorum.engine.status import ExecutionStatus
from quorum.events import Event
from quorum.history.memory import MemoryHistoryStore
from tests.engine.run_helpers import executor_with, phase, prompt, task

pytestmark = pytest.mark.concurrency


class StalledStore(MemoryHistoryStore):
    """Writes nothing (its appends wait) until ``release`` is set: a store that cannot keep up."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.writes = 0

    async def append(self, events: Sequence[Event], *, epoch: int | None = None) -> None:
        if self.writes > 0:  # the first write (the start event, awaited) goes through
            await self.release.wait()
        self.writes += 1
        await super().append(events, epoch=epoch)


async def _agent(request: object) -> dict[str, int]:
    await asyncio.sleep(0.003)  # longer than the recorder's linger: each phase is its own batch
    return {"v": 1}


def _chain(n: int) -> object:
    return task(*[phase(f"P{i}", prompt("go"), agents=("a",), outputs=("v",),
                        depends_on=() if i == 0 else f"P{i - 1}") for i in range(n)])


async def test_executions_wait_while_the_store_is_behind_and_go_on_when_it_catches_up() -> None:
    store = StalledStore()

    agent = _agent

    ex = executor_with({"a": agent}, history_store=store, journal_backlog=10)
    run = asyncio.ensure_future(ex.execute(_chain(12), {"x": 1}))
    for _ in range(200):
        await asyncio.sleep(0.005)
    backlog = ex._backlog
    assert not run.done()  # held at a step boundary, not running on with an unbounded backlog
    assert backlog.over
    assert backlog.pending <= 10 + 15  # the limit, plus what one phase emits before its next boundary
    store.release.set()
    result = await asyncio.wait_for(run, 10)
    assert result.status is ExecutionStatus.COMPLETED
    assert backlog.pending == 0


async def test_without_a_bound_the_same_run_goes_on_regardless() -> None:
    store = StalledStore()

    agent = _agent

    ex = executor_with({"a": agent}, history_store=store, journal_backlog=None)
    run = asyncio.ensure_future(ex.execute(_chain(12), {"x": 1}))
    for _ in range(200):
        await asyncio.sleep(0.005)
        if ex._backlog.pending > 60:
            break
    assert ex._backlog.pending > 60  # every phase ran; its events wait in memory
    store.release.set()
    assert (await asyncio.wait_for(run, 10)).status is ExecutionStatus.COMPLETED
    assert ex._backlog.pending == 0


async def test_the_backlog_releases_waiters_at_half_its_limit() -> None:
    backlog = Backlog(10)
    backlog.pending = 11
    assert backlog.over
    waiter = asyncio.ensure_future(backlog.drained())
    await asyncio.sleep(0)
    backlog.written(3)  # 8: under the limit, not yet down to half
    await asyncio.sleep(0)
    assert not waiter.done()
    backlog.written(3)  # 5: half
    await asyncio.wait_for(waiter, 1)
    assert not Backlog(None).over
    with pytest.raises(ValueError, match="at least 1"):
        Backlog(0)


async def test_a_failed_store_leaves_no_backlog_behind() -> None:
    class Broken(MemoryHistoryStore):
        calls = 0

        async def append(self, events: Sequence[Event], *, epoch: int | None = None) -> None:
            self.calls += 1
            if self.calls > 1:
                raise OSError("disk full")
            await super().append(events, epoch=epoch)

    agent = _agent

    store = Broken()
    ex = executor_with({"a": agent}, history_store=store, journal_backlog=1000)
    await ex.execute(_chain(3), {"x": 1})
    assert store.calls > 1  # the store failed (after its retries), with events still unwritten
    assert ex._backlog.pending == 0
