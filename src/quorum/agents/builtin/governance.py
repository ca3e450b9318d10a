"""Validation roles: the risk officer (hard caps in code) and the compliance officer (policy checks).

Neither votes: both are **gates**. The risk officer sets the cap (``sizing.risk_caps``) and vetoes a
trade outside the mandate, a sizing volatility above ``veto_volatility_multiple`` times the tolerance's
target; a benign risk reading is not a reason to buy, so it never counts toward a majority in favour.
The compliance officer vetoes a restricted ticker and otherwise clears the trade, attaching the
conditions its checks raise. The chair records a veto of either as the outcome ``vetoed``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin.context import find_artifact, input_of, money, pct, respond
from quorum.agents.builtin.intake import TICKER_PATTERN
from quorum.agents.builtin.sizing import risk_caps
from quorum.agents.builtin.snapshot import snapshot_for
from quorum.agents.protocol import AgentRequest

__all__ = ("compliance_officer", "compliance_review", "proposed_amount", "risk_officer")

_log = logging.getLogger("quorum.agents.builtin.risk")

_STANCE_OF_VOTE = {"APPROVE": "bullish", "REJECT": "bearish", "ABSTAIN": "neutral"}


def proposed_amount(request: AgentRequest, snap: Mapping[str, Any]) -> tuple[float, str]:
    """The execution strategist's requested amount; the full amount when no plan was made."""
    plan = find_artifact(request, "execution-plan")
    if plan is not None and isinstance(plan.get("proposed_amount"), int | float):
        return float(plan["proposed_amount"]), f"{plan.get('produced_by', 'execution-strategist')} plan"
    return float(snap["amount"]), "input.amount (no execution plan found)"


def risk_officer(request: AgentRequest) -> dict[str, Any]:
    snap = snapshot_for(request)
    proposed, basis = proposed_amount(request, snap)
    caps = risk_caps(snap, proposed, agent=str(request.agent_id))
    limits, vol = snap["limits"], caps["annual_volatility"]
    veto = bool(caps["measured"]) and vol > limits["veto_volatility_multiple"] * limits["target_volatility"]
    if veto:
        vote, confidence = "VETO", 0.9
        reason = (
            f"sizing volatility {pct(vol)} is more than {limits['veto_volatility_multiple']:g}x the "
            f"{pct(limits['target_volatility'], 0)} target of a {limits['tolerance']} risk tolerance: "
            f"outside the mandate (policy.limits.{limits['tolerance']}.veto_volatility_multiple)"
        )
    elif not caps["measured"]:
        vote, confidence = "CAP", 0.3
        reason = "risk cannot be measured without a price history; the unmeasured-risk cap applies"
    else:
        vote, confidence = "CAP", 0.8
        reason = f"a position of up to {money(caps['approved_cap'])} fits the {limits['tolerance']} limits"
    caps = {**caps, "veto": veto, "veto_reason": reason if veto else None}
    clamp_log = [
        f"{c['rule']}: {money(c['before'])} -> {money(c['after'])} ({c['source']})" for c in caps["clamps"]
    ]
    if clamp_log and _log.isEnabledFor(
        logging.INFO
    ):  # the clamps are in the answer; the log is for operators
        for line in clamp_log:
            _log.info("%s %s clamp %s", request.execution_id, snap["ticker"], line)
    text = (
        f"Requested {money(proposed)} ({basis}); cap {money(caps['approved_cap'])}. "
        f"Clamps: {'; '.join(clamp_log) or 'none'}. Stop loss {pct(caps['stop_loss']['fraction'])} "
        f"({caps['stop_loss']['basis']}), loss at the stop {money(caps['loss_at_stop']['amount'])}. "
        f"{'Veto' if veto else 'Cap'}: {reason}."
    )
    return respond(
        request,
        stance="bearish" if veto else "neutral",
        confidence=confidence,
        recommendation="veto" if veto else f"cap the position at {money(caps['approved_cap'])}",
        rationale=reason,
        text=text,
        # A gate, not a voter: its caps and veto bind the committee; its reading never counts in favour.
        fields={
            "risk": caps,
            "approved_cap": caps["approved_cap"],
            "clamps": caps["clamps"],
            "gate": vote,
            "voting": False,
        },
    )


