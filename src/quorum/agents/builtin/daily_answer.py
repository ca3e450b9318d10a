"""The answer synthesizer: one concise answer on the dimension the question asks about, with its figures.

- ``risk``: the tickers ranked by annualised volatility (riskiest first), with maximum drawdown and VaR
  beside it, and a note when drawdown ranks them otherwise;
- ``downside``: the loss at the stated confidence over the question's horizon, in money when the question
  names an amount (else as a share of the position), with CVaR and the method;
- ``momentum``: RSI(14, Wilder) per ticker against its 70/30 levels, and the reading;
- ``macro`` / ``sentiment``: the analyst's reading when its data was supplied; without it the answer says
  so plainly and gives no view (prices and volatility are not a macro or news view);
- ``direction`` / ``general``: the confidence-weighted stance of the directional analysts (the risk
  monitor is not one: volatility is not a direction); a comparison ranks by trend score.

Confidence is the answering analysts' mean confidence times the share of analysts who answered; it is 0
when the analyst whose job the dimension is had no data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin.context import Opinion, latest_by_agent, money, opinions, pct, respond
from quorum.agents.builtin.daily import LEAD_AGENT, classification_of
from quorum.agents.protocol import AgentRequest

__all__ = ("answer_synthesizer",)

_REPORTS = ("technicals", "risk", "macro", "sentiment")
_SIGN = {"bullish": 1.0, "bearish": -1.0, "neutral": 0.0}
_MISSING = {
    "macro": "macro data (input.macro: rate_trend, inflation, gdp_growth, dollar_trend, "
    "liquidity_trend, vix)",
    "sentiment": "news (input.news: recent headlines)",
    "risk": "a price history of 20 closes or more (input.prices or input.pricesByTicker)",
    "downside": "a price history of 20 closes or more (input.prices or input.pricesByTicker)",
    "momentum": "a price history of 15 closes or more (input.prices or input.pricesByTicker)",
}


def _views(request: AgentRequest) -> list[Opinion]:
    """The latest answer of each analyst: a voting agent with evidence or one of the analysts' reports."""
    out = []
    for op in latest_by_agent(opinions(request)).values():
        if op.data.get("voting", True) is False:
            continue
        if isinstance(op.data.get("evidence"), Sequence) or any(k in op.data for k in _REPORTS):
            out.append(op)
    return out


def _report(views: Sequence[Opinion], key: str) -> dict[str, Any]:
    for v in views:
        value = v.data.get(key)
        if not v.abstained and isinstance(value, Mapping) and value:
            return dict(value)
    return {}


