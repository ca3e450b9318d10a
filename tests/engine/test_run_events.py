"""Events: names, order, payloads, gap-free sequences, handlers, async iteration, overflow, logging."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from quorum.engine.status import ExecutionStatus
from quorum.events import EVENT_TYPES, Event
from quorum.events import EventType as E
from quorum.ids import AgentId
from quorum.testing import EventCapture, ScriptedAgent, sleeping_agent
from tests.engine.run_helpers import executor_with, phase, prompt, task

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


class StreamingAgent:
    """A fake LLM agent: streams its answer through ``request.metadata["on_chunk"]`` when given one."""

    def __init__(self, pieces: tuple[str, ...], *, in_thread: bool = False) -> None:
        self.pieces = pieces
        self.in_thread = in_thread
        self.saw_callback: list[bool] = []

    async def query(self, request: Any) -> Any:
        from quorum.agents.protocol import AgentResponse

        on_chunk = request.metadata.get("on_chunk")
        self.saw_callback.append(on_chunk is not None)
        if on_chunk is not None:
            if self.in_thread:
                await asyncio.to_thread(lambda: [on_chunk(p) for p in self.pieces])
            else:
                for piece in self.pieces:
                    on_chunk(piece)
                    await asyncio.sleep(0)
        return AgentResponse(agent_id=request.agent_id, text="".join(self.pieces), data={"v": 1})


STREAM_T = task(phase("P", prompt("go"), agents=("s",), outputs=("v",)))


async def test_streamed_text_is_published_as_agent_chunk_events() -> None:
    agent = StreamingAgent(("Hel", "lo", "", " world"))
    ex = executor_with({"s": agent})
    with EventCapture(ex) as events:
        result = await ex.execute(STREAM_T, {})
    assert result.status == ExecutionStatus.COMPLETED
    assert agent.saw_callback == [True]
    chunks = events.of(E.AGENT_CHUNK)
    assert [c.data["text"] for c in chunks] == ["Hel", "lo", " world"]  # empty pieces are not events
    assert all((c.phase, c.step, c.agent, c.execution_id) == ("P", 0, "s", result.id) for c in chunks)
    # No sequence number of their own: each carries the latest journaled one (agent:start's here).
    start = events.first(E.AGENT_START)
    assert all(c.sequence == start.sequence for c in chunks)
    journaled = [e for e in events.events if e.type != E.AGENT_CHUNK]
    assert [e.sequence for e in journaled] == list(range(1, len(journaled) + 1))
    # Between agent:start and agent:response, in order.
    types = events.types()
    assert types.index(E.AGENT_START) < types.index(E.AGENT_CHUNK) < types.index(E.AGENT_RESPONSE)


async def test_no_chunk_callback_unless_someone_listens() -> None:
    agent = StreamingAgent(("a", "b"))
    ex = executor_with({"s": agent})
    with EventCapture(ex, E.AGENT_RESPONSE) as events:
        await ex.execute(STREAM_T, {})
    assert agent.saw_callback == [False]
    assert len(events.events) == 1
    with EventCapture(ex, E.AGENT_CHUNK) as chunks:
        await ex.execute(STREAM_T, {})
    assert agent.saw_callback == [False, True]
    assert [c.data["text"] for c in chunks.events] == ["a", "b"]


async def test_chunks_from_a_worker_thread_reach_subscribers() -> None:
    agent = StreamingAgent(("x", "y", "z"), in_thread=True)
    ex = executor_with({"s": agent})
    handle = await ex.start(STREAM_T, {})
    texts: list[str] = []
    async with ex.events(execution_id=handle.id) as stream:
        async for event in stream:
            if event.type == E.AGENT_CHUNK:
                texts.append(event.data["text"])
    await handle.result()
    assert texts == ["x", "y", "z"]


async def test_chunks_are_never_journaled() -> None:
    from quorum.history.memory import MemoryHistoryStore

    store = MemoryHistoryStore()
    agent = StreamingAgent(("one", "two"))
    ex = executor_with({"s": agent}, history_store=store)
    with EventCapture(ex, E.AGENT_CHUNK) as chunks:
        result = await ex.execute(STREAM_T, {})
    assert len(chunks.events) == 2
    journal = await store.read_journal(result.id)
    assert journal
    assert all(e.type != E.AGENT_CHUNK for e in journal)
    assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
    assert journal[-1].type == E.EXECUTION_COMPLETE


def test_chunk_key_is_the_agents_layer_key() -> None:
    from quorum.agents.llm import ON_CHUNK
    from quorum.engine.calls import ON_CHUNK as ENGINE_ON_CHUNK

    assert ENGINE_ON_CHUNK == ON_CHUNK


def test_response_record_is_the_answers_dict() -> None:
    from quorum.agents.protocol import AgentResponse
    from quorum.engine.results import response_dict
    from quorum.events import ResponseRecord

    answer = AgentResponse(agent_id=AgentId("a"), text="t", data={"v": (1, {"w": (2,)})}, stance="bullish",
                           tokens_in=3, latency_ms=1.5)
    record = ResponseRecord(answer)
    plain = response_dict(answer)
    assert record == plain
    assert dict(record) == plain
    assert record.to_dict() == plain
    assert list(record) == list(plain)
    assert len(record) == len(plain)
    assert record["data"] == {"v": [1, {"w": [2]}]}  # thawed, like response_dict
    assert type(record["data"]) is dict
    assert "stance" in record
    assert "nope" not in record
    with pytest.raises(KeyError):
        record["nope"]
    assert AgentResponse.from_dict(record) == answer.with_(data={"v": (1, {"w": (2,)})})


async def test_step_events_carry_kind_and_type() -> None:
    ex = executor_with(_agents())
    with EventCapture(ex) as events:
        await ex.execute(T, {"x": 1})
    for kind in (E.STEP_START, E.STEP_COMPLETE):
        assert dict(events.first(kind).data) == {"kind": "prompt", "type": None}


async def test_a_recorded_execution_leaves_no_reference_cycles() -> None:
    # Freed by reference counting as soon as it ends: long processes must not lean on the collector.
    import gc

    from quorum.engine.live import LiveExecution
    from quorum.history.memory import MemoryHistoryStore

    ex = executor_with(_agents(), history_store=MemoryHistoryStore())
    await ex.execute(T, {"x": 1})
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            await ex.execute(T, {"x": 1})
        gc.collect()
        cyclic = [o for o in gc.garbage if isinstance(o, LiveExecution)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert cyclic == []


def test_response_event_data_is_the_documented_mapping() -> None:
    from quorum.agents.protocol import AgentResponse
    from quorum.engine.results import response_dict
    from quorum.events import Event, response_event_data

    answer = AgentResponse(agent_id=AgentId("a"), text="t", data={"v": 1})
    data = response_event_data("P/0/a/0/1", 0, 1, answer)
    expected = {"call_key": "P/0/a/0/1", "round": 0, "attempt": 1, "response": response_dict(answer)}
    assert data == expected
    assert dict(data) == expected
    assert data.get("call_key") == "P/0/a/0/1"
    assert data.get("missing") is None
    assert "response" in data
    assert "missing" not in data
    event = Event(type=E.AGENT_RESPONSE, execution_id="e", sequence=1, timestamp=0.0, data=data)  # type: ignore[arg-type]
    assert event.to_dict()["data"] == expected
    assert Event.from_dict(event.to_dict()).data == expected


async def test_a_fan_out_frees_its_call_tasks_without_the_garbage_collector() -> None:
    """The fan-out's tasks (with their coroutines) go as soon as the phase is done, by reference counting:
    a cycle through the group would keep a 10,000-agent fan-out's tasks until a full collection."""
    import gc
    import weakref

    tasks: list[weakref.ref[asyncio.Task[Any]]] = []

    async def agent(request: Any) -> dict[str, Any]:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(weakref.ref(task))
        await asyncio.sleep(0.001)
        return {"v": 1}

    ex = executor_with({"a": agent, "b": agent, "c": agent})
    t = task(phase("P", prompt("go"), agents=("a", "b", "c"), parallel=True, outputs=("v",)))
    await ex.execute(t, {"x": 1})  # warm: first-run caches
    tasks.clear()
    gc.disable()
    try:
        result = await ex.execute(t, {"x": 1})
        await asyncio.sleep(0)
        assert result.status is ExecutionStatus.COMPLETED
        assert len(tasks) == 3
        assert [r() for r in tasks] == [None, None, None]
    finally:
        gc.enable()


async def test_cancelling_a_fan_out_cancels_and_awaits_every_call() -> None:
    started: list[str] = []
    finished: list[str] = []
    all_started = asyncio.Event()

    async def agent(request: Any) -> dict[str, Any]:
        started.append(request.agent_id)
        if len(started) == 3:
            all_started.set()
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.001)  # cleanup that the fan-out must wait for
            finished.append(request.agent_id)
        return {"v": 1}

    ex = executor_with({"a": agent, "b": agent, "c": agent})
    t = task(phase("P", prompt("go"), agents=("a", "b", "c"), parallel=True, outputs=("v",)))
    run = asyncio.ensure_future(ex.execute(t, {"x": 1}))
    await asyncio.wait_for(all_started.wait(), 5)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert sorted(finished) == ["a", "b", "c"]
