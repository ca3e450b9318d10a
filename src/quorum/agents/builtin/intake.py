"""Activation roles: the intake validator (is the request sound?) and the data steward (the snapshot)."""

from __future__ import annotations

import re
from typing import Any

from quorum.agents.builtin.context import input_of, meeting_time, money, pct, respond
from quorum.agents.builtin.holdings import current_position, provenance
from quorum.agents.builtin.policy import policy_from
from quorum.agents.builtin.risk import limits_for, parse_horizon
from quorum.agents.builtin.snapshot import build_snapshot, parse_amount, price_history_for
from quorum.agents.protocol import AgentRequest
from quorum.errors import InputValidationError

__all__ = ("TICKER_PATTERN", "data_steward", "intake_validator")

TICKER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-/=^]{0,19}$")


def _check(name: str, passed: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "passed": passed, "detail": detail, "agent": "intake-validator"}


def _last_close(inputs: Any, ticker: str) -> float | None:
    try:
        history = price_history_for(inputs, ticker)
    except InputValidationError:
        return None  # the prices check reports it
    return history[-1].close if history else None


def intake_validator(request: AgentRequest) -> dict[str, Any]:
    """Check every input and report each problem; never raises for bad input (the task's validation
    steps and this report say what to fix)."""
    inputs = input_of(request)
    checks: list[dict[str, Any]] = []
    ticker = str(inputs.get("ticker") or "").strip().upper()
    checks.append(_check("ticker", bool(TICKER_PATTERN.match(ticker)), f"ticker {ticker or '(empty)'!s}"))
    normalised: dict[str, Any] = {"ticker": ticker}
    for name, fn in (
        ("amount", lambda: parse_amount(inputs)),
        ("riskTolerance", lambda: limits_for(inputs.get("riskTolerance", "medium")).tolerance),
        ("timeHorizon", lambda: parse_horizon(inputs.get("timeHorizon", "30 days"), ticker).calendar_days),
        ("prices", lambda: len(price_history_for(inputs, ticker))),
        ("policy", lambda: policy_from(inputs.get("policy"))[1] or "defaults"),
        ("position", lambda: current_position(inputs, ticker, _last_close(inputs, ticker))[0]),
        ("marketData", lambda: sorted(provenance(inputs, ticker) or {}) or "none"),
    ):
        try:
            value = fn()
        except InputValidationError as exc:
            checks.append(_check(name, False, "; ".join(exc.problems)))
        else:
            normalised[name] = value
            checks.append(_check(name, True, f"{name} = {value!r}"))
    portfolio = inputs.get("portfolioValue")
    if portfolio is not None:
        ok = isinstance(portfolio, int | float) and not isinstance(portfolio, bool) and portfolio > 0
        checks.append(_check("portfolioValue", ok, f"portfolioValue = {portfolio!r}"))
    failed = [c for c in checks if not c["passed"]]
    valid = not failed
    normalised["horizon_days"] = normalised.pop("timeHorizon", None)
    normalised.pop("marketData", None)
    normalised["price_observations"] = normalised.pop("prices", 0)
    summary = (
        f"Request valid: {ticker}, amount {money(normalised.get('amount'))}, "
        f"{normalised['horizon_days']} days, {normalised.get('riskTolerance')} risk tolerance, "
        f"{normalised['price_observations']} closes."
        if valid
        else "Request invalid: " + "; ".join(c["detail"] for c in failed)
    )
    return respond(
        request,
        stance="neutral",
        confidence=1.0,
        recommendation="proceed" if valid else "reject: fix the request",
        rationale=summary,
        text=summary,
        fields={
            "request": {"kind": "validated-request", "valid": valid, "checks": checks, **normalised},
            "valid": valid,
            "checks": checks,
            "voting": False,
        },
    )


def data_steward(request: AgentRequest) -> dict[str, Any]:
    """Compute the snapshot once; later agents read this answer's ``snapshot``."""
    snap = build_snapshot(input_of(request), now=meeting_time(request))
    m = snap["metrics"]
    if snap["prices"] is None:
        facts = "no price history was supplied, so no market metric is measured"
        confidence = 0.2
    else:
        n = snap["prices"]["observations"]
        facts = (
            f"{n} closes {snap['prices']['first_date']}..{snap['prices']['last_date']}, last "
            f"{m['last_close']:g}, total return {pct(m['total_return'])}, annualised volatility "
            f"{pct(m['annual_volatility'])} (x sqrt({snap['periods_per_year']})), VaR95 "
            f"{pct(m['var95']['horizon'] if m['var95'] else None)} over {snap['horizon']['trading_days']} "
            f"trading days"
        )
        confidence = min(1.0, 0.4 + n / 100)
    gaps = "; ".join(snap["data_gaps"]) or "none"
    text = f"Snapshot for {snap['ticker']} ({snap['asset_class']}): {facts}. Gaps: {gaps}."
    return respond(
        request,
        stance="neutral",
        confidence=confidence,
        recommendation="use this snapshot",
        rationale=f"One frozen set of numbers for every agent: {facts}.",
        text=text,
        fields={"snapshot": snap, "voting": False},
        data_gaps=snap["data_gaps"],
    )
