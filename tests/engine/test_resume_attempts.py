"""A take-over goes on with the attempt a phase had reached, even when that attempt started before the
latest checkpoint (a parallel phase retrying while another one completed)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.definition.model import RetryPolicy
from quorum.errors import AgentError
from quorum.history.base import HistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from tests import backends
from tests.composition.takeover import checkpoint_after, copy_execution
from tests.engine.run_helpers import executor_with, phase, prompt, task

pytestmark = pytest.mark.errors

store = backends.store  # the fixture: each local history backend

RETRY = RetryPolicy(max_attempts=3, backoff_ms=10, jitter=0.0)


def _task() -> Any:
    # no dependency between them: Flaky fails, retries and is on its attempt 2 when Slow completes
    return task(phase("Slow", prompt("wait"), agents=("slow",)),
                phase("Flaky", prompt("try"), agents=("flaky",), retry=RETRY), max_concurrent_agents=4)


async def slow(request: AgentRequest) -> dict[str, Any]:
    await asyncio.sleep(0.3)
    return {"ok": True}


def flaky() -> Any:
    calls = 0

    async def agent(request: AgentRequest) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise AgentError("flaky", "not yet")
        await asyncio.sleep(0.6)  # attempt 2 is still running when Slow's checkpoint is taken
        return {"ok": True}

    return agent


async def _steady(request: AgentRequest) -> dict[str, Any]:
    return {"ok": True}


async def test_a_phase_retrying_before_the_checkpoint_goes_on_with_its_attempt(
    tmp_path: Path, store: HistoryStore,
) -> None:
    source = SQLiteHistoryStore(tmp_path / "source.db")
    await source.open()
    try:
        async with executor_with({"slow": slow, "flaky": flaky()}, history_store=source) as first:
            done = await first.execute(_task())
        assert done.status.value == "completed", done.error
        assert done.phases["Flaky"].attempts == 2
        journal = await source.read_journal(done.id)
        at = next(e.sequence for e in journal if checkpoint_after("Slow")(e))
        started = [(e.sequence, e.data.get("attempt")) for e in journal
                   if e.type == "phase:start" and e.phase == "Flaky"]
        # the shape this test is about: Flaky's attempt 2 started before Slow's checkpoint
        assert started[-1][1] == 2, journal
        assert started[-1][0] < at, journal
        await copy_execution(source, store, done.id, through=checkpoint_after("Slow"))
    finally:
        await source.close()

    async with executor_with({"slow": slow, "flaky": _steady}, history_store=store) as second:
        result = await (await second.resume_execution(done.id)).result()
    assert result.status.value == "completed", result.error
    assert result.phases["Flaky"].attempts == 2  # not attempt 1 again: its retry budget is not reset
    resumed = [e for e in await store.read_journal(done.id) if e.sequence > at]
    assert [e.data.get("attempt") for e in resumed if e.type == "phase:start" and e.phase == "Flaky"] == [2]
