"""The committee's analysts: technical, fundamental, sentiment, macro and quantitative risk.

The first four vote (their job is expected return); the quantitative risk analyst informs the debate and
the risk officer but does not vote (``voting: False``): volatility is not a direction.

Each reads the data steward's snapshot (and the optional inputs it needs), publishes evidence items and
a report under its topic key (``technical``, ``fundamental``, ``sentiment``, ``macro``, ``quant_risk``),
and takes a stance from the strength-weighted evidence. Without the data its role needs it abstains:
stance neutral, confidence 0, and it says which input is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin.context import input_of, pct, peer_note, respond
from quorum.agents.builtin.evidence import (
    evidence,
    fundamental_evidence,
    macro_evidence,
    net_score,
    news_evidence,
    stance_of,
)
from quorum.agents.builtin.monte_carlo import bootstrap_tail, seed_for
from quorum.agents.builtin.prices import closes, parse_price_history
from quorum.agents.builtin.snapshot import MIN_RISK_OBSERVATIONS, snapshot_for
from quorum.agents.protocol import AgentRequest
from quorum.errors import InputValidationError

__all__ = (
    "fundamental_analyst",
    "macro_analyst",
    "quant_risk_analyst",
    "sentiment_analyst",
    "technical_analyst",
)

_ACTIONS = {"bullish": "support buying", "bearish": "oppose buying", "neutral": "no directional view"}


def _abstain(request: AgentRequest, topic: str, missing: str, how: str) -> dict[str, Any]:
    gap = f"no {missing}: {how}"
    return respond(
        request,
        stance="neutral",
        confidence=0.0,
        recommendation="abstain",
        rationale=f"Abstaining: {gap}. No numbers are estimated in their place.",
        text=f"{request.agent_id} abstains — {gap}.",
        fields={topic: {"kind": f"{topic}-view", "abstained": True, "missing": missing}, "evidence": []},
        abstained=True,
        data_gaps=[gap],
    )


def _answer(
    request: AgentRequest,
    *,
    topic: str,
    items: Sequence[dict[str, Any]],
    confidence: float,
    report: dict[str, Any],
    headline: str,
    gaps: Sequence[str] = (),
) -> dict[str, Any]:
    score = net_score(items)
    stance = stance_of(score, snapshot_for(request)["policy"]["stance_threshold"])
    top = sorted(items, key=lambda e: -float(e["strength"]))[:3]
    reasons = "; ".join(e["claim"] for e in top) or "no directional signal"
    note = peer_note(request, stance)
    text = f"{headline} Stance {stance} (score {score:+.2f}, confidence {confidence:.2f}): {reasons}."
    return respond(
        request,
        stance=stance,
        confidence=confidence,
        recommendation=_ACTIONS[stance],
        rationale=f"Net evidence score {score:+.2f} from {len(items)} items; strongest: {reasons}.",
        text=f"{text} {note}".strip(),
        fields={
            topic: {"kind": f"{topic}-view", "score": round(score, 4), **report},
            "evidence": list(items),
        },
        data_gaps=gaps,
    )


def technical_analyst(request: AgentRequest) -> dict[str, Any]:
    snap = snapshot_for(request)
    m, agent = snap["metrics"], str(request.agent_id)
    if snap["prices"] is None or m["trend"] is None:
        have, policy = (snap["prices"]["observations"] if snap["prices"] else 0), snap["policy"]
        return _abstain(
            request,
            "technical",
            "price history long enough",
            f"{have} closes: the SMA{policy['sma_short_window']}/SMA{policy['sma_long_window']} trend needs "
            f"at least {policy['sma_long_window']} (windows are never shortened to fit)",
        )
    src = "data-steward snapshot: " + snap["sources"].get("trend", "input.prices")
    items = [
        evidence(
            f"{s['name']} points {'up' if s['contribution'] > 0 else 'down'}",
            "bullish" if s["contribution"] > 0 else "bearish",
            abs(s["contribution"]) / 0.3,
            metric=s["name"],
            value=round(s["contribution"], 4),
            source=src,
            agent=agent,
        )
        for s in m["trend"]["signals"]
        if s["contribution"]
    ]
    rsi, policy = m["rsi_14"], snap["policy"]
    if rsi is not None and (rsi > policy["rsi_overbought"] or rsi < policy["rsi_oversold"]):
        over = rsi > policy["rsi_overbought"]
        items.append(
            evidence(
                f"RSI(14) {rsi:.1f}: {'overbought' if over else 'oversold'}",
                "bearish" if over else "bullish",
                0.3 + abs(rsi - 50) / 100,
                metric="rsi_14",
                value=round(rsi, 2),
                source="data-steward snapshot: Wilder RSI(14)",
                agent=agent,
            )
        )
    n, full = snap["prices"]["observations"], snap["policy"]["full_confidence_observations"]
    sufficiency = min(1.0, n / full)
    confidence = (0.35 + 0.5 * abs(net_score(items))) * sufficiency
    report = {
        "trend": m["trend"]["direction"],
        "rsi_14": rsi,
        "macd": m["macd"],
        "momentum": m["momentum"],
        "sma_short": m["sma_short"],
        "sma_long": m["sma_long"],
        "observations": n,
    }
    gaps = [] if n >= full else [f"only {n} closes; confidence scaled by {sufficiency:.2f} ({full} wanted)"]
    headline = (
        f"{snap['ticker']} trend is {m['trend']['direction']}, RSI {'n/a' if rsi is None else f'{rsi:.1f}'}."
    )
    return _answer(
        request,
        topic="technical",
        items=items,
        confidence=confidence,
        report=report,
        headline=headline,
        gaps=gaps,
    )


def quant_risk_analyst(request: AgentRequest) -> dict[str, Any]:
    snap = snapshot_for(request)
    m, limits, agent = snap["metrics"], snap["limits"], str(request.agent_id)
    if m["annual_volatility"] is None:
        return {
            **_abstain(
                request,
                "quant_risk",
                "price history long enough",
                f"volatility, VaR and drawdown need at least {MIN_RISK_OBSERVATIONS} closes",
            ),
            "voting": False,
        }
    vol, var, cvar, dd = m["annual_volatility"], m["var95"], m["cvar95"], m["max_drawdown"]
    items: list[dict[str, Any]] = []
    target = limits["target_volatility"]
    src = "data-steward snapshot"
    if vol > target:
        items.append(
            evidence(
                f"annualised volatility {pct(vol)} above the {pct(target, 0)} target",
                "bearish",
                min(1.0, vol / target - 1.0 + 0.3),
                metric="annual_volatility",
                value=vol,
                source=f"{src}: {snap['sources']['annual_volatility']}",
                agent=agent,
            )
        )
    else:
        items.append(
            evidence(
                # Volatility is not a direction: a calm market is no reason to buy.
                f"annualised volatility {pct(vol)} within the {pct(target, 0)} target",
                "neutral",
                0.3,
                metric="annual_volatility",
                value=vol,
                source=f"{src}: {snap['sources']['annual_volatility']}",
                agent=agent,
            )
        )
    if var is not None:
        budget = limits["max_loss_fraction"]
        over = var["horizon"] > budget
        items.append(
            evidence(
                f"VaR95 over the horizon {pct(var['horizon'])} vs a loss budget of {pct(budget, 0)}",
                "bearish" if over else "neutral",
                min(1.0, var["horizon"] / budget - 1.0 + 0.3) if over else 0.3,
                metric="var95",
                value=var["horizon"],
                source=f"{src}: {snap['sources']['var95']}",
                agent=agent,
            )
        )
    if dd is not None and dd["fraction"] > limits["max_stop_fraction"]:
        items.append(
            evidence(
                f"maximum drawdown {pct(dd['fraction'])} ({dd['peak_date']} to {dd['trough_date']})",
                "bearish",
                min(1.0, dd["fraction"]),
                metric="max_drawdown",
                value=dd["fraction"],
                source=f"{src}: {snap['sources']['max_drawdown']}",
                agent=agent,
            )
        )
    rr = m["return_to_risk"]
    if rr is not None and abs(rr) > 0.5:
        items.append(
            evidence(
                # the trailing return is the technical analyst's evidence; here only a loss is a risk
                f"return/risk {rr:.2f} (annualised log return / volatility)",
                "neutral" if rr > 0 else "bearish",
                min(1.0, abs(rr) / 2),
                metric="return_to_risk",
                value=rr,
                source=f"{src}: annualised mean log return / volatility",
                agent=agent,
            )
        )
    n = snap["prices"]["observations"]
    sufficiency = min(1.0, n / snap["policy"]["full_confidence_observations"])
    confidence = (0.45 + 0.4 * abs(net_score(items))) * sufficiency
    report = {
        "annual_volatility": vol,
        "var95": var,
        "cvar95": cvar,
        "max_drawdown": dd,
        "return_to_risk": rr,
        "vol_target_fraction": m["vol_target_fraction"],
        "monte_carlo": _monte_carlo(request, snap, var),
    }
    headline = (
        f"{snap['ticker']}: volatility {pct(vol)}, VaR95 {pct(var['horizon'] if var else None)} over "
        f"{snap['horizon']['text']}, max drawdown {pct(dd['fraction'] if dd else None)}."
    )
    answer = _answer(
        request, topic="quant_risk", items=items, confidence=confidence, report=report, headline=headline
    )
    # Volatility is not a direction: the risk readings feed the debate and the risk officer's caps, and
    # never count as a vote for or against (the risk officer's veto is the gate for a market too wild).
    return {**answer, "voting": False}


def _monte_carlo(request: AgentRequest, snap: Mapping[str, Any], var: Mapping[str, Any] | None
                 ) -> dict[str, Any] | None:
    """The bootstrap VaR/CVaR over the same horizon and level as the historical figures, from the
    input's price history (None without one long enough)."""
    try:
        history = parse_price_history(input_of(request).get("prices"))
    except InputValidationError:  # the steward reports bad prices; the figures are simply absent here
        return None
    cs = closes(history)
    horizon = int(var["horizon_days"]) if var else 1
    level = float(var["level"]) if var else 0.95
    tail = bootstrap_tail(cs, horizon_bars=horizon, level=level,
                          seed=seed_for(str(snap.get("ticker", "")), cs, horizon))
    if tail is None:
        return None
    return {**tail.to_dict(), "source": tail.describe()}


