"""The debate and the plan: bull advocate, bear advocate, red team, execution strategist.

Advocates and the red team argue assigned positions, so they do not vote (``voting: False``); their
arguments are the analysts' evidence, re-ranked. The red team finds the *majority* view of the analysts
(confidence-weighted stances) and attacks it with the strongest opposite evidence and the data the
majority lacks. The execution strategist turns the analysts' net conviction into a requested amount
("conviction requests") and tranches, which the risk officer then caps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin.context import Opinion, latest_by_agent, money, opinions, respond
from quorum.agents.builtin.evidence import stance_of
from quorum.agents.builtin.sizing import tranche_schedule
from quorum.agents.builtin.snapshot import snapshot_for
from quorum.agents.protocol import AgentRequest

__all__ = (
    "analyst_views",
    "bear_advocate",
    "bull_advocate",
    "execution_strategist",
    "majority_view",
    "red_team",
)

_SIGN = {"bullish": 1.0, "bearish": -1.0, "neutral": 0.0}
_OPPOSITE = {"bullish": "bearish", "bearish": "bullish", "neutral": "neutral"}


# The report keys analysts publish (the Analysis phase's declared outputs): an LLM analyst that fills its
# report but no evidence list still counts as an analyst.
_ANALYST_TOPICS = ("technical", "fundamental", "sentiment", "macro", "quant_risk", "technicals")


def _is_analyst(op: Opinion) -> bool:
    data = op.data
    if "approved_cap" in data:  # the risk officer gates, it does not analyse
        return False
    if any(k in data for k in _ANALYST_TOPICS):  # the quantitative risk analyst informs without voting
        return True
    return data.get("voting", True) is not False and isinstance(data.get("evidence"), Sequence)


def analyst_views(request: AgentRequest) -> list[Opinion]:
    """The latest answer of each analyst: a voting agent publishing evidence or an analyst's report."""
    return [op for op in latest_by_agent(opinions(request)).values() if _is_analyst(op)]


def _evidence(views: Sequence[Opinion]) -> list[Mapping[str, Any]]:
    items: list[Mapping[str, Any]] = []
    for op in views:
        items.extend(e for e in op.data.get("evidence", ()) if isinstance(e, Mapping))
    # strongest first; ties broken by claim text so that the order never depends on scheduling
    return sorted(items, key=lambda e: (-float(e.get("strength") or 0.0), str(e.get("claim"))))


def majority_view(views: Sequence[Opinion]) -> tuple[str, float]:
    """Confidence-weighted stance of the analysts who did not abstain, and its net score in [-1, 1]."""
    num = den = 0.0
    for op in views:
        if op.abstained:
            continue
        num += _SIGN[op.stance] * op.confidence
        den += op.confidence
    score = num / den if den else 0.0
    return stance_of(score, 0.0 if den else 1.0), score


def _advocate(request: AgentRequest, side: str) -> dict[str, Any]:
    views = analyst_views(request)
    items = [e for e in _evidence(views) if e.get("direction") == side]
    key = "bull_case" if side == "bullish" else "bear_case"
    other = "bear-advocate" if side == "bullish" else "bull-advocate"
    opposing = [p for p in request.peers if p.agent_id == other and p.ok]
    rebuttal = ""
    if opposing:
        case = opposing[-1].data.get("bear_case" if side == "bullish" else "bull_case")
        points = case.get("points") if isinstance(case, Mapping) else None
        if points and items:
            target = points[0]
            same_metric = [e for e in items if e.get("metric") == target.get("metric")]
            answer = (same_metric or items)[0]
            rebuttal = (
                f"On {target.get('claim')!s}: {answer.get('claim')!s} (strength {answer.get('strength')})."
            )
    top = items[:3]
    if not top:
        text = f"No {side} evidence in the record: the {side} case cannot be made from the data supplied."
        return respond(
            request,
            stance="neutral",
            confidence=0.0,
            recommendation="no case to make",
            rationale=text,
            text=text,
            fields={
                key: {"kind": key.replace("_", "-"), "points": [], "rebuttal": rebuttal},
                "voting": False,
            },
        )
    confidence = math.fsum(float(e["strength"]) for e in top) / len(top)
    claims = "; ".join(f"{e['claim']} ({e['agent']})" for e in top)
    text = f"The {side} case: {claims}." + (f" Rebuttal — {rebuttal}" if rebuttal else "")
    return respond(
        request,
        stance=side,
        confidence=confidence,
        recommendation="buy" if side == "bullish" else "do not buy",
        rationale=f"{len(items)} {side} evidence items; the three strongest: {claims}.",
        text=text,
        fields={
            key: {"kind": key.replace("_", "-"), "points": top, "rebuttal": rebuttal, "round": request.round},
            "voting": False,
        },
    )


