"""A ``rounds: N`` debate's consensus and vote count each agent's final position, not every statement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest, AgentResponse, Stance
from quorum.ids import AgentId
from quorum.steps.aggregate import consensus, positions, vote
from quorum.testing import ScriptedAgent
from tests.engine.run_helpers import aggregate, executor_with, phase, prompt, task


def said(agent: str, stance: Stance, confidence: float = 0.8) -> AgentResponse:
    return AgentResponse(agent_id=AgentId(agent), stance=stance, confidence=confidence)


# Three agents, three rounds: "doubter" says bearish twice, then comes round to bullish.
DEBATE = [
    said("bull", "bullish"), said("bear", "bearish"), said("doubter", "bearish"),
    said("bull", "bullish"), said("bear", "bearish"), said("doubter", "bearish"),
    said("bull", "bullish"), said("bear", "bearish"), said("doubter", "bullish"),
]


def test_consensus_counts_each_agent_once_with_its_last_stance() -> None:
    result = consensus(DEBATE, {})
    assert result["participants"] == 3
    assert result["counts"] == {"bullish": 2, "bearish": 1}
    assert result["consensus"] == "bullish"
    assert result["dissenting"] == ["bear"]  # the doubter changed its mind: no longer dissenting


def test_vote_counts_each_agent_once() -> None:
    result = vote(DEBATE, {"field": "stance"})
    assert result["votes"] == 3
    assert result["tally"] == {"bullish": 2, "bearish": 1}


def test_positions_all_counts_every_statement_when_asked() -> None:
    result = consensus(DEBATE, {"positions": "all"})
    assert result["participants"] == 9
    assert result["counts"] == {"bullish": 4, "bearish": 5}
    assert positions(DEBATE, {"positions": "all"}) == DEBATE


def test_final_positions_keep_the_order_agents_first_spoke() -> None:
    assert [a.agent_id for a in positions(DEBATE, {})] == ["bull", "bear", "doubter"]
    assert positions(DEBATE, {})[2].stance == "bullish"


def test_an_unknown_positions_mode_says_what_to_write() -> None:
    with pytest.raises(ValueError, match="positions=final"):
        consensus(DEBATE, {"positions": "latest"})


async def test_a_three_round_debate_reaches_consensus_on_final_positions() -> None:
    def doubter(request: AgentRequest) -> Mapping[str, Any]:
        stance = "bullish" if request.round == 2 else "bearish"
        return {"stance": stance, "confidence": 0.9}

    ex = executor_with({
        "bull": ScriptedAgent({"stance": "bullish", "confidence": 0.6}),
        "bear": ScriptedAgent({"stance": "bearish", "confidence": 0.6}),
        "doubter": ScriptedAgent(doubter),
    })
    t = task(phase("Debate", prompt("round {{ phase.round }}"), aggregate("consensus"),
                   agents=("bull", "bear", "doubter"), rounds=3,
                   outputs=("consensus", "participants", "dissenting")))
    result = await ex.execute(t)
    outputs = result.phases["Debate"].outputs
    assert len(result.phases["Debate"].answers) == 9
    assert outputs["participants"] == 3
    assert outputs["consensus"] == "bullish"
    assert outputs["dissenting"] == ["bear"]


async def test_agents_are_not_asked_for_what_the_phase_s_aggregate_computes() -> None:
    analyst = ScriptedAgent({"stance": "bullish", "technical": "uptrend"})
    ex = executor_with({"analyst": analyst})
    t = task(phase("Analysis", prompt("go"), aggregate("consensus"), agents=("analyst",),
                   outputs=("technical", "consensus", "dissenting", "agreement")))
    result = await ex.execute(t)
    assert [spec.name for spec in analyst.requests[0].outputs] == ["technical"]
    assert result.phases["Analysis"].outputs["technical"] == "uptrend"
    assert result.phases["Analysis"].outputs["consensus"] == "bullish"
