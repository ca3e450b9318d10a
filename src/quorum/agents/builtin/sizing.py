"""Position sizing: the risk officer's hard caps ("conviction requests, risk disposes") and tranches.

:func:`risk_caps` starts from the amount the committee's conviction asks for and applies each cap in a
fixed order, logging every clamp with its value before and after, the limit and where the limit came from:

1. the requested amount (the committee never invests more than it was asked to),
2. the single-order limit of the risk tolerance,
3. concentration: ``max_position_fraction`` of ``portfolioValue`` (when given),
4. with a measured price history: volatility targeting (amount * target vol / realised vol) and the loss
   budget (amount * max_loss_fraction / stop loss fraction);
   without one: the unmeasured-risk cap (``unmeasured_fraction`` of the amount).

The stop loss is the horizon VaR95 bounded to [2%, ``max_stop_fraction``]; without a price history, the
policy default ``default_stop_fraction``. The maximum loss is the approved amount times the stop.
Amounts are rounded *down* to cents so that rounding never breaks a cap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from quorum.agents.builtin.context import money, pct

__all__ = ("MIN_STOP_FRACTION", "risk_caps", "tranche_schedule")

MIN_STOP_FRACTION = 0.02


def _cents_down(x: float) -> float:
    return math.floor(max(0.0, x) * 100.0 + 1e-6) / 100.0


def risk_caps(snap: Mapping[str, Any], proposed: float, *, agent: str = "risk-officer") -> dict[str, Any]:
    limits, m = snap["limits"], snap["metrics"]
    amount = float(snap["amount"])
    value = _cents_down(proposed)
    clamps: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []

    def cap(rule: str, limit: float, source: str) -> None:
        nonlocal value
        limit = _cents_down(limit)
        passed = value <= limit
        checks.append(
            {
                "check": rule,
                "passed": passed,
                "detail": f"{money(value)} vs limit {money(limit)}",
                "agent": agent,
            }
        )
        if not passed:
            clamps.append(
                {
                    "rule": rule,
                    "field": "amount",
                    "before": value,
                    "after": limit,
                    "limit": limit,
                    "source": source,
                    "agent": agent,
                }
            )
            value = limit

    cap("requested amount", amount, "input.amount")
    cap("single-order limit", limits["single_order_limit"], f"policy: {limits['tolerance']} risk tolerance")
    pv = snap.get("portfolio_value")
    if pv:
        cap(
            "concentration",
            limits["max_position_fraction"] * pv,
            f"policy: {pct(limits['max_position_fraction'], 0)} of input.portfolioValue {money(pv)}",
        )
    var, cvar, vol = m["var95"], m["cvar95"], m["annual_volatility"]
    measured = var is not None and vol is not None
    if measured:
        stop = min(max(var["horizon"], MIN_STOP_FRACTION), limits["max_stop_fraction"])
        stop_basis = (
            f"horizon VaR95 {pct(var['horizon'])} bounded to [{pct(MIN_STOP_FRACTION, 0)}, "
            f"{pct(limits['max_stop_fraction'], 0)}] (data-steward snapshot)"
        )
        cap(
            "volatility target",
            amount * (m["vol_target_fraction"] or 0.0),
            f"data-steward: volatility {pct(vol)} vs target {pct(limits['target_volatility'], 0)}",
        )
        cap(
            "loss budget",
            amount * limits["max_loss_fraction"] / stop,
            f"policy: max loss {pct(limits['max_loss_fraction'], 0)} of the amount at a {pct(stop)} stop",
        )
    else:
        stop = limits["default_stop_fraction"]
        stop_basis = f"policy default for {limits['tolerance']} risk tolerance (no price history to measure)"
        cap(
            "unmeasured risk",
            amount * limits["unmeasured_fraction"],
            f"policy: at most {pct(limits['unmeasured_fraction'], 0)} of the amount without a price history",
        )
    last = m["last_close"]
    return {
        "kind": "risk-decision",
        "proposed_amount": _cents_down(proposed),
        "approved_cap": value,
        "measured": measured,
        "clamps": clamps,
        "checks": checks,
        "stop_loss": {
            "fraction": stop,
            "price": None if last is None else last * (1.0 - stop),
            "basis": stop_basis,
        },
        "max_loss": {"amount": round(value * stop, 2), "fraction_of_amount": value * stop / amount},
        "annual_volatility": vol,
        "var95": None
        if var is None
        else {"fraction": var["horizon"], "amount": round(var["horizon"] * value, 2)},
        "cvar95": None
        if cvar is None
        else {"fraction": cvar["horizon"], "amount": round(cvar["horizon"] * value, 2)},
        "horizon_days": snap["horizon"]["trading_days"],
    }


def tranche_schedule(total: float, count: int, horizon_days: int) -> list[dict[str, Any]]:
    """Split ``total`` into ``count`` equal tranches over the first third of the horizon.

    Tranche k (0-based) goes in on day k * spacing, spacing = max(1, horizon_days // (3 * count)); the last
    tranche takes the rounding remainder, so the tranches always sum to ``total`` exactly (in cents).
    """
    total = _cents_down(total)
    if total <= 0 or count <= 0:
        return []
    count = min(count, max(1, int(total * 100)))  # never a tranche of zero cents
    spacing = max(1, horizon_days // (3 * count))
    each = math.floor(total * 100 / count) / 100
    out: list[dict[str, Any]] = []
    for k in range(count):
        amount = each if k < count - 1 else round(total - each * (count - 1), 2)
        out.append(
            {
                "tranche": k + 1,
                "amount": amount,
                "day": k * spacing,
                "condition": "at once"
                if k == 0
                else "only if the price is above the stop loss and no trigger fired",
            }
        )
    return out
