"""Position sizing: the risk officer's hard caps ("conviction requests, risk disposes") and tranches.

:func:`risk_caps` starts from the amount the committee's conviction asks for and applies each cap in a
fixed order, logging every clamp with its value before and after, the limit and where the limit came from
(every limit is a field of the policy, ``snapshot["policy"]``, cited by name):

1. the requested amount (the committee never invests more than it was asked to),
2. the single-order limit of the risk tolerance,
3. with ``portfolioValue`` (NAV): concentration, ``max_position_fraction`` of NAV less the current
   holding; and risk per trade, the loss at the stop at most ``risk_per_trade`` of NAV,
4. with a measured price history: volatility targeting (amount x target vol / sizing vol, the larger of
   the full-sample and recent volatility) and the loss budget (amount x max_loss_fraction / stop);
   without one: the unmeasured-risk cap (``unmeasured_fraction`` of the amount),
5. with volume: liquidity, ``max_adv_fraction`` of the average daily traded value,
6. data sufficiency: fewer closes than ``full_confidence_observations`` scale the size by n / that.

The stop loss is ``stop_atr_multiple`` ATRs below the entry, bounded to [``min_stop_fraction``,
``max_stop_fraction``] (see ``risk_methods``); without a price history, ``default_stop_fraction``. The
**loss at the stop** is the approved amount times the stop; **gap risk** the loss if the worst one-bar
fall of the sample happens at the stop; CVaR the mean loss in the horizon tail. Costs: ``cost_bps`` plus
square-root impact ``impact_coefficient`` x daily volatility x sqrt(order / ADV) when volume is known.
Amounts are rounded *down* to cents so that rounding never breaks a cap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from quorum.agents.builtin.context import money, pct
from quorum.agents.builtin.policy import DEFAULT_POLICY

__all__ = ("MIN_STOP_FRACTION", "risk_caps", "tranche_schedule")

MIN_STOP_FRACTION = DEFAULT_POLICY.min_stop_fraction


def _cents_down(x: float) -> float:
    return math.floor(max(0.0, x) * 100.0 + 1e-6) / 100.0


def _stop(snap: Mapping[str, Any], policy: Mapping[str, Any], measured: bool) -> tuple[float, str]:
    limits, m = snap["limits"], snap["metrics"]
    lo, hi = policy["min_stop_fraction"], limits["max_stop_fraction"]
    if not measured:
        return limits["default_stop_fraction"], (
            f"policy.limits.{limits['tolerance']}.default_stop_fraction (no price history to measure)"
        )
    atr = m.get("atr")
    if atr:
        raw = policy["stop_atr_multiple"] * atr["fraction"]
        basis = (
            f"{policy['stop_atr_multiple']:g} x Wilder ATR({atr['window']}) = {pct(raw)} of the last "
            f"close (policy.stop_atr_multiple)"
        )
    else:  # risk measured but too few closes for the ATR window: the per-bar volatility stands in
        per_bar = m.get("daily_volatility") or float(m["annual_volatility"]) / math.sqrt(
            float(snap.get("periods_per_year") or 252)
        )
        raw = policy["stop_atr_multiple"] * per_bar
        basis = f"{policy['stop_atr_multiple']:g} x per-bar volatility = {pct(raw)} (too few closes for ATR)"
    stop = min(hi, max(lo, raw))
    return (
        stop,
        f"{basis}, bounded to [{pct(lo, 0)}, {pct(hi, 0)}] (policy.min_stop_fraction, max_stop_fraction)",
    )


def risk_caps(snap: Mapping[str, Any], proposed: float, *, agent: str = "risk-officer") -> dict[str, Any]:
    limits, m = snap["limits"], snap["metrics"]
    policy: Mapping[str, Any] = snap.get("policy") or DEFAULT_POLICY.to_dict()
    tol = f"policy.limits.{limits['tolerance']}"
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

    var, cvar, vol = m["var95"], m["cvar95"], m["annual_volatility"]
    measured = var is not None and vol is not None
    stop, stop_basis = _stop(snap, policy, measured)
    cap("requested amount", amount, "input.amount")
    cap("single-order limit", limits["single_order_limit"], f"{tol}.single_order_limit")
    pv = snap.get("portfolio_value")
    held = float((snap.get("position") or {}).get("value") or 0.0)
    if pv:
        cap(
            "concentration",
            limits["max_position_fraction"] * pv - held,
            f"{tol}.max_position_fraction {pct(limits['max_position_fraction'], 0)} of input.portfolioValue "
            f"{money(pv)}, less the {money(held)} held",
        )
        cap(
            "risk per trade",
            limits["risk_per_trade"] * pv / stop,
            f"{tol}.risk_per_trade: loss at the {pct(stop)} stop at most {pct(limits['risk_per_trade'])} of "
            f"NAV {money(pv)}",
        )
    if measured:
        cap(
            "volatility target",
            amount * (m["vol_target_fraction"] or 0.0),
            f"data-steward: sizing volatility {pct(vol)} vs {tol}.target_volatility "
            f"{pct(limits['target_volatility'], 0)}",
        )
        cap(
            "loss budget",
            amount * limits["max_loss_fraction"] / stop,
            f"{tol}.max_loss_fraction: loss at the stop at most {pct(limits['max_loss_fraction'], 0)} of the "
            f"amount at a {pct(stop)} stop",
        )
    else:
        cap(
            "unmeasured risk",
            amount * limits["unmeasured_fraction"],
            f"{tol}.unmeasured_fraction: at most {pct(limits['unmeasured_fraction'], 0)} of the amount "
            "without a price history",
        )
    adv = m.get("average_daily_value")
    if adv:
        cap(
            "liquidity",
            policy["max_adv_fraction"] * adv,
            f"policy.max_adv_fraction: {pct(policy['max_adv_fraction'])} of the average daily traded value "
            f"{money(adv)}",
        )
    n = (snap.get("prices") or {}).get("observations") or 0
    full = policy["full_confidence_observations"]
    if measured and 0 < n < full:
        cap(
            "data sufficiency",
            value * n / full,
            f"policy.full_confidence_observations: {n} of {full} closes scale the size by {n / full:.2f}",
        )
    last = m["last_close"]
    closes_gap = m.get("worst_bar_fall")
    gap = None if closes_gap is None else 1.0 - (1.0 - stop) * (1.0 - closes_gap)
    impact = None
    if adv and value > 0 and m.get("daily_volatility"):
        impact = policy["impact_coefficient"] * m["daily_volatility"] * math.sqrt(value / adv)
    cost_fraction = policy["cost_bps"] / 10_000 + (impact or 0.0)
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
        "loss_at_stop": {"amount": round(value * stop, 2), "fraction_of_amount": value * stop / amount},
        "gap_risk": None
        if gap is None
        else {
            "fraction": gap,
            "amount": round(gap * value, 2),
            "worst_bar_fall": closes_gap,
            "basis": "the worst one-bar fall of the sample, from just above the stop",
        },
        "costs": {
            "fraction": cost_fraction,
            "amount": round(cost_fraction * value, 2),
            "basis": f"policy.cost_bps {policy['cost_bps']:g} bp"
            + (
                f" + impact {pct(impact)} (policy.impact_coefficient x per-bar vol x sqrt(order / ADV))"
                if impact is not None
                else " (no volume: market impact not estimated)"
            ),
        },
        "annual_volatility": vol,
        "volatility": m.get("volatility"),
        "var95": None
        if var is None
        else {
            "fraction": var["horizon"],
            "amount": round(var["horizon"] * value, 2),
            "method": var.get("method"),
        },
        "cvar95": None
        if cvar is None
        else {
            "fraction": cvar["horizon"],
            "amount": round(cvar["horizon"] * value, 2),
            "method": cvar.get("method"),
        },
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
