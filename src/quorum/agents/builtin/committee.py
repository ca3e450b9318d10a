"""The committee chair: the vote, with tally, quorum and dissent.

Voting members are the agents whose answers do not say ``voting: False`` (the analysts in the shipped
workflow; advocates, the red team, the strategist, intake and the steward argue or serve; the risk and
compliance officers are gates: they cap or veto, they do not vote). Each member's *latest*
answer counts once:

- its explicit ``vote`` (APPROVE / REJECT / ABSTAIN) when it gave one, else bullish -> APPROVE,
  bearish -> REJECT, neutral or abstained -> ABSTAIN;
- **quorum**: at least half (rounded up) of the members *present* cast APPROVE or REJECT, and at least
  two do; a member who abstained for lack of data (``abstained: true``) is not present. Else the outcome
  is ``no-quorum``;
- **outcome**: more APPROVE than REJECT -> ``approve``, more REJECT -> ``reject``, a tie -> ``tie``
  (the committee does not act on a tie); a compliance or risk veto -> ``vetoed`` whatever the count;
- **dissent**: the members who voted against the outcome, with their reasons;
- **conviction** (0..100) = agreement x evidence strength x data sufficiency: agreement is the
  confidence share behind the outcome among the votes cast; evidence strength the absolute net score of
  the directional evidence the voters published (strength-weighted, in [0, 1]); data sufficiency the
  closes over ``policy.full_confidence_observations`` (at most 1; 0.5 without a price history).
  Participation does not raise it: ten members agreeing on weak evidence are still weak evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from quorum.agents.builtin.context import find_artifact, latest_by_agent, opinions, respond
from quorum.agents.builtin.evidence import net_score
from quorum.agents.protocol import AgentRequest

__all__ = ("committee_chair", "tally_votes")

VOTES = ("APPROVE", "REJECT", "ABSTAIN")
_FROM_STANCE = {"bullish": "APPROVE", "bearish": "REJECT", "neutral": "ABSTAIN"}


def tally_votes(request: AgentRequest) -> dict[str, Any]:
    """Count the latest vote of every voting member found in the context (see the module doc)."""
    votes: list[dict[str, Any]] = []
    for op in sorted(latest_by_agent(opinions(request)).values(), key=lambda o: o.agent):
        if op.data.get("voting", True) is False or op.agent == str(request.agent_id) or _informs(op.data):
            continue
        explicit = op.data.get("vote")
        vote = explicit if explicit in VOTES else "ABSTAIN" if op.abstained else _FROM_STANCE[op.stance]
        votes.append(
            {
                "agent": op.agent,
                "vote": vote,
                "stance": op.stance,
                "confidence": op.confidence,
                "phase": op.phase,
                "abstained": op.abstained,
                "reason": str(op.data.get("rationale") or "")[:300],
            }
        )
    tally = {v: sum(1 for x in votes if x["vote"] == v) for v in VOTES}
    cast = tally["APPROVE"] + tally["REJECT"]
    present = sum(1 for v in votes if not v["abstained"])
    needed = max(2, math.ceil(present / 2))
    compliance = find_artifact(request, "compliance-review")
    risk = find_artifact(request, "risk-decision")
    vetoed_by = [
        who
        for who, art in (("compliance-officer", compliance), ("risk-officer", risk))
        if art is not None and art.get("veto")
    ]
    if vetoed_by:
        outcome = "vetoed"
    elif cast < needed:
        outcome = "no-quorum"
    elif tally["APPROVE"] > tally["REJECT"]:
        outcome = "approve"
    elif tally["REJECT"] > tally["APPROVE"]:
        outcome = "reject"
    else:
        outcome = "tie"
    against = {"approve": "REJECT", "reject": "APPROVE", "vetoed": "APPROVE"}.get(outcome)
    dissent = [
        {"agent": v["agent"], "vote": v["vote"], "reason": v["reason"]} for v in votes if v["vote"] == against
    ]
    side = {"approve": "APPROVE", "reject": "REJECT"}.get(outcome)
    weight_all = math.fsum(v["confidence"] for v in votes if v["vote"] != "ABSTAIN")
    weight_side = math.fsum(v["confidence"] for v in votes if v["vote"] == side)
    strength, sufficiency = _evidence_strength(request, votes), _sufficiency(request)
    agreement = weight_side / weight_all if side and weight_all else 0.0
    conviction = round(100 * agreement * strength * sufficiency)
    return {
        "kind": "committee-vote",
        "votes": votes,
        "tally": tally,
        "members": len(votes),
        "quorum": {"present": present, "needed": needed, "cast": cast, "met": cast >= needed},
        "outcome": outcome,
        "dissent": dissent,
        "conviction": conviction,
        "conviction_parts": {
            "agreement": round(agreement, 4),
            "evidence_strength": round(strength, 4),
            "data_sufficiency": round(sufficiency, 4),
        },
        "vetoed_by": vetoed_by,
        "agreement": round(max(tally["APPROVE"], tally["REJECT"]) / cast, 4) if cast else 0.0,
        "rules": "latest vote per member; quorum = half the members present (at least 2) voting for or "
        "against; ties and no quorum defer; a compliance or risk veto rejects; conviction = agreement x "
        "evidence strength x data sufficiency",
    }


def _informs(data: Mapping[str, Any]) -> bool:
    """The risk officer's cap and the quantitative risk analyst's report: gates and inputs, not votes,
    whatever model answered (an LLM's answer carries its outputs, not ``voting: False``)."""
    return "approved_cap" in data or "quant_risk" in data


def _evidence_strength(request: AgentRequest, votes: list[dict[str, Any]]) -> float:
    voters = {v["agent"] for v in votes}
    items = [
        e
        for op in latest_by_agent(opinions(request)).values()
        if op.agent in voters
        for e in op.data.get("evidence", ())
        if isinstance(e, Mapping)
    ]
    return abs(net_score(items)) if items else 0.0


def _sufficiency(request: AgentRequest) -> float:
    snap = find_artifact(request, "market-snapshot")
    if snap is None:
        return 0.5
    prices, policy = snap.get("prices"), snap.get("policy") or {}
    if not prices:
        return 0.5
    full = float(policy.get("full_confidence_observations") or 120)
    return min(1.0, float(prices.get("observations") or 0) / full)


def committee_chair(request: AgentRequest) -> dict[str, Any]:
    result = tally_votes(request)
    t = result["tally"]
    stance = {"approve": "bullish", "reject": "bearish", "vetoed": "bearish"}.get(
        result["outcome"], "neutral"
    )
    dissent = "; ".join(f"{d['agent']} ({d['vote']})" for d in result["dissent"]) or "none"
    text = (
        f"Vote of {result['members']} members: {t['APPROVE']} approve, {t['REJECT']} reject, "
        f"{t['ABSTAIN']} abstain; quorum {result['quorum']['cast']}/{result['quorum']['needed']} "
        f"{'met' if result['quorum']['met'] else 'not met'}. Outcome: {result['outcome']}. "
        f"Dissent: {dissent}. "
        + (f"Vetoed by {', '.join(result['vetoed_by'])}. " if result["vetoed_by"] else "")
        + f"Conviction {result['conviction']}/100."
    )
    return respond(
        request,
        stance=stance,
        confidence=result["conviction"] / 100,
        recommendation=result["outcome"],
        rationale=text,
        text=text,
        fields={
            "votes": result,
            "tally": t,
            "dissent": result["dissent"],
            "outcome": result["outcome"],
            "consensus": stance,
            "voting": False,
        },
    )
