"""MemoryHistoryStore keeps its journal in a compact form: equal events come back."""

from __future__ import annotations

import gc
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.events import Event, response_event_data
from quorum.history.memory import MemoryHistoryStore
from quorum.ids import AgentId

from .helpers import event, record


async def _store_with(events: list[Event]) -> MemoryHistoryStore:
    store = MemoryHistoryStore()
    await store.create_execution(record("e1"))
    await store.append(events)
    return store


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"call_key": "P/0/a/0/1", "round": 0, "attempt": 1},
        {"outputs": {"nested": [1, 2]}, "warnings": []},
        MappingProxyType({"attempt": 2, "parallel": True}),
        {"none": None, "float": 1.5, "text": "x"},
    ],
    ids=["empty", "plain", "nested", "frozen", "scalars"],
)
async def test_events_read_back_equal(data: Any) -> None:
    sent = event("e1", 1, "agent:start", agent="a", phase="P", step=0, duration_ms=None, data=data)
    store = await _store_with([sent])
    [back] = await store.read_journal("e1")
    assert back == sent
    assert dict(back.data) == dict(data)


async def test_plain_data_comes_back_read_only() -> None:
    store = await _store_with([event("e1", 1, data={"attempt": 1})])
    [back] = await store.read_journal("e1")
    with pytest.raises(TypeError):
        back.data["attempt"] = 2  # type: ignore[index]


async def _tracked_objects_added(store: MemoryHistoryStore, events: Callable[[], list[Event]]) -> int:
    """How many GC-tracked objects appending ``events()`` leaves behind (built after the count)."""
    gc.collect()
    before = len(gc.get_objects())
    await store.append(events())
    gc.collect()
    return len(gc.get_objects()) - before


async def test_kept_events_with_plain_data_cost_the_collector_nothing() -> None:
    # Rows of plain values are tuples the collector stops tracking: a kept journal is not walked by
    # every full collection for the life of the process.
    n = 2000
    store = await _store_with([])
    added = await _tracked_objects_added(store, lambda: [
        event("e1", i, "agent:start", agent="a", data={"call_key": f"P/0/a/0/{i}", "round": 0, "attempt": 1})
        for i in range(1, n + 1)
    ])
    assert added < n // 20
    assert len(await store.read_journal("e1")) == n


def _response(sequence: int, data: Any, **fields: Any) -> Event:
    answer = AgentResponse(agent_id=AgentId("a"), text="t", data=data, latency_ms=1.5, **fields)
    return event("e1", sequence, "agent:response", agent="a", phase="P", step=0, duration_ms=1.5,
                 data=response_event_data(f"P/0/a/0/{sequence}", 0, 1, answer))


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (MappingProxyType({}), {}),
        (MappingProxyType({"stance": "for", "score": 3, "ok": True, "none": None}), {"confidence": 0.5}),
        (MappingProxyType({"items": (1, MappingProxyType({"x": (2,)}))}), {"tokens_in": 3, "cost_usd": 0.1}),
        ({"plain": "dict"}, {"stance": "bullish", "error": "boom", "model": "m", "cached": True}),
    ],
    ids=["empty", "plain", "nested", "dict"],
)
async def test_answers_read_back_equal(data: Any, fields: dict[str, Any]) -> None:
    sent = _response(1, data, **fields)
    store = await _store_with([sent])
    [back] = await store.read_journal("e1")
    assert back == sent
    assert dict(back.data) == dict(sent.data)
    assert back.data["response"] == sent.data["response"]
    calls = await store.completed_calls("e1")
    assert calls == {"P/0/a/0/1": sent.data["response"]}