def bull_advocate(request: AgentRequest) -> dict[str, Any]:
    return _advocate(request, "bullish")


def bear_advocate(request: AgentRequest) -> dict[str, Any]:
    return _advocate(request, "bearish")


def red_team(request: AgentRequest) -> dict[str, Any]:
    views = analyst_views(request)
    majority, score = majority_view(views)
    snap = snapshot_for(request)
    abstained = sorted(op.agent for op in views if op.abstained)
    gaps = list(snap["data_gaps"])
    questions = [f"{a} abstained: is the majority view robust without it?" for a in abstained]
    if majority == "neutral":
        counter: list[Mapping[str, Any]] = []
        text = (
            "There is no majority view to attack: the analysts are split or abstained. "
            "Acting now would rest on "
            f"missing data: {'; '.join(gaps) or 'none listed'}."
        )
        stance = "neutral"
        confidence = 0.3 if gaps else 0.1
    else:
        counter = [e for e in _evidence(views) if e.get("direction") == _OPPOSITE[majority]][:3]
        backers = sorted(op.agent for op in views if op.stance == majority and not op.abstained)
        if len(backers) == 1:
            questions.append(f"the {majority} majority rests on {backers[0]} alone")
        if counter:
            stance = _OPPOSITE[majority]
            confidence = float(counter[0]["strength"])
            text = f"Against the {majority} majority ({score:+.2f}): " + "; ".join(
                f"{e['claim']} ({e['agent']}, strength {e['strength']})" for e in counter
            )
        else:
            stance, confidence = "neutral", 0.2
            text = f"The {majority} majority ({score:+.2f}) meets no counter-evidence in the record"
        text += f". Open questions: {'; '.join(questions) or 'none'}."
    challenge = {
        "kind": "red-team-challenge",
        "majority": majority,
        "majority_score": round(score, 4),
        "counter_evidence": list(counter),
        "questions": questions,
        "data_gaps": gaps,
        "round": request.round,
    }
    return respond(
        request,
        stance=stance,
        confidence=confidence,
        recommendation="challenge the majority" if counter else "no strong challenge",
        rationale=text,
        text=text,
        fields={"challenges": challenge, "voting": False},
    )


def execution_strategist(request: AgentRequest) -> dict[str, Any]:
    """Requested amount = amount * min(1, policy.request_base_fraction + net conviction) when the analysts
    lean bullish, else 0."""
    snap = snapshot_for(request)
    views = [op for op in analyst_views(request) if not op.abstained]
    _, net = majority_view(views)
    base = float((snap.get("policy") or {}).get("request_base_fraction", 0.5))
    fraction = min(1.0, base + net) if net > 0 else 0.0
    proposed = snap["amount"] * fraction
    tranches = tranche_schedule(proposed, snap["limits"]["tranches"], snap["horizon"]["calendar_days"])
    basis = [{"agent": op.agent, "stance": op.stance, "confidence": op.confidence} for op in views]
    last = snap["metrics"]["last_close"]
    entry = (
        f"limit orders near the last close {last:g}, no chasing above the short moving average"
        if last is not None
        else "no price history: enter only after a price record is available"
    )
    plan = {
        "kind": "execution-plan",
        "net_conviction": round(net, 4),
        "requested_fraction": round(fraction, 4),
        "proposed_amount": round(proposed, 2),
        "tranches": tranches,
        "entry": entry,
        "basis": basis,
    }
    if views:
        text = (
            f"Net analyst conviction {net:+.2f} from {len(views)} analysts: request {money(proposed)} "
            f"({fraction:.0%} of {money(snap['amount'])}) in {len(tranches)} tranches; {entry}."
        )
    else:
        text = "No analyst took a view, so nothing is requested."
    return respond(
        request,
        stance=stance_of(net),
        confidence=min(1.0, abs(net)) if views else 0.0,
        recommendation=f"request {money(proposed)}" if proposed else "request nothing",
        rationale=text,
        text=text,
        fields={"plan": plan, "voting": False},
        abstained=not views,
    )
