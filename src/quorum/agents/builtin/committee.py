"""The committee chair: the vote, with tally, quorum and dissent.

Voting members are the agents whose answers do not say ``voting: False`` (the analysts and the risk
officer in the shipped workflow; advocates, the red team, the strategist, intake, the steward and the
compliance officer, who clears or vetoes, argue or serve: they do not vote). Each member's *latest*
answer counts once:

- its explicit ``vote`` (APPROVE / REJECT / ABSTAIN) when it gave one, else bullish -> APPROVE,
  bearish -> REJECT, neutral or abstained -> ABSTAIN;
- **quorum**: at least half (rounded up) of the members *present* cast APPROVE or REJECT, and at least
  two do; a member who abstained for lack of data (``abstained: true``) is not present. Else the outcome
  is ``no-quorum``;
- **outcome**: more APPROVE than REJECT -> ``approve``, more REJECT -> ``reject``, a tie -> ``tie``
  (the committee does not act on a tie); a compliance veto -> ``vetoed`` whatever the count;
- **dissent**: the members who voted against the outcome, with their reasons.
"""

from __future__ import annotations

import math
from typing import Any

from quorum.agents.builtin.context import find_artifact, latest_by_agent, opinions, respond
from quorum.agents.protocol import AgentRequest

__all__ = ("committee_chair", "tally_votes")

VOTES = ("APPROVE", "REJECT", "ABSTAIN")
_FROM_STANCE = {"bullish": "APPROVE", "bearish": "REJECT", "neutral": "ABSTAIN"}


def tally_votes(request: AgentRequest) -> dict[str, Any]:
    """Count the latest vote of every voting member found in the context (see the module doc)."""
    votes: list[dict[str, Any]] = []
    for op in sorted(latest_by_agent(opinions(request)).values(), key=lambda o: o.agent):
        if op.data.get("voting", True) is False or op.agent == str(request.agent_id):
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
    if compliance is not None and compliance.get("veto"):
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
    weight_all = sum(v["confidence"] for v in votes if v["vote"] != "ABSTAIN")
    weight_side = sum(v["confidence"] for v in votes if v["vote"] == side)
    participation = cast / present if present else 0.0
    # Conviction: the confidence share behind the outcome, times the share of members present who took a side.
    conviction = round(100 * weight_side / weight_all * participation) if side and weight_all else 0
    return {
        "kind": "committee-vote",
        "votes": votes,
        "tally": tally,
        "members": len(votes),
        "quorum": {"present": present, "needed": needed, "cast": cast, "met": cast >= needed},
        "outcome": outcome,
        "dissent": dissent,
        "conviction": conviction,
        "agreement": round(max(tally["APPROVE"], tally["REJECT"]) / cast, 4) if cast else 0.0,
        "rules": "latest vote per member; quorum = half the members present (at least 2) voting for or "
        "against; ties and no quorum defer; a compliance veto rejects",
    }


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
        f"Conviction {result['conviction']}/100."
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
