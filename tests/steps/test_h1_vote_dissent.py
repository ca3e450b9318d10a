"""The ``vote`` aggregator names its dissent: who voted against the winner, how, and why."""

from __future__ import annotations

from typing import Any

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.engine.status import ExecutionStatus
from quorum.history.memory import MemoryHistoryStore
from quorum.ids import AgentId, PhaseName
from quorum.steps.aggregate import PRODUCES, consensus, vote
from quorum.testing import ScriptedAgent
from tests.engine.run_helpers import aggregate, executor_with, phase, prompt, task

pytestmark = pytest.mark.unit


def r(agent: str, *, text: str = "", rationale: str | None = None, confidence: float | None = None,
      **data: Any) -> AgentResponse:
    return AgentResponse(agent_id=AgentId(agent), text=text, rationale=rationale, confidence=confidence,
                         data=data)


def test_dissent_lists_each_vote_against_the_winner_with_its_reason() -> None:
    answers = [
        r("a", recommendation="BUY", rationale="margins widen"),
        r("b", recommendation="SELL", reason="valuation stretched", rationale="ignored: reason wins"),
        r("c", recommendation="BUY"),
        r("d", recommendation="HOLD", text="wait for earnings"),
        r("e", recommendation="SELL"),
    ]
    out = vote(answers, {})
    assert out["winner"] == "BUY"
    assert out["dissenting"] == ["b", "d", "e"]
    assert out["dissent"] == [
        {"agent": "b", "vote": "SELL", "reason": "valuation stretched"},
        {"agent": "d", "vote": "HOLD", "reason": "wait for earnings"},
        {"agent": "e", "vote": "SELL", "reason": None},
    ]


def test_unanimity_and_no_votes_have_no_dissent() -> None:
    assert vote([r("a", stance="up"), r("b", stance="up")], {})["dissent"] == []
    empty = vote([r("a")], {})
    assert (empty["winner"], empty["dissent"], empty["dissenting"]) == (None, [], [])


def test_an_answer_without_a_vote_abstains_and_is_not_dissent() -> None:
    out = vote([r("a", stance="up"), r("b", stance="down", confidence=0.1), r("c", text="no view"),
                r("d", stance="up")], {})
    assert out["dissenting"] == ["b"]


def test_a_tie_broken_by_confidence_puts_the_other_side_in_dissent() -> None:
    out = vote([r("a", stance="up", confidence=0.4), r("b", stance="down", confidence=0.9)], {})
    assert (out["winner"], out["tie"]) == ("down", True)
    assert out["dissent"] == [{"agent": "a", "vote": "up", "reason": None}]


def test_dissent_counts_final_positions_unless_positions_all() -> None:
    # "a" came round to "up" in the last round: its earlier "down" is not dissent
    answers = [r("a", stance="down"), r("b", stance="up"), r("a", stance="up", rationale="convinced")]
    assert vote(answers, {})["dissent"] == []
    every = vote(answers, {"positions": "all"})
    assert every["dissent"] == [{"agent": "a", "vote": "down", "reason": None}]


def test_a_long_reason_is_folded_and_cut() -> None:
    long = "because  \n " + "x" * 1000
    (entry,) = vote([r("a", stance="up"), r("b", stance="up"), r("c", stance="down", rationale=long)],
                    {})["dissent"]
    assert len(entry["reason"]) == 280
    assert entry["reason"].startswith("because xxx")
    assert entry["reason"].endswith("…")


def test_dissenting_matches_consensus_on_the_same_winner() -> None:
    answers = [r("a", stance="up", confidence=0.5), r("b", stance="down", confidence=0.5),
               r("c", stance="up", confidence=0.5)]
    assert vote(answers, {"field": "stance"})["dissenting"] == consensus(answers, {})["dissenting"] == ["b"]


def test_vote_declares_it_computes_dissent() -> None:
    assert {"dissent", "dissenting"} <= PRODUCES["vote"]


@pytest.mark.integration
async def test_a_phase_output_named_dissent_is_the_votes_dissent() -> None:
    agents = {
        "a": ScriptedAgent({"recommendation": "BUY", "rationale": "strong cash flow"}),
        "b": ScriptedAgent({"recommendation": "SELL", "reason": "too expensive"}),
        "c": ScriptedAgent({"recommendation": "BUY"}),
    }
    store = MemoryHistoryStore()
    await store.open()
    t = task(phase("Vote", prompt("decide"), aggregate("vote"), agents=("a", "b", "c"),
                   outputs=("winner", "dissent")))
    result = await executor_with(agents, history_store=store).execute(t)
    assert result.status is ExecutionStatus.COMPLETED
    outputs = result.phases[PhaseName("Vote")].outputs
    assert outputs["winner"] == "BUY"
    dissent = [dict(d) for d in outputs["dissent"]]
    assert dissent == [{"agent": "b", "vote": "SELL", "reason": "too expensive"}]
    assert all(a.calls == 1 for a in agents.values())  # computed, not asked of the agents
    await store.close()


def test_consensus_names_its_dissent_with_the_reasons() -> None:
    answers = [
        r("a", stance="bullish", confidence=0.8, rationale="margins widen"),
        r("b", stance="bearish", confidence=0.6, reason="valuation stretched"),
        r("c", stance="bullish", confidence=0.7),
        r("b", stance="neutral", confidence=0.5, text="  waiting\nfor earnings "),  # b's final position
    ]
    out = consensus(answers, {})
    assert out["consensus"] == "bullish"
    assert out["dissenting"] == ["b"]
    assert out["dissent"] == [{"agent": "b", "stance": "neutral", "reason": "waiting for earnings"}]
    assert consensus([r("a")], {})["dissent"] == []
    assert "dissent" in PRODUCES["consensus"]