def fundamental_analyst(request: AgentRequest) -> dict[str, Any]:
    snap = snapshot_for(request)
    data = input_of(request).get("fundamentals")
    items, ignored = fundamental_evidence(data, agent=str(request.agent_id))
    if not items:
        what = "on-chain data" if snap["asset_class"] == "crypto" else "fundamentals"
        return _abstain(
            request,
            "fundamental",
            what,
            "supply input.fundamentals (e.g. revenue_growth, pe_ratio, active_addresses_growth)",
        )
    confidence = min(0.8, 0.3 + 0.1 * len(items))
    gaps = [f"ignored unknown fundamentals: {', '.join(ignored)}"] if ignored else []
    report = {"metrics_used": [e["metric"] for e in items], "ignored": ignored}
    return _answer(
        request,
        topic="fundamental",
        items=items,
        confidence=confidence,
        report=report,
        headline=f"{snap['ticker']} fundamentals: {len(items)} metrics read.",
        gaps=gaps,
    )


def sentiment_analyst(request: AgentRequest) -> dict[str, Any]:
    snap = snapshot_for(request)
    items, read = news_evidence(input_of(request).get("news"), agent=str(request.agent_id))
    if read == 0:
        return _abstain(request, "sentiment", "news", "supply input.news (a list of headlines)")
    confidence = min(0.75, 0.15 + 0.1 * len(items)) if items else 0.1
    report = {"headlines_read": read, "headlines_scored": len(items)}
    return _answer(
        request,
        topic="sentiment",
        items=items,
        confidence=confidence,
        report=report,
        headline=f"{snap['ticker']} news flow: {len(items)} of {read} headlines carry sentiment.",
    )


def macro_analyst(request: AgentRequest) -> dict[str, Any]:
    snap = snapshot_for(request)
    items, ignored = macro_evidence(
        input_of(request).get("macro"), asset_class=snap["asset_class"], agent=str(request.agent_id)
    )
    if not items:
        return _abstain(
            request,
            "macro",
            "macro data",
            "supply input.macro (rate_trend, inflation, gdp_growth, dollar_trend, vix)",
        )
    confidence = min(0.75, 0.25 + 0.1 * len(items))
    gaps = [f"ignored unknown macro fields: {', '.join(ignored)}"] if ignored else []
    report = {"factors": [e["metric"] for e in items], "asset_class": snap["asset_class"]}
    return _answer(
        request,
        topic="macro",
        items=items,
        confidence=confidence,
        report=report,
        headline=f"Macro backdrop for {snap['asset_class']} ({snap['ticker']}).",
        gaps=gaps,
    )
