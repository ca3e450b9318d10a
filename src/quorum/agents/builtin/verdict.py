"""The portfolio manager: the committee's verdict, within the risk officer's caps.

Decision rule (documented, and tested as invariants):

- ``vetoed`` (compliance or risk) or ``reject`` -> REJECT, approved amount 0;
- ``no-quorum`` or ``tie`` -> DEFER, naming the split or who abstained;
- ``approve`` without positive expected-return evidence (the return analysts' net score below
  ``policy.min_expected_return_score``), or with an expected return that does not beat the hurdle -> DEFER;
- ``approve`` with a risk cap of 0 -> DEFER (nothing was requested or no size fits the caps);
- ``approve`` otherwise -> APPROVE when no clamp fired and no condition applies, else
  APPROVE_WITH_CONDITIONS; the approved amount is the risk officer's cap (never more), in tranches.

The rating (Buy .. Sell) and the trade follow ``memo``: a holding can be reduced or sold whatever the
buy decision. The memo (thesis, cases, scenarios, exit plan, hurdle, data notes) rides in the verdict.

Every number carries its provenance in ``sources``: the agent and the data that produced it. When an
earlier role's answer is missing from the context (a customised workflow), the manager applies that
role's rules itself and says so in ``sources``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from quorum.agents.builtin.committee import tally_votes
from quorum.agents.builtin.context import find_artifact, input_of, meeting_time, money, pct, respond
from quorum.agents.builtin.governance import compliance_review, proposed_amount
from quorum.agents.builtin.memo import cases, exit_plan, rating_for, return_evidence, scenarios, thesis
from quorum.agents.builtin.sizing import risk_caps, tranche_schedule
from quorum.agents.builtin.snapshot import snapshot_for
from quorum.agents.protocol import AgentRequest

__all__ = ("portfolio_manager",)

_MITIGANTS = {
    "annual_volatility": "volatility-targeted size and tranches",
    "var95": "stop loss and a loss budget that caps the size",
    "max_drawdown": "stop loss below the entry; no averaging down",
    "return_to_risk": "review at the review date; exit on invalidation",
    "rsi_14": "staggered entry in tranches instead of one order",
    "headline_sentiment": "review when news triggers fire",
}


def _artifact(request: AgentRequest, kind: str, fallback: Any, who: str) -> tuple[Mapping[str, Any], str]:
    found = find_artifact(request, kind)
    if found is not None:
        return found, str(found.get("produced_by", who))
    return fallback(), f"portfolio-manager (applying the {who} rules: no {who} answer found)"


def _likelihood(strength: float) -> str:
    return "high" if strength >= 0.66 else "medium" if strength >= 0.33 else "low"


def _key_risks(
    request: AgentRequest, snap: Mapping[str, Any], caps: Mapping[str, Any], size: float
) -> list[dict[str, Any]]:
    """The bearish evidence (red team first, then the bear case), one risk per metric, then the data gaps.

    Impacts are money on ``size``: the approved amount, or the requested one when nothing was approved.
    """
    challenge = find_artifact(request, "red-team-challenge")
    items = list(challenge.get("counter_evidence", ())) if challenge else []
    bear = find_artifact(request, "bear-case")
    items += list(bear.get("points", ())) if bear else []
    seen: set[str] = set()
    risks: list[dict[str, Any]] = []
    loss = size * caps["stop_loss"]["fraction"]
    tail = size * caps["cvar95"]["fraction"] if caps["cvar95"] else None
    for e in sorted(items, key=lambda e: (-float(e.get("strength") or 0), str(e.get("claim")))):
        metric = str(e.get("metric"))
        if e.get("direction") != "bearish" or metric in seen:
            continue
        seen.add(metric)
        risks.append(
            {
                "risk": str(e.get("claim")),
                "likelihood": _likelihood(float(e.get("strength") or 0)),
                "impact": f"on {money(size)}: loss up to {money(loss)} at the stop"
                + (f", {money(tail)} in a tail event (CVaR95)" if tail is not None else ""),
                "mitigant": _MITIGANTS.get(metric, "tranches, stop loss and the review triggers"),
                "source": f"{e.get('agent')} ({e.get('source')})",
            }
        )
    risks.extend(
        {
            "risk": f"decision taken with a data gap: {gap}",
            "likelihood": "medium" if "price" in gap else "low",
            "impact": "unmeasured" if "price" in gap else "a factor the committee could not weigh",
            "mitigant": "re-run the committee with the missing input before adding to the position",
            "source": "data-steward snapshot (data_gaps)",
        }
        for gap in snap["data_gaps"]
    )
    return risks[:8]


def _started_on(request: AgentRequest) -> dt.date | None:
    started = meeting_time(request)
    return None if started is None else started.date()


def _review(request: AgentRequest, snap: Mapping[str, Any]) -> dict[str, Any]:
    days = max(1, min(30, snap["horizon"]["calendar_days"] // 2))
    as_of: dt.date | None = None
    basis = "no dated price and no execution start time"
    if snap["prices"] is not None:
        try:
            as_of = dt.date.fromisoformat(str(snap["prices"]["last_date"])[:10])
            basis = "last price date"
        except ValueError:
            as_of = None
    if as_of is None:
        as_of = _started_on(request)
        basis = "execution start" if as_of else basis
    return {
        "after_days": days,
        "date": (as_of + dt.timedelta(days=days)).isoformat() if as_of else None,
        "basis": f"half the horizon, at most 30 days, from the {basis}",
    }


def portfolio_manager(request: AgentRequest) -> dict[str, Any]:
    snap = snapshot_for(request)
    ticker, limits, m = snap["ticker"], snap["limits"], snap["metrics"]
    agent = str(request.agent_id)
    proposed, plan_source = proposed_amount(request, snap)
    caps, caps_by = _artifact(
        request, "risk-decision", lambda: risk_caps(snap, proposed, agent=agent), "risk-officer"
    )
    review, compliance_by = _artifact(
        request,
        "compliance-review",
        lambda: compliance_review(snap, input_of(request), agent=agent),
        "compliance-officer",
    )
    vote, vote_by = _artifact(request, "committee-vote", lambda: tally_votes(request), "committee-chair")
    outcome, cap = vote["outcome"], float(caps["approved_cap"])
    conditions = list(review["conditions"]) + [
        f"size limited by the {c['rule']} rule: {money(c['before'])} -> {money(c['after'])}"
        for c in caps["clamps"]
    ]
    policy = snap["policy"]
    flags = list(snap.get("quality_flags", ()))
    # stale or flat data is never acted on; an outlier tick is a condition to verify before trading
    blocking = [f for f in flags if f["kind"] in ("stale", "flat")]
    conditions += [
        f"verify the {f['date'] or 'flagged'} bar before trading: {f['message']}"
        for f in flags
        if f["kind"] == "outlier"
    ]
    score, items, return_analysts = return_evidence(request)
    model = scenarios(
        snap, score=score, stop=caps["stop_loss"]["fraction"], size=cap or float(snap["amount"])
    )
    if outcome == "vetoed":
        decision, why = (
            "REJECT",
            f"vetoed by {', '.join(vote.get('vetoed_by') or ['a gate'])}"
            + (f": {caps['veto_reason']}" if caps.get("veto_reason") else ""),
        )
    elif outcome == "reject":
        decision, why = "REJECT", "the committee voted against: " + _split(vote)
    elif blocking:
        decision, why = (
            "DEFER",
            "the data cannot carry a decision: " + "; ".join(f["message"] for f in blocking),
        )
    elif outcome == "tie":
        decision, why = "DEFER", "the vote split evenly: " + _split(vote)
    elif outcome == "no-quorum":
        q = vote["quorum"]
        abstained = [v["agent"] for v in vote["votes"] if v["vote"] == "ABSTAIN"]
        decision, why = (
            "DEFER",
            (
                f"no quorum: {q['cast']} of {q['present']} members present took a side, {q['needed']} needed"
                + (f"; abstained: {', '.join(abstained)}" if abstained else "")
            ),
        )
    elif score < policy["min_expected_return_score"]:
        decision, why = (
            "DEFER",
            (
                "no positive expected-return evidence: the return analysts "
                f"({', '.join(return_analysts) or 'none'}) net {score:+.2f}, below "
                f"policy.min_expected_return_score {policy['min_expected_return_score']:g}"
            ),
        )
    elif model is not None and not model["beats_hurdle"]:
        decision, why = (
            "DEFER",
            (
                f"the expected return {pct(model['expected_return'])} does not beat the hurdle "
                f"{pct(model['hurdle'])} ({policy['benchmark']}, policy.hurdle_rate)"
            ),
        )
    elif cap <= 0 and float(caps["proposed_amount"]) <= 0:
        decision, why = "DEFER", "approved by vote, but the analysts' weighted conviction requested nothing"
    elif cap <= 0:
        decision, why = "DEFER", "approved in principle, but no size fits the risk caps"
    elif conditions:
        decision, why = "APPROVE_WITH_CONDITIONS", f"approved by majority with {len(conditions)} conditions"
    else:
        decision, why = "APPROVE", "approved by majority, within every limit"
    approved = cap if decision.startswith("APPROVE") else 0.0
    # a deferral decides nothing, so it carries no conviction; an approval or rejection carries the vote's
    conviction = 0 if decision == "DEFER" else int(vote["conviction"])
    tranches = tranche_schedule(approved, limits["tranches"], snap["horizon"]["calendar_days"])
    stop = caps["stop_loss"]
    stop_text = (
        f"stop {money(stop['price'])}" if stop["price"] is not None else f"stop {pct(stop['fraction'])}"
    )
    rating = rating_for(score, policy, approved=approved > 0)
    held = float(snap.get("position", {}).get("value") or 0.0)
    trade = _trade(rating, approved, held, policy)
    if trade["side"] == "buy":
        action = f"BUY {ticker}: {money(approved)} in {len(tranches)} tranches, {stop_text}" + (
            ", once the conditions are met" if decision == "APPROVE_WITH_CONDITIONS" else ""
        )
    elif trade["side"] == "sell":
        action = f"SELL {ticker}: {money(trade['amount'])} of the {money(held)} held ({rating})"
    elif decision == "DEFER":
        action = f"WAIT: no new position in {ticker} until the committee re-convenes"
    else:
        action = f"NO TRADE in {ticker}" + (f"; keep the {money(held)} held" if held else "")
    invalidation = [f"the price closes below the stop loss ({stop_text})"] if approved else []
    if m["sma_long"] is not None:
        invalidation.append(
            f"the price closes below its {m['sma_windows'][1]}-period average {m['sma_long']:g}"
        )
    if m["annual_volatility"] is not None:
        invalidation.append(
            f"annualised volatility rises above {pct(1.5 * m['annual_volatility'])} (1.5x today)"
        )
    else:
        invalidation.append(
            f"a price record shows volatility above the {pct(limits['target_volatility'], 0)} target"
        )
    invalidation.append(f"{ticker} is added to the restricted list")
    rev = _review(request, snap)
    rev["triggers"] = [
        "stop loss hit or an invalidation criterion met",
        f"a daily move larger than the one-day VaR95 ({pct(m['var95']['one_day'])})"
        if m["var95"]
        else "a price history becomes available",
        "a material news event or a change in the macro backdrop",
    ]

    def at_size(part: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if part is None:
            return None
        return {**part, "amount": round(float(part["fraction"]) * approved, 2)}

    risk = {
        "stop_loss": stop,
        "loss_at_stop": {
            "amount": round(approved * stop["fraction"], 2),
            "fraction_of_amount": approved * stop["fraction"] / float(snap["amount"]),
        },
        "gap_risk": at_size(caps.get("gap_risk")),
        "costs": at_size(caps.get("costs")),
        "annual_volatility": caps["annual_volatility"],
        "volatility": caps.get("volatility"),
        "var95": at_size(caps["var95"]),
        "cvar95": at_size(caps["cvar95"]),
        "key_risks": _key_risks(request, snap, caps, approved or float(snap["amount"])),
    }
    bull, bear = cases(request)
    steward = snap.get("produced_by") or snap.get("computed_by", "data-steward")
    sources = {
        "decision": f"{agent}: rule on the vote outcome {outcome!r} ({vote_by}) and the risk cap ({caps_by})",
        "conviction": f"{vote_by}: agreement x evidence strength x data sufficiency "
        f"{vote.get('conviction_parts', {})}",
        "rating": f"{agent}: return analysts' net evidence score {score:+.2f} on the policy's rating bands "
        f"(buy {policy['buy_score']:g}, overweight {policy['overweight_score']:g}, underweight "
        f"{policy['underweight_score']:g}, sell {policy['sell_score']:g})",
        "scenarios": f"{agent}: " + (model["basis"] if model else "not estimated: no price history"),
        "policy": "CommitteePolicy defaults"
        + (
            f"; overridden by input.policy: {', '.join(snap['policy_overrides'])}"
            if snap["policy_overrides"]
            else ""
        ),
        "requested_amount": plan_source,
        "approved_amount": f"{caps_by}: capped {money(caps['proposed_amount'])} -> {money(cap)} "
        f"({len(caps['clamps'])} clamps); {agent}: 0 unless approved",
        "tranches": f"{agent}: {limits['tranches']} equal tranches of the approved amount "
        "over a third of the horizon",
        "risk.stop_loss": f"{caps_by}: {stop['basis']}",
        "risk.loss_at_stop": f"{agent}: approved amount x stop loss fraction",
        "risk.gap_risk": f"{caps_by}: the worst one-bar fall of the sample, from just above the stop",
        "risk.costs": f"{caps_by}: " + str((caps.get("costs") or {}).get("basis", "not estimated")),
        "risk.annual_volatility": f"{steward}: {snap['sources'].get('annual_volatility', 'not measured')}",
        "risk.var95": f"{steward}: {snap['sources'].get('var95', 'not measured')}; at the approved size",
        "risk.cvar95": f"{steward}: {snap['sources'].get('cvar95', 'not measured')}; at the approved size",
        "votes": f"{vote_by}: {vote.get('rules', '')}",
        "conditions": f"{compliance_by} conditions and {caps_by} clamps",
        "review": f"{agent}: {rev['basis']}",
    }
    checks = [*_intake_checks(request), *caps["checks"], *review["checks"]]
    validation = {
        "checks": checks,
        "clamps": list(caps["clamps"]),
        "passed": sum(1 for c in checks if c["passed"]),
        "total": len(checks),
    }
    text = (
        f"{decision} ({rating}): {action}. {why[0].upper() + why[1:]}. "
        f"Conviction {conviction}/100; votes "
        f"{vote['tally']['APPROVE']}-{vote['tally']['REJECT']}-{vote['tally']['ABSTAIN']} "
        f"(approve-reject-abstain). Requested {money(float(snap['amount']))}, approved {money(approved)}."
    )
    stance = (
        "bullish"
        if approved > 0
        else "bearish"
        if decision == "REJECT" or trade["side"] == "sell"
        else "neutral"
    )
    return respond(
        request,
        stance=stance,
        confidence=conviction / 100,
        recommendation=action,
        rationale=why,
        text=text,
        data_gaps=snap["data_gaps"],
        fields={
            "decision": decision,
            "action": action,
            "conviction": conviction,
            "ticker": ticker,
            "requested_amount": float(snap["amount"]),
            "approved_amount": approved,
            "tranches": tranches,
            "risk": risk,
            "conditions": conditions if approved else _reconvene(decision, snap),
            "rating": rating,
            "trade": trade,
            "thesis": thesis(ticker, rating, score, items, model),
            "bull_case": bull,
            "bear_case": bear,
            "scenarios": model,
            "exit_plan": exit_plan(snap, caps, model),
            "benchmark": {
                "name": policy["benchmark"],
                "hurdle_rate": policy["hurdle_rate"],
                "hurdle_over_horizon": None if model is None else model["hurdle"],
            },
            "data": _data_notes(snap),
            "invalidation": invalidation,
            "votes": {
                "tally": vote["tally"],
                "votes": vote["votes"],
                "dissent": vote["dissent"],
                "outcome": outcome,
                "quorum": vote["quorum"],
            },
            "validation": validation,
            "review": rev,
            "sources": sources,
            "summary": text,
            "voting": False,
        },
    )


def _split(vote: Mapping[str, Any]) -> str:
    """'2 APPROVE (a, b) vs 2 REJECT (c, d), 1 ABSTAIN (e)': who voted which way."""
    parts = []
    for side in ("APPROVE", "REJECT", "ABSTAIN"):
        names = [v["agent"] for v in vote["votes"] if v["vote"] == side]
        if names:
            parts.append(f"{len(names)} {side} ({', '.join(names)})")
    return " vs ".join(parts) or "no votes"


def _trade(rating: str, approved: float, held: float, policy: Mapping[str, Any]) -> dict[str, Any]:
    if approved > 0:
        return {"side": "buy", "amount": approved, "basis": f"{rating}: the approved amount"}
    if rating == "Sell" and held > 0:
        return {"side": "sell", "amount": round(held, 2), "basis": "Sell: the whole holding"}
    if rating == "Underweight" and held > 0:
        share = policy["underweight_reduce_fraction"]
        return {
            "side": "sell",
            "amount": round(held * share, 2),
            "basis": f"Underweight: {pct(share, 0)} of the holding (policy.underweight_reduce_fraction)",
        }
    return {
        "side": "none",
        "amount": 0.0,
        "basis": f"{rating}: no trade" + (", keep the holding" if held else ""),
    }


def _data_notes(snap: Mapping[str, Any]) -> dict[str, Any]:
    prices, source = snap.get("prices"), snap.get("provenance") or {}
    return {
        "as_of": (source.get("as_of") if source else None) or (prices["last_date"] if prices else None),
        "last_bar": prices["last_date"] if prices else None,
        "observations": prices["observations"] if prices else 0,
        "frequency": snap["horizon"].get("bar"),
        "periods_per_year": snap["periods_per_year"],
        "source": source.get("provider") or source.get("source") or ("input.prices" if prices else None),
        "provenance": source or None,
        "quality": list(snap.get("data_quality", ())),
        "gaps": list(snap["data_gaps"]),
    }


def _intake_checks(request: AgentRequest) -> list[dict[str, Any]]:
    found = find_artifact(request, "validated-request")
    checks = found.get("checks") if found else None
    return [dict(c) for c in checks] if checks else []


def _reconvene(decision: str, snap: Mapping[str, Any]) -> list[str]:
    """For a deferral: what the committee needs before it meets again."""
    if decision != "DEFER":
        return []
    return [f"re-convene once this gap is closed: {gap}" for gap in snap["data_gaps"]] or [
        "re-convene at the review date with a fresh vote"
    ]
