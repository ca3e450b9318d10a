"""The ``step:complete`` of an aggregate step carries the aggregator's own result (the tally, the
winner, the dissent), JSON-safe, bounded and journaled — what the dashboard shows, not a recount."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.engine.status import ExecutionStatus
from quorum.events import Event
from quorum.events import EventType as E
from quorum.history.base import HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import PhaseName
from quorum.testing import EventCapture, ScriptedAgent
from tests.engine.run_helpers import aggregate, executor_with, phase, prompt, task

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    """Each history backend (a real SQLite file, a fresh PostgreSQL schema): each encodes the payload."""
    if request.param != "postgres":
        s: HistoryStore = MemoryHistoryStore() if request.param == "memory" else SQLiteHistoryStore(
            tmp_path / "h.db")
        await s.open()
        yield s
        await s.close()
        return
    from quorum.history.postgres import PostgresHistoryStore
    from tests.history.pg import fresh_schema

    async with fresh_schema() as url, PostgresHistoryStore(url) as pg:
        yield pg

# Weighted by confidence, one confident "buy" outweighs two hesitant "sell"s; counting stances says "sell".
AGENTS = {
    "a": ScriptedAgent({"stance": "buy", "confidence": 0.9, "recommendation": "BUY"}),
    "b": ScriptedAgent({"stance": "sell", "confidence": 0.3, "recommendation": "SELL"}),
    "c": ScriptedAgent({"stance": "sell", "confidence": 0.3, "recommendation": "BUY"}),
}
T = task(phase("Vote", prompt("decide"), aggregate("consensus"), aggregate("vote"),
               agents=("a", "b", "c"), parallel=True))


def _aggregate_events(journal: Sequence[Event]) -> list[Event]:
    return [e for e in journal if e.type == E.STEP_COMPLETE and e.data.get("kind") == "aggregate"]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=dict))


async def test_weighted_consensus_and_vote_results_are_in_the_events(store: HistoryStore) -> None:
    ex = executor_with(AGENTS, history_store=store)
    with EventCapture(ex, E.STEP_COMPLETE) as events:
        result = await ex.execute(T)
    assert result.status is ExecutionStatus.COMPLETED
    live = _aggregate_events(events.events)
    assert [(e.step, e.data["type"]) for e in live] == [(1, "consensus"), (2, "vote")]
    consensus, vote = (e.data["result"] for e in live)
    assert isinstance(consensus, MappingProxyType)  # events are frozen all the way down
    assert consensus["stance"] == "buy"
    assert consensus["counts"] == {"buy": 1, "sell": 2}
    assert consensus["weights"] == pytest.approx({"buy": 0.9, "sell": 0.6})
    assert consensus["agreement"] == pytest.approx(0.6)
    assert tuple(consensus["dissenting"]) == ("b", "c")
    assert vote["winner"] == "BUY"
    assert vote["field"] == "recommendation"
    assert vote["tally"] == {"BUY": 2, "SELL": 1}
    assert vote["tie"] is False
    assert "truncated" not in live[0].data
    # the prompt step's step:complete stays the shared, small payload
    prompt_done = next(e for e in events.events if e.step == 0)
    assert dict(prompt_done.data) == {"kind": "prompt", "type": None}
    # the journal (memory or a real SQLite file) gives the same results back
    journaled = _aggregate_events(await store.read_journal(result.id))
    assert [_plain(e.data["result"]) for e in journaled] == [_plain(consensus), _plain(vote)]


class _Odd:
    def __str__(self) -> str:
        return "<odd object>"


class _Dictish:
    def to_dict(self) -> dict[str, Any]:
        return {"x": 1}


def _odd_aggregator(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(10):
        deep = {"d": deep}
    return {
        "nan": math.nan, "inf": -math.inf, "set": {"z", "y"}, "object": _Odd(), "dictish": _Dictish(),
        "long": "x" * 5000, "many": list(range(1000)), "deep": deep,
        "wide": {f"k{i}": "v" * 400 for i in range(60)},
        "count": len(answers),
    }


async def test_an_aggregate_result_in_the_event_is_json_and_bounded(store: HistoryStore) -> None:
    ex = executor_with({"a": ScriptedAgent({"stance": "buy"})}, history_store=store)
    ex.register_aggregator("odd", _odd_aggregator)
    odd = task(phase("P", prompt("go"), aggregate("odd"), agents=("a",), outputs=("long", "many")))
    with EventCapture(ex, E.STEP_COMPLETE) as events:
        result = await ex.execute(odd)
    assert result.status is ExecutionStatus.COMPLETED
    # the phase's outputs keep the whole result; only the event's copy is bounded
    assert len(result.phases[PhaseName("P")].outputs["long"]) == 5000
    (event,) = _aggregate_events(events.events)
    data = event.data
    assert data["truncated"] is True
    text = json.dumps(data, default=dict, allow_nan=False)  # strict JSON: no NaN, no Infinity
    assert len(text) < 16_000
    r = data["result"]
    assert (r["nan"], r["inf"], r["object"]) == ("nan", "-inf", "<odd object>")
    assert tuple(r["set"]) == ("y", "z")
    assert r["dictish"] == {"x": 1}
    assert r["long"] == "x" * 512 + "…"
    assert tuple(r["many"]) == tuple(range(64))
    depth, node = 0, r["deep"]
    while isinstance(node, Mapping):
        node, depth = node["d"], depth + 1
    assert node == "…"
    assert depth == 5
    journaled = _aggregate_events(await store.read_journal(result.id))
    assert _plain(journaled[0].data) == json.loads(text)


def test_the_bounded_result_is_worked_out_when_first_read_and_pickles_plain() -> None:
    import pickle

    from quorum.engine.step_events import aggregate_data

    class Counted:
        reads = 0

        def to_dict(self) -> dict[str, int]:
            Counted.reads += 1
            return {"buy": 2}

    data = aggregate_data({"kind": "aggregate", "type": "vote"}, {"tally": Counted()})
    assert Counted.reads == 0  # nobody read it yet: a journal in memory never pays for it
    assert data["result"]["tally"]["buy"] == 2
    assert dict(data)["kind"] == "aggregate"
    assert Counted.reads == 1  # once, however often it is read
    plain = {"kind": "aggregate", "type": "vote", "result": {"tally": {"buy": 2}}}
    assert pickle.loads(pickle.dumps(data)) == plain