def _as_symbols(value: Any) -> set[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Sequence):
        return set()
    return {str(v).strip().upper() for v in value if str(v).strip()}


def compliance_review(snap: Mapping[str, Any], inputs: Mapping[str, Any], *, agent: str) -> dict[str, Any]:
    """Policy checks on the request: a breach vetoes, a concern becomes a condition."""
    ticker, limits, amount = snap["ticker"], snap["limits"], float(snap["amount"])
    checks: list[dict[str, Any]] = []
    breaches: list[str] = []
    conditions: list[str] = []

    def check(name: str, passed: bool, detail: str) -> None:
        checks.append({"check": name, "passed": passed, "detail": detail, "agent": agent})

    check("ticker format", bool(TICKER_PATTERN.match(ticker)), ticker)
    restricted = _as_symbols(inputs.get("restricted"))
    is_restricted = ticker in restricted
    check("restricted list", not is_restricted, f"{len(restricted)} restricted symbols (input.restricted)")
    if is_restricted:
        breaches.append(f"{ticker} is on the restricted list: no trade may be approved")
    suitable = not (snap["asset_class"] == "crypto" and limits["tolerance"] == "low")
    check("suitability", suitable, f"{snap['asset_class']} for a {limits['tolerance']} risk tolerance")
    if not suitable:
        conditions.append(
            "suitability: crypto in a low-risk mandate needs the client's written acknowledgement"
        )
    within = amount <= limits["single_order_limit"]
    check("single-order limit", within, f"{money(amount)} vs {money(limits['single_order_limit'])}")
    if not within:
        conditions.append(f"orders above {money(limits['single_order_limit'])} need senior sign-off")
    pv = snap.get("portfolio_value")
    held = float((snap.get("position") or {}).get("value") or 0.0)
    if pv:
        share = (amount + held) / pv  # the position after the trade, the current holding included
        ok = share <= limits["max_position_fraction"]
        check(
            "concentration",
            ok,
            f"{pct(share)} of the portfolio after the trade ({money(held)} held) vs "
            f"{pct(limits['max_position_fraction'], 0)}",
        )
        if not ok:
            conditions.append(
                f"position limited to {pct(limits['max_position_fraction'], 0)} of the portfolio"
            )
    else:
        check("concentration", True, "no portfolioValue given: not measurable")
        conditions.append(
            f"confirm the position stays under {pct(limits['max_position_fraction'], 0)} of the portfolio"
        )
    horizon = snap["horizon"]["calendar_days"]
    short = horizon < 7 and limits["tolerance"] == "low"
    check("horizon", not short, f"{horizon} days for a {limits['tolerance']} risk tolerance")
    if short:
        conditions.append("a horizon under a week is trading, not investing, for a low-risk mandate")
    if snap["prices"] is None:
        conditions.append("record that the decision was taken without a price history")
    return {
        "kind": "compliance-review",
        "veto": bool(breaches),
        "breaches": breaches,
        "conditions": conditions,
        "checks": checks,
    }


def compliance_officer(request: AgentRequest) -> dict[str, Any]:
    snap = snapshot_for(request)
    review = compliance_review(snap, input_of(request), agent=str(request.agent_id))
    vote = "REJECT" if review["veto"] else "APPROVE"
    passed = sum(c["passed"] for c in review["checks"])
    text = (
        f"{passed}/{len(review['checks'])} compliance checks passed. "
        f"Breaches: {'; '.join(review['breaches']) or 'none'}. "
        f"Conditions: {'; '.join(review['conditions']) or 'none'}. Vote {vote}."
    )
    return respond(
        request,
        stance=_STANCE_OF_VOTE[vote],
        confidence=0.95,
        recommendation="veto" if review["veto"] else "approve subject to the conditions",
        rationale=text,
        text=text,
        # Compliance does not vote on the merits: it clears or vetoes (the chair applies the veto).
        fields={"compliance": review, "vote": vote, "voting": False},
    )