def _per_ticker(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {k: v for k, v in report.items() if isinstance(v, Mapping)}


def _directional(op: Opinion) -> bool:
    flag = op.data.get("directional")
    return bool(flag) if isinstance(flag, bool) else "risk" not in op.data


def _direction(views: Sequence[Opinion]) -> tuple[str, float]:
    num = den = 0.0
    for op in views:
        if not op.abstained and _directional(op):
            num += _SIGN[op.stance] * op.confidence
            den += op.confidence
    score = num / den if den else 0.0
    return ("bullish" if score >= 0.2 else "bearish" if score <= -0.2 else "neutral"), score


def _risk_answer(risk: Mapping[str, Any], missing: Sequence[str]) -> tuple[str, dict[str, Any]]:
    rows = _per_ticker(risk)
    order = sorted(rows, key=lambda t: -float(rows[t]["annual_volatility"]))
    first = rows[order[0]]
    level, bars = float(first["level"]), int(first["horizon_bars"])

    def figures(t: str) -> str:
        r = rows[t]
        return (
            f"{t} volatility {pct(r['annual_volatility'], 1)} a year, "
            f"max drawdown {pct(r['max_drawdown'], 1)}, "
            f"{bars}-bar VaR{level * 100:g} {pct(r['var'], 1)}"
        )

    if len(order) == 1:
        text = f"Risk of {order[0]}: {figures(order[0])}"
    else:
        text = f"{order[0]} is the riskiest by volatility, then {', '.join(order[1:])}: " + "; ".join(
            map(figures, order)
        )
        by_dd = sorted(rows, key=lambda t: -float(rows[t]["max_drawdown"]))
        if by_dd[0] != order[0]:
            text += f". By drawdown {by_dd[0]} ranks riskiest"
    text += f" (annualised at {first['bars_per_year']:g} bars a year; VaR {first['method_detail']})."
    if missing:
        text += f" Not measured: {', '.join(missing)} (no price history of 20 closes or more)."
    return text, {"ranking": order, **{t: dict(rows[t]) for t in order}}


def _downside_answer(
    risk: Mapping[str, Any], c: Mapping[str, Any], missing: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    rows = _per_ticker(risk)
    order = sorted(rows, key=lambda t: -float(rows[t]["var"]))
    amount = c.get("amount")
    currency = f" {c['currency']}" if c.get("currency") else ""
    horizon = f"over {c['horizon']}" if c.get("horizon") else "over one bar"
    parts = []
    for t in order:
        r = rows[t]
        level = f"{float(r['level']) * 100:g}%"
        if isinstance(amount, int | float):
            parts.append(
                f"On {money(float(amount))}{currency} in {t} {horizon} ({r['horizon_bars']} bars), "
                f"the {level} VaR is a loss of {money(r['loss_at_var'])}{currency} ({pct(r['var'], 1)}) "
                f"and the CVaR, the mean loss beyond it, {money(r['loss_at_cvar'])}{currency} "
                f"({pct(r['cvar'], 1)}); method: {r['method_detail']}"
            )
        else:
            parts.append(
                f"{t} {horizon} ({r['horizon_bars']} bars): {level} VaR {pct(r['var'], 1)} of the "
                f"position, CVaR {pct(r['cvar'], 1)}; method: {r['method_detail']}"
            )
    text = ". ".join(parts) + "."
    if not isinstance(amount, int | float):
        text += " Name an amount (e.g. 'on 10,000') for the loss in money."
    if missing:
        text += f" Not measured: {', '.join(missing)}."
    return text, {"ranking": order, **{t: dict(rows[t]) for t in order}}


def _momentum_answer(tech: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    rows = {t: r for t, r in _per_ticker(tech).items() if r.get("rsi_14") is not None}
    if not rows:
        return "", {}
    parts = [
        f"{t}: RSI(14, Wilder) {float(r['rsi_14']):.1f} against the 70 (overbought) and 30 "
        "(oversold) levels: "
        f"{r['rsi_reading']} (trend {r['trend']}, score {float(r['score']):+.2f})"
        for t, r in rows.items()
    ]
    return "; ".join(parts) + ".", {t: dict(r) for t, r in rows.items()}


def _direction_answer(
    c: Mapping[str, Any], tech: Mapping[str, Any], stance: str, score: float, subject: str
) -> tuple[str, dict[str, Any]]:
    rows = _per_ticker(tech)

    def figures(t: str) -> str:
        r = rows[t]
        rsi = f", RSI {float(r['rsi_14']):.1f}" if r.get("rsi_14") is not None else ""
        return (
            f"{t} trend {r['trend']} (score {float(r['score']):+.2f}), "
            f"return {pct(r['return'], 1)} over {r['observations']} closes{rsi}"
        )

    ranking = [t for t in tech.get("ranking", ()) if t in rows]
    if c["question_type"] == "comparison" and len(ranking) > 1:
        text = f"On the evidence, {ranking[0]} leads {', '.join(ranking[1:])}: " + "; ".join(
            map(figures, ranking)
        )
    else:
        lead = (
            f"The macro backdrop for {subject} reads"
            if c.get("dimension") == "macro"
            else f"The outlook for {subject} is"
        )
        text = f"{lead} {stance} (net {score:+.2f})"
        if rows:
            text += ": " + "; ".join(map(figures, ranking or list(rows)))
    return text + ".", {"ranking": ranking, **{t: dict(rows[t]) for t in ranking}}


def answer_synthesizer(request: AgentRequest) -> dict[str, Any]:
    c = classification_of(request)
    dimension = str(c.get("dimension") or "general")
    views = _views(request)
    answered = [v for v in views if not v.abstained]
    stance, score = _direction(answered)
    share = len(answered) / len(views) if views else 0.0
    mean_conf = math.fsum(v.confidence for v in answered) / len(answered) if answered else 0.0
    confidence = mean_conf * share
    tickers = list(c["tickers"])
    subject = ", ".join(tickers) or "the market"
    tech, risk = _report(answered, "technicals"), _report(answered, "risk")
    lead_agent = LEAD_AGENT.get(dimension)
    lead_answered = lead_agent is None or any(v.agent == lead_agent for v in answered)
    figures: dict[str, Any] = {}
    if not answered:
        answer = (
            f"The data supplied cannot answer this {c['question_type']} question about {subject}: every "
            f"selected analyst abstained. It needs {_MISSING.get(dimension, 'prices, news or macro data')}"
            f"{_price_hint(dimension, tickers)}."
        )
        stance = "neutral"
    elif not lead_answered:
        answer = (
            f"This {dimension} question about {subject} cannot be answered from the data supplied: "
            f"it needs {_MISSING.get(dimension, 'data for it')}{_price_hint(dimension, tickers)}. "
            "No view is inferred from prices or volatility."
        )
        stance, confidence = "neutral", 0.0
    elif dimension in ("risk", "downside") and risk:
        measured = list(_per_ticker(risk))
        missing = [t for t in tickers if t not in measured]
        if dimension == "risk":
            answer, figures = _risk_answer(risk, missing)
        else:
            answer, figures = _downside_answer(risk, c, missing)
        stance = "neutral"  # risk is not a direction
    elif dimension == "momentum" and _momentum_answer(tech)[0]:
        answer, figures = _momentum_answer(tech)
    else:
        answer, figures = _direction_answer(c, tech, stance, score, subject)
    notes = _notes(figures)
    if notes:
        answer += f" Data notes: {'; '.join(notes)}."
    if answered:
        answer += f" (confidence {confidence:.2f}, {len(answered)} of {len(views)} analysts with data.)"
    key_points = _key_points(views, answered)
    agents_used = [
        {"agent": v.agent, "stance": v.stance, "confidence": v.confidence, "abstained": v.abstained}
        for v in views
    ]
    return respond(
        request,
        stance=stance,
        confidence=confidence,
        recommendation=answer,
        rationale=f"confidence = mean analyst confidence {mean_conf:.2f} x share answering {share:.2f}",
        text=answer,
        fields={
            "question_type": c["question_type"],
            "dimension": dimension,
            "answer": answer,
            "key_points": key_points,
            "tickers": tickers,
            "figures": figures,
            "agents_used": agents_used,
            "net_score": round(score, 4),
            "voting": False,
        },
    )


def _notes(figures: Mapping[str, Any]) -> list[str]:
    """The quality notes of the series the answer used (stale, flat, outlier ticks), by ticker."""
    return [
        f"{ticker} {note}"
        for ticker, row in figures.items()
        if isinstance(row, Mapping)
        for note in row.get("quality", ())
    ]


def _price_hint(dimension: str, tickers: Sequence[str]) -> str:
    """How to supply prices from the command line, for the dimensions that rest on them."""
    if dimension in ("macro", "sentiment"):
        return ""
    named = ",".join(tickers) or "BTC"
    return (
        f"; `quorum run daily-market-analysis question=... tickers={named}` fetches them (--data, "
        "or the cache offline), or give --prices FILE or pricesByTicker in --input"
    )


def _key_points(views: Sequence[Opinion], answered: Sequence[Opinion]) -> list[str]:
    points = sorted(
        (e for v in answered for e in v.data.get("evidence", ()) if isinstance(e, Mapping)),
        key=lambda e: (-float(e.get("strength") or 0), str(e.get("claim"))),
    )
    out = [f"{e['claim']} ({e['agent']})" for e in points[:5]]
    out += [
        f"{v.agent} abstained: {'; '.join(v.data.get('data_gaps', ())) or 'no data'}"
        for v in views
        if v.abstained
    ]
    return out
