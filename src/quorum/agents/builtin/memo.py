"""The investment memo's parts: the return evidence, the rating, scenarios, the exit plan and the thesis.

- **Return evidence**: the evidence of the analysts whose job is expected return (technical,
  fundamental, sentiment, macro); the quantitative risk analyst's readings are risk, not direction.
  Its strength-weighted net score ``s`` in [-1, 1] is the committee's directional view.
- **Rating** on ``s`` (policy): Buy >= ``buy_score``, Overweight >= ``overweight_score``, Sell <=
  ``sell_score``, Underweight <= ``underweight_score``, else Hold. A committee that does not approve
  never rates above Hold. Actions: Buy / Overweight buy the approved amount; Hold keeps what is held;
  Underweight sells ``underweight_reduce_fraction`` of the holding; Sell sells all of it.
- **Scenarios** over the horizon (h bars): mu_h = ``drift_shrinkage`` x mean log return x h, s_h = the
  sizing volatility per bar x sqrt(h). Bull = exp(mu_h + s_h) - 1, base = exp(mu_h) - 1, bear =
  exp(mu_h - s_h) - 1, floored at the stop (the position is sold there; the gap risk is beside it).
  Probabilities: bull 0.25 + ``scenario_tilt`` x s, bear 0.25 - ``scenario_tilt`` x s, base the rest.
  Expected return = the probability-weighted sum; price target = last close x (1 + expected return);
  take-profit = the bull scenario's price; reward:risk = bull return / stop. A model, not a forecast.
- **Hurdle**: ``hurdle_rate`` x calendar days / 365; APPROVE needs the expected return above it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin.advocates import analyst_views
from quorum.agents.builtin.context import find_artifact, money, pct
from quorum.agents.builtin.evidence import net_score
from quorum.agents.protocol import AgentRequest

__all__ = ("RETURN_TOPICS", "exit_plan", "rating_for", "return_evidence", "scenarios", "thesis")

RETURN_TOPICS = ("technical", "fundamental", "sentiment", "macro", "technicals")
RATINGS = ("Buy", "Overweight", "Hold", "Underweight", "Sell")


def return_evidence(request: AgentRequest) -> tuple[float, list[Mapping[str, Any]], list[str]]:
    """(net score, the evidence items, the analysts who gave them) of the return analysts."""
    items: list[Mapping[str, Any]] = []
    who: list[str] = []
    for op in analyst_views(request):
        if op.abstained or not any(k in op.data for k in RETURN_TOPICS):
            continue
        mine = [e for e in op.data.get("evidence", ()) if isinstance(e, Mapping)]
        if mine:
            who.append(op.agent)
            items.extend(mine)
    return net_score(items), items, sorted(who)


def rating_for(score: float, policy: Mapping[str, Any], *, approved: bool) -> str:
    if score >= policy["buy_score"]:
        rating = "Buy"
    elif score >= policy["overweight_score"]:
        rating = "Overweight"
    elif score <= policy["sell_score"]:
        rating = "Sell"
    elif score <= policy["underweight_score"]:
        rating = "Underweight"
    else:
        rating = "Hold"
    return rating if approved or rating not in ("Buy", "Overweight") else "Hold"


def scenarios(snap: Mapping[str, Any], *, score: float, stop: float, size: float) -> dict[str, Any] | None:
    m, policy = snap["metrics"], snap["policy"]
    if m["mean_log_return"] is None or m["daily_volatility"] is None:
        return None
    h = snap["horizon"]["bars"] if "bars" in snap["horizon"] else snap["horizon"]["trading_days"]
    mu_h = policy["drift_shrinkage"] * m["mean_log_return"] * h
    s_h = m["daily_volatility"] * math.sqrt(h)
    tilt = policy["scenario_tilt"] * max(-1.0, min(1.0, score))
    p_bull, p_bear = 0.25 + tilt, 0.25 - tilt
    returns = {
        "bull": math.exp(mu_h + s_h) - 1.0,
        "base": math.exp(mu_h) - 1.0,
        "bear": max(-stop, math.exp(mu_h - s_h) - 1.0),
    }
    probs = {"bull": p_bull, "base": 1.0 - p_bull - p_bear, "bear": p_bear}
    last = m["last_close"]
    table = [
        {
            "scenario": k,
            "probability": round(probs[k], 4),
            "return": r,
            "price": last * (1 + r),
            "pnl": round(size * r, 2),
        }
        for k, r in returns.items()
    ]
    expected = math.fsum(probs[k] * r for k, r in returns.items())
    hurdle = policy["hurdle_rate"] * snap["horizon"]["calendar_days"] / 365
    return {
        "scenarios": table,
        "expected_return": expected,
        "expected_pnl": round(size * expected, 2),
        "price_target": last * (1 + expected),
        "take_profit": last * (1 + returns["bull"]),
        "reward_risk": returns["bull"] / stop if stop else None,
        "hurdle": hurdle,
        "beats_hurdle": expected > hurdle,
        "basis": f"drift {policy['drift_shrinkage']:g} x mean log return, +-1 sizing sigma over {h} bars; "
        f"probabilities tilted {tilt:+.3f} by the return evidence score {score:+.2f} (policy.scenario_tilt)",
    }


def exit_plan(
    snap: Mapping[str, Any], caps: Mapping[str, Any], model: Mapping[str, Any] | None
) -> dict[str, Any]:
    stop = caps["stop_loss"]
    return {
        "stop_loss": stop["price"]
        if stop["price"] is not None
        else f"{pct(stop['fraction'])} below the entry",
        "take_profit": None if model is None else model["take_profit"],
        "time_stop": f"exit or re-convene after {snap['horizon']['calendar_days']} calendar days "
        "if neither the stop nor the take-profit is reached",
        "basis": f"stop: {stop['basis']}; take-profit: the bull scenario",
    }


def _claims(points: Sequence[Any]) -> list[str]:
    return [f"{p.get('claim')} ({p.get('agent')})" for p in points if isinstance(p, Mapping)]


def cases(request: AgentRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bull and bear cases as the debate left them (the advocates' last round)."""
    out = []
    for kind in ("bull-case", "bear-case"):
        case = find_artifact(request, kind)
        out.append(
            {
                "points": _claims(case.get("points", ())) if case else [],
                "rebuttal": str(case.get("rebuttal") or "") if case else "",
            }
        )
    return out[0], out[1]


def thesis(
    ticker: str,
    rating: str,
    score: float,
    items: Sequence[Mapping[str, Any]],
    model: Mapping[str, Any] | None,
) -> str:
    side = "bullish" if score > 0 else "bearish"
    # ties broken by who said what, not by the order the answers of a parallel phase arrived in
    top = sorted(
        (e for e in items if e.get("direction") == side),
        key=lambda e: (-float(e.get("strength") or 0), str(e.get("agent") or ""), str(e.get("claim") or "")),
    )
    why = "; ".join(str(e.get("claim")) for e in top[:3]) or "no directional evidence in the record"
    ret = (
        f" The scenario model expects {pct(model['expected_return'])} over the horizon against a hurdle of "
        f"{pct(model['hurdle'])}, price target {money(model['price_target'])}."
        if model
        else " Without a price history no expected return is estimated."
    )
    return f"{rating} {ticker}: the return evidence nets {score:+.2f} ({side}) — {why}.{ret}"
