"""The committee's governance: red team, risk officer clamps, the chair's vote, the verdict's invariants."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from quorum.agents.builtin import get_specialist
from quorum.agents.builtin.evidence import evidence
from quorum.agents.function import coerce_response
from quorum.agents.protocol import AgentResponse
from quorum.ids import AgentId

from .harness import random_walk, request, run_committee, run_phase

pytestmark = pytest.mark.unit

BASE = {"ticker": "BTC", "amount": 10_000, "timeHorizon": "30 days", "riskTolerance": "medium"}
PRICES = random_walk(200, drift=0.002, vol=0.03)


def analyst(
    agent: str, stance: str, confidence: float, items: list[dict[str, Any]], **extra: Any
) -> AgentResponse:
    data = {
        "stance": stance,
        "confidence": confidence,
        "evidence": items,
        "rationale": f"{agent} view",
        **extra,
    }
    return coerce_response(AgentId(agent), data, latency_ms=0.0, model="test")


def ev(claim: str, direction: str, strength: float, agent: str) -> dict[str, Any]:
    return evidence(claim, direction, strength, metric=claim, value=None, source="test", agent=agent)


def analysis_phase(*answers: AgentResponse) -> dict[str, Any]:
    return {"Analysis": {"outputs": {}, "responses": {a.agent_id: a for a in answers}, "status": "completed"}}


# --- red team --------------------------------------------------------------------------------------------
def test_red_team_attacks_the_majority_with_its_strongest_counter_evidence() -> None:
    phases = analysis_phase(
        analyst(
            "technical-analyst",
            "bullish",
            0.8,
            [
                ev("trend up", "bullish", 0.9, "technical-analyst"),
                ev("rsi overbought", "bearish", 0.4, "technical-analyst"),
            ],
        ),
        analyst("macro-analyst", "bullish", 0.6, [ev("rates falling", "bullish", 0.6, "macro-analyst")]),
        analyst(
            "quant-risk-analyst",
            "bearish",
            0.5,
            [
                ev("var above budget", "bearish", 0.95, "quant-risk-analyst"),
                ev("vol above target", "bearish", 0.7, "quant-risk-analyst"),
                ev("small drawdown", "bearish", 0.1, "quant-risk-analyst"),
                ev("return/risk", "bullish", 0.5, "quant-risk-analyst"),
            ],
        ),
    )
    answer = get_specialist("red-team")(
        request("red-team", inputs=BASE, phases=phases, outputs=("challenges",))
    )
    challenge = answer["challenges"]
    assert challenge["majority"] == "bullish"
    assert challenge["majority_score"] == pytest.approx((0.8 + 0.6 - 0.5) / (0.8 + 0.6 + 0.5), abs=1e-4)
    assert [e["claim"] for e in challenge["counter_evidence"]] == [
        "var above budget",
        "vol above target",
        "rsi overbought",
    ]
    assert answer["stance"] == "bearish"
    assert answer["confidence"] == pytest.approx(0.95)
    assert answer["voting"] is False


def test_red_team_turns_on_a_bearish_majority_and_names_a_lone_backer() -> None:
    phases = analysis_phase(
        analyst(
            "technical-analyst",
            "bearish",
            0.9,
            [
                ev("trend down", "bearish", 0.9, "technical-analyst"),
                ev("oversold", "bullish", 0.45, "technical-analyst"),
            ],
        ),
        analyst("macro-analyst", "neutral", 0.0, [], abstained=True),
    )
    answer = get_specialist("red-team")(request("red-team", inputs=BASE, phases=phases))
    assert answer["challenges"]["majority"] == "bearish"
    assert answer["stance"] == "bullish"
    assert [e["claim"] for e in answer["challenges"]["counter_evidence"]] == ["oversold"]
    questions = " ".join(answer["challenges"]["questions"])
    assert "macro-analyst abstained" in questions
    assert "rests on technical-analyst alone" in questions


def test_red_team_without_a_majority_points_at_the_gaps() -> None:
    answer = get_specialist("red-team")(request("red-team", inputs=BASE))
    assert (answer["stance"], answer["challenges"]["majority"]) == ("neutral", "neutral")
    assert answer["challenges"]["counter_evidence"] == []
    assert "no price history" in answer["text"]


def test_advocates_argue_their_side_and_rebut_the_other() -> None:
    phases = analysis_phase(
        analyst("technical-analyst", "bullish", 0.8, [ev("trend up", "bullish", 0.9, "technical-analyst")]),
        analyst(
            "quant-risk-analyst",
            "bearish",
            0.5,
            [ev("var above budget", "bearish", 0.95, "quant-risk-analyst")],
        ),
    )
    bull = get_specialist("bull-advocate")(request("bull-advocate", inputs=BASE, phases=phases))
    assert [p["claim"] for p in bull["bull_case"]["points"]] == ["trend up"]
    bull_response = coerce_response(AgentId("bull-advocate"), bull, latency_ms=0.0, model="t")
    bear = get_specialist("bear-advocate")(
        request("bear-advocate", inputs=BASE, phases=phases, peers=[bull_response])
    )
    assert bear["stance"] == "bearish"
    assert bear["bear_case"]["rebuttal"].startswith("On trend up: var above budget")


# --- risk officer ----------------------------------------------------------------------------------------
def test_risk_officer_clamps_the_plan_and_logs_each_clamp() -> None:
    inputs = {**BASE, "prices": PRICES}
    phases: dict[str, Any] = {}
    run_phase(phases, "Activation", ["data-steward"], inputs, outputs=["snapshot"])
    phases["Round Table"] = {
        "outputs": {"plan": {"kind": "execution-plan", "proposed_amount": 10_000.0}},
        "responses": {},
        "status": "completed",
    }
    answer = get_specialist("risk-officer")(request("risk-officer", inputs=inputs, phases=phases))
    risk = answer["risk"]
    assert risk["proposed_amount"] == 10_000.0
    assert risk["clamps"]
    assert risk["clamps"][0]["before"] == 10_000.0
    assert answer["approved_cap"] == risk["clamps"][-1]["after"] < 10_000.0
    for clamp in risk["clamps"]:
        assert f"{clamp['rule']}: {clamp['before']:,.2f} -> {clamp['after']:,.2f}" in answer["text"]
    assert (answer["gate"], answer["voting"]) == ("CAP", False)  # a gate: it caps, it does not vote


def test_risk_officer_logs_each_clamp(caplog: pytest.LogCaptureFixture) -> None:
    inputs = {**BASE, "prices": PRICES}
    with caplog.at_level(logging.INFO, logger="quorum.agents.builtin.risk"):
        answer = get_specialist("risk-officer")(request("risk-officer", inputs=inputs))
    clamps = answer["risk"]["clamps"]
    assert clamps
    assert len(caplog.records) == len(clamps)
    assert f"{clamps[0]['before']:,.2f} -> {clamps[0]['after']:,.2f}" in caplog.records[0].getMessage()


def test_risk_officer_vetoes_outside_the_mandate_and_caps_unmeasured() -> None:
    low = {**BASE, "riskTolerance": "low", "prices": PRICES}  # ~57% volatility vs a 20% target
    vetoed = get_specialist("risk-officer")(request("risk-officer", inputs=low))
    assert (vetoed["gate"], vetoed["risk"]["veto"], vetoed["voting"]) == ("VETO", True, False)
    unmeasured = get_specialist("risk-officer")(request("risk-officer", inputs=BASE))
    assert (unmeasured["gate"], unmeasured["risk"]["veto"]) == ("CAP", False)
    assert unmeasured["approved_cap"] == 2_500.0  # no plan: the full amount asked, capped at 25% unmeasured


def test_compliance_vetoes_a_restricted_ticker_and_conditions_suitability() -> None:
    vetoed = get_specialist("compliance-officer")(
        request("compliance-officer", inputs={**BASE, "restricted": ["btc", "XRP"]})
    )
    assert (vetoed["vote"], vetoed["compliance"]["veto"]) == ("REJECT", True)
    low = get_specialist("compliance-officer")(
        request("compliance-officer", inputs={**BASE, "riskTolerance": "low"})
    )
    assert low["vote"] == "APPROVE"
    assert any("suitability" in c for c in low["compliance"]["conditions"])


# --- the chair -------------------------------------------------------------------------------------------
def _votes(*pairs: tuple[str, str]) -> dict[str, Any]:
    answers = [
        analyst(agent, {"APPROVE": "bullish", "REJECT": "bearish"}.get(v, "neutral"), 0.5, [], vote=v)
        for agent, v in pairs
    ]
    return analysis_phase(*answers)


@pytest.mark.parametrize(
    ("pairs", "outcome", "dissent"),
    [
        ((("a", "APPROVE"), ("b", "APPROVE"), ("c", "REJECT")), "approve", ["c"]),
        ((("a", "REJECT"), ("b", "REJECT"), ("c", "APPROVE"), ("d", "ABSTAIN")), "reject", ["c"]),
        ((("a", "APPROVE"), ("b", "REJECT")), "tie", []),
        ((("a", "APPROVE"), ("b", "ABSTAIN"), ("c", "ABSTAIN"), ("d", "ABSTAIN")), "no-quorum", []),
    ],
)
def test_chair_tallies_with_quorum_ties_and_dissent(
    pairs: tuple[tuple[str, str], ...], outcome: str, dissent: list[str]
) -> None:
    answer = get_specialist("committee-chair")(request("committee-chair", inputs=BASE, phases=_votes(*pairs)))
    assert answer["outcome"] == outcome
    assert [d["agent"] for d in answer["dissent"]] == dissent
    assert sum(answer["tally"].values()) == len(pairs)


def test_non_voting_answers_are_not_counted_and_a_veto_overrides() -> None:
    phases = _votes(("a", "APPROVE"), ("b", "APPROVE"))
    phases["Debate"] = {
        "outputs": {},
        "status": "completed",
        "responses": {"red-team": analyst("red-team", "bearish", 1.0, [], voting=False)},
    }
    answer = get_specialist("committee-chair")(request("committee-chair", inputs=BASE, phases=phases))
    assert answer["tally"] == {"APPROVE": 2, "REJECT": 0, "ABSTAIN": 0}
    phases["Validation"] = {
        "outputs": {"compliance": {"kind": "compliance-review", "veto": True}},
        "responses": {},
        "status": "completed",
    }
    answer = get_specialist("committee-chair")(request("committee-chair", inputs=BASE, phases=phases))
    assert answer["outcome"] == "vetoed"


# --- the verdict -----------------------------------------------------------------------------------------
CASES = [
    {**BASE, "prices": PRICES},
    BASE,
    {**BASE, "riskTolerance": "low", "prices": PRICES},
    {**BASE, "riskTolerance": "high", "amount": 250_000, "prices": random_walk(300, seed=11, drift=0.003)},
    {
        **BASE,
        "ticker": "AAPL",
        "timeHorizon": "6 months",
        "prices": random_walk(120, seed=5, vol=0.01),
        "portfolioValue": 50_000,
        "news": ["Apple beats estimates"],
        "macro": {"rate_trend": "falling"},
        "fundamentals": {"revenue_growth": 0.08, "pe_ratio": 28},
    },
    {**BASE, "prices": random_walk(150, seed=2, drift=-0.004)},
    {**BASE, "prices": PRICES, "restricted": ["BTC"]},
]


@pytest.mark.parametrize("inputs", CASES)
def test_verdict_invariants(inputs: dict[str, Any]) -> None:
    verdict, phases = run_committee(inputs)
    cap = phases["Validation"]["outputs"]["approved_cap"]
    outcome = phases["Consensus"]["outputs"]["outcome"]
    decision, approved = verdict["decision"], verdict["approved_amount"]
    assert decision in ("APPROVE", "APPROVE_WITH_CONDITIONS", "REJECT", "DEFER")
    assert 0 <= approved <= cap <= inputs["amount"]
    assert verdict["votes"]["outcome"] == outcome
    tally = verdict["votes"]["tally"]
    if decision.startswith("APPROVE"):
        assert outcome == "approve"
        assert tally["APPROVE"] > tally["REJECT"]
        assert approved > 0
        assert sum(t["amount"] for t in verdict["tranches"]) == pytest.approx(approved, abs=0.011)
        assert (decision == "APPROVE") == (not verdict["conditions"])
    else:
        assert approved == 0
        assert verdict["tranches"] == []
    if outcome in ("reject", "vetoed"):
        assert decision == "REJECT"
    if outcome in ("tie", "no-quorum"):
        assert decision == "DEFER"
    assert 0 <= verdict["conviction"] <= 100
    stop = verdict["risk"]["stop_loss"]["fraction"]
    assert verdict["risk"]["loss_at_stop"]["amount"] <= approved * stop + 0.01
    for risk in verdict["risk"]["key_risks"]:
        assert set(risk) == {"risk", "likelihood", "impact", "mitigant", "source"}
        assert risk["likelihood"] in ("low", "medium", "high")
        if not risk["risk"].startswith("decision taken with a data gap"):
            # money at risk is stated on the approved amount, or on the requested one when none was approved
            size = approved or inputs["amount"]
            assert risk["impact"].startswith(f"on {size:,.2f}: loss up to ")
    for key in ("decision", "approved_amount", "risk.var95", "risk.stop_loss", "votes", "conviction"):
        assert verdict["sources"][key]
    assert verdict["validation"]["total"] == len(verdict["validation"]["checks"]) > 0
    assert verdict["review"]["date"] is not None
    assert verdict["review"]["triggers"]


def test_without_prices_the_committee_defers_and_says_why() -> None:
    verdict, _ = run_committee(BASE)
    assert (verdict["decision"], verdict["approved_amount"]) == ("DEFER", 0.0)
    assert verdict["risk"]["annual_volatility"] is None
    assert verdict["risk"]["var95"] is None
    assert any("price history" in c for c in verdict["conditions"])
    assert verdict["review"]["date"] == "2026-01-20"  # from the execution start (2026-01-05) + 15 days


def test_a_restricted_ticker_is_rejected() -> None:
    verdict, _ = run_committee({**BASE, "prices": PRICES, "restricted": ["BTC"]})
    assert (verdict["decision"], verdict["approved_amount"]) == ("REJECT", 0.0)


def test_the_committee_is_deterministic() -> None:
    first, _ = run_committee({**BASE, "prices": PRICES})
    second, _ = run_committee({**BASE, "prices": PRICES})
    assert first == second


def test_the_portfolio_manager_applies_the_rules_itself_when_run_alone() -> None:
    verdict = get_specialist("portfolio-manager")(
        request("portfolio-manager", inputs={**BASE, "prices": PRICES})
    )
    assert "applying the risk-officer rules" in verdict["sources"]["approved_amount"]
    assert "applying the committee-chair rules" in verdict["sources"]["votes"]
    assert verdict["decision"] == "DEFER"  # no analyst answers in the context: no quorum


def test_members_without_data_do_not_block_the_quorum() -> None:
    answers = [
        analyst("a", "bearish", 0.6, [ev("falling", "bearish", 0.6, "a")], vote="REJECT"),
        analyst("b", "bearish", 0.4, [], vote="REJECT"),
    ]
    answers += [analyst(n, "neutral", 0.0, [], abstained=True) for n in ("c", "d", "e", "f")]
    answer = get_specialist("committee-chair")(
        request("committee-chair", inputs=BASE, phases=analysis_phase(*answers))
    )
    assert answer["votes"]["quorum"] == {"present": 2, "needed": 2, "cast": 2, "met": True}
    assert answer["outcome"] == "reject"
    # conviction = agreement 1 x evidence strength 1 (all of it bearish) x data sufficiency 0.5 (no prices)
    assert answer["votes"]["conviction"] == 50
    alone = get_specialist("committee-chair")(
        request("committee-chair", inputs=BASE, phases=analysis_phase(*answers[:1], *answers[2:]))
    )
    assert alone["outcome"] == "no-quorum"  # one voice is never a quorum


def test_an_llm_analyst_without_evidence_still_counts_toward_conviction() -> None:
    llm = coerce_response(
        AgentId("technical-analyst"),
        {"stance": "bullish", "confidence": 0.8, "technical": {"trend": "up"}, "rationale": "trend up"},
        latency_ms=0.0,
        model="openai:some-model",
    )
    risk = analyst("risk-officer", "bullish", 0.9, [], approved_cap=1.0, vote="APPROVE")
    phases = analysis_phase(llm, risk)
    plan = get_specialist("execution-strategist")(request("execution-strategist", inputs=BASE, phases=phases))
    assert [b["agent"] for b in plan["plan"]["basis"]] == ["technical-analyst"]
    assert plan["plan"]["requested_fraction"] == 1.0  # net conviction +1: the full amount is requested
