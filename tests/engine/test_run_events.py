"""Events: names, order, payloads, gap-free sequences, handlers, async iteration, overflow, logging."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from run_helpers import executor_with, phase, prompt, task

from quorum.engine.status import ExecutionStatus
from quorum.events import EVENT_TYPES, Event
from quorum.events import EventType as E
from quorum.testing import EventCapture, ScriptedAgent, sleeping_agent

pytestmark = pytest.mark.unit

T = task(phase("P", prompt("go {{ input.x }}"), agents=("a", "b"), parallel=True, outputs=("v",)))


def _agents() -> dict[str, Any]:
    return {"a": sleeping_agent(0.001, {"v": 1}), "b": sleeping_agent(0.005, {"v": 2})}


async def test_event_order_and_payloads() -> None:
    ex = executor_with(_agents())
    with EventCapture(ex) as events:
        result = await ex.execute(T, {"x": 7})
    assert events.types() == [
        E.EXECUTION_START, E.PHASE_START, E.STEP_START, E.AGENT_START, E.AGENT_START,
        E.AGENT_RESPONSE, E.AGENT_RESPONSE, E.STEP_COMPLETE, E.PHASE_COMPLETE, E.CHECKPOINT_CREATED,
        E.EXECUTION_COMPLETE,
    ]
    assert set(events.types()) <= EVENT_TYPES
    evs = events.events
    assert [e.sequence for e in evs] == list(range(1, len(evs) + 1))
    assert all(e.execution_id == result.id and e.task == "t" for e in evs)
    assert [e.timestamp for e in evs] == sorted(e.timestamp for e in evs)
    start = events.first(E.EXECUTION_START)
    assert start.data["input"] == {"x": 7}
    assert start.data["phases"] == ["P"]
    responses = events.of(E.AGENT_RESPONSE)
    assert [e.agent for e in responses] == ["a", "b"]
    first = responses[0]
    assert first.phase == "P"
    assert first.step == 0
    assert first.duration_ms is not None
    assert first.data["call_key"] == "P/0/a/0/1"
    assert first.data["response"]["data"] == {"v": 1}
    assert first.data["response"]["agent_id"] == "a"
    assert events.of(E.AGENT_START)[0].data == {"call_key": "P/0/a/0/1", "round": 0, "attempt": 1}
    done = events.first(E.PHASE_COMPLETE)
    assert done.phase == "P"
    assert done.duration_ms is not None
    assert done.data["outputs"] == {"v": 2}
    checkpoint = events.first(E.CHECKPOINT_CREATED)
    assert checkpoint.data["label"] == "after:P"
    assert checkpoint.data["checkpoint_id"] == result.checkpoints[0]
    end = events.events[-1]
    assert end.data["verdict"] == {"v": 2}
    assert end.duration_ms is not None
    assert end.data["status"] == "completed"


async def test_sequences_stay_gap_free_when_only_some_events_are_wanted() -> None:
    ex = executor_with(_agents())
    with EventCapture(ex) as everything:
        await ex.execute(T, {"x": 1})
    full = {e.type: e.sequence for e in everything.events if e.type == E.PHASE_COMPLETE}
    ex2 = executor_with(_agents())
    with EventCapture(ex2, E.PHASE_COMPLETE) as partial:
        await ex2.execute(T, {"x": 1})
    assert [e.sequence for e in partial.events] == [full[E.PHASE_COMPLETE]]


async def test_on_off_and_star() -> None:
    ex = executor_with(_agents())
    seen: list[str] = []

    def handler(event: Event) -> None:
        seen.append(event.type)

    ex.on(E.PHASE_COMPLETE, handler)
    ex.on("*", handler)
    await ex.execute(T, {"x": 1})
    assert seen.count(E.PHASE_COMPLETE) == 2  # once as itself, once through "*"
    assert seen.count(E.EXECUTION_START) == 1
    ex.off(E.PHASE_COMPLETE, handler)
    ex.off("*", handler)
    ex.off("never:registered", handler)
    seen.clear()
    await ex.execute(T, {"x": 1})
    assert seen == []


async def test_a_failing_handler_is_logged_and_never_breaks_the_run(caplog: pytest.LogCaptureFixture) -> None:
    ex = executor_with(_agents())

    def broken(event: Event) -> None:
        raise ValueError("handler bug")

    async def broken_async(event: Event) -> None:
        raise KeyError("async handler bug")

    ex.on(E.PHASE_START, broken)
    ex.on(E.PHASE_COMPLETE, broken_async)
    with caplog.at_level(logging.ERROR, logger="quorum.engine"):
        result = await ex.execute(T, {"x": 1})
    assert result.status is ExecutionStatus.COMPLETED
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "handler bug" in messages
    assert "async handler bug" in messages


async def test_async_handlers_finish_before_the_result_is_delivered() -> None:
    ex = executor_with(_agents())
    finished: list[int] = []

    async def slow_handler(event: Event) -> None:
        await asyncio.sleep(0.01)
        finished.append(event.sequence)

    ex.on("*", slow_handler)
    await ex.execute(T, {"x": 1})
    assert len(finished) == 11


async def test_async_iteration_over_the_stream() -> None:
    ex = executor_with(_agents())
    stream = ex.events()
    handle = await ex.start(T, {"x": 1})
    got: list[Event] = []
    async for event in stream:
        got.append(event)
        if event.type == E.EXECUTION_COMPLETE:
            break
    await handle.result()
    assert got[0].type == E.EXECUTION_START
    assert len(got) == 11
    own = ex.events(types={E.PHASE_COMPLETE})
    handle2 = await ex.start(T, {"x": 1})
    per_execution = [e.type async for e in handle2.events()]
    assert per_execution[-1] == E.EXECUTION_COMPLETE  # ends with its execution
    assert (await anext(aiter(own))).type == E.PHASE_COMPLETE
    after = [e async for e in handle2.events()]
    assert after == []  # finished: ends at once


async def test_a_slow_subscriber_never_stalls_the_engine_oldest_events_are_dropped() -> None:
    ex = executor_with(_agents())
    sub = ex.events(maxsize=4)
    with EventCapture(ex) as events:
        result = await ex.execute(T, {"x": 1})
    assert result.status is ExecutionStatus.COMPLETED
    assert len(sub) == 4
    assert sub.dropped == len(events.events) - 4
    kept = [e async for e in _drain(sub, 4)]
    assert [e.sequence for e in kept] == [e.sequence for e in events.events[-4:]]


async def _drain(sub: Any, n: int) -> Any:
    for _ in range(n):
        yield await anext(sub)


class SeedLogger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def debug(self, msg: str) -> None:
        self.lines.append(("debug", msg))

    def info(self, msg: str) -> None:
        self.lines.append(("info", msg))

    def warn(self, msg: str) -> None:
        self.lines.append(("warn", msg))

    def error(self, msg: str) -> None:
        self.lines.append(("error", msg))


async def test_the_seeds_logger_object_is_used() -> None:
    logger = SeedLogger()
    ex = executor_with({"a": ScriptedAgent(always_fail=True)}, logger=logger)
    result = await ex.execute(task(phase("P", prompt("x"), agents=("a",))))
    assert result.status is ExecutionStatus.FAILED
    levels = {level for level, _ in logger.lines}
    assert {"info", "warn", "error"} <= levels
    assert any(result.id in msg for _, msg in logger.lines)


async def test_a_forgotten_or_closed_subscription_stops_costing_anything() -> None:
    import gc

    ex = executor_with(_agents())
    assert not ex._bus.wants(E.AGENT_START)
    stream = ex.events()
    assert ex._bus.wants(E.AGENT_START)
    del stream
    gc.collect()
    assert not ex._bus.wants(E.AGENT_START)  # dropped without closing: forgotten
    async with ex.events() as scoped:
        assert ex._bus.wants(E.AGENT_START)
        await ex.execute(T, {"x": 1})
        assert len(scoped) == 11
    assert not ex._bus.wants(E.AGENT_START)
