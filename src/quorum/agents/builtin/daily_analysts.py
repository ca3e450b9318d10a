"""Daily market analysis, second half: the rapid analysts and the answer synthesizer.

- market technician: trend, RSI, MACD and momentum per ticker (``input.prices``: a list for one ticker,
  or a mapping ticker -> list);
- risk monitor: annualised volatility, maximum drawdown and one-day VaR95 per ticker (20+ closes). Its
  stance compares volatility with the asset class's usual range: equities above 35% bearish, below 20%
  bullish; crypto above 80% bearish, below 50% bullish;
- macro strategist: ``input.macro``; news sentiment: ``input.news`` (rules in :mod:`.evidence`);
- answer synthesizer: the confidence-weighted stance of the analysts who answered, the strongest points,
  and the confidence discounted by the share of analysts who abstained.

Each abstains, saying what is missing, when its data is absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin.advocates import analyst_views, majority_view
from quorum.agents.builtin.context import find_artifact, input_of, pct, respond
from quorum.agents.builtin.daily import classify_question
from quorum.agents.builtin.evidence import evidence, macro_evidence, net_score, news_evidence, stance_of
from quorum.agents.builtin.indicators import rsi, trend
from quorum.agents.builtin.prices import PricePoint, closes, parse_price_history
from quorum.agents.builtin.risk import annualised_volatility, historical_var_cvar, is_crypto, max_drawdown
from quorum.agents.builtin.snapshot import MIN_RISK_OBSERVATIONS
from quorum.agents.protocol import AgentRequest

__all__ = ("answer_synthesizer", "macro_strategist", "market_technician", "news_sentiment", "risk_monitor")


def _classification(request: AgentRequest) -> dict[str, Any]:
    found = find_artifact(request, "question-classification")
    if found is not None:
        return dict(found)
    inputs = input_of(request)
    given = inputs.get("tickers")
    tickers = given.split(",") if isinstance(given, str) else given if isinstance(given, Sequence) else ()
    return classify_question(str(inputs.get("question") or ""), [str(t).strip().upper() for t in tickers])


def _histories(request: AgentRequest) -> dict[str, tuple[PricePoint, ...]]:
    """Price histories by ticker: ``input.pricesByTicker`` / a mapping ``input.prices`` (ticker -> rows),
    and a plain ``input.prices`` list, which belongs to the question's first ticker ("ASSET" if none)."""
    inputs = input_of(request)
    tickers = list(_classification(request)["tickers"])
    by_ticker: dict[str, tuple[str, Any]] = {}
    for field in ("prices", "pricesByTicker"):  # pricesByTicker wins on a shared ticker
        raw = inputs.get(field)
        if isinstance(raw, Mapping):
            for key, value in raw.items():
                by_ticker[str(key).strip().upper()] = (f"{field}.{key}", value)
    out: dict[str, tuple[PricePoint, ...]] = {}
    plain = inputs.get("prices")
    if plain is not None and not isinstance(plain, Mapping):
        first = tickers[0] if tickers else "ASSET"
        out[first] = parse_price_history(plain, source="prices")
    for ticker in [*tickers, *(t for t in by_ticker if t not in tickers)]:
        if ticker in by_ticker and ticker not in out:
            source, value = by_ticker[ticker]
            out[ticker] = parse_price_history(value, source=source)
    return {t: h for t, h in out.items() if h}


def _abstain(request: AgentRequest, topic: str, missing: str) -> dict[str, Any]:
    text = f"{request.agent_id} abstains: no {missing} was supplied (input.{missing}); nothing is estimated."
    return respond(
        request,
        stance="neutral",
        confidence=0.0,
        recommendation="abstain",
        rationale=text,
        text=text,
        fields={topic: {}, "evidence": []},
        abstained=True,
        data_gaps=[f"no {missing}"],
    )


def _finish(
    request: AgentRequest,
    topic: str,
    items: list[dict[str, Any]],
    report: Any,
    confidence: float,
    headline: str,
) -> dict[str, Any]:
    score = net_score(items)
    stance = stance_of(score)
    top = sorted(items, key=lambda e: (-e["strength"], e["claim"]))[:3]
    text = (
        f"{headline} Stance {stance} ({score:+.2f}): "
        + ("; ".join(e["claim"] for e in top) or "no signal")
        + "."
    )
    return respond(
        request,
        stance=stance,
        confidence=confidence,
        recommendation=f"{stance} view",
        rationale=text,
        text=text,
        fields={topic: report, "evidence": items},
    )


def market_technician(request: AgentRequest) -> dict[str, Any]:
    histories = _histories(request)
    agent = str(request.agent_id)
    items: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    for ticker, history in histories.items():
        cs = closes(history)
        t = trend(cs)
        if t is None:
            continue
        r = rsi(cs)
        report[ticker] = {
            "trend": t.direction,
            "score": round(t.score, 4),
            "rsi_14": r,
            "return": cs[-1] / cs[0] - 1.0,
            "observations": len(cs),
        }
        direction = "bullish" if t.score > 0.2 else "bearish" if t.score < -0.2 else "neutral"
        items.append(
            evidence(
                f"{ticker} trend {t.direction} (score {t.score:+.2f})",
                direction,
                abs(t.score),
                metric="trend",
                value=round(t.score, 4),
                source=f"input.prices ({len(cs)} closes)",
                agent=agent,
            )
        )
        if r is not None and (r > 70 or r < 30):
            items.append(
                evidence(
                    f"{ticker} RSI(14) {r:.1f}",
                    "bearish" if r > 70 else "bullish",
                    0.3,
                    metric="rsi_14",
                    value=round(r, 2),
                    source="input.prices",
                    agent=agent,
                )
            )
    if not report:
        return _abstain(request, "technicals", "prices")
    ranking = sorted(report, key=lambda k: -report[k]["score"])
    report["ranking"] = ranking
    n = min(v["observations"] for k, v in report.items() if k != "ranking")
    confidence = (0.35 + 0.5 * abs(net_score(items))) * min(1.0, n / 60)
    return _finish(
        request,
        "technicals",
        items,
        report,
        confidence,
        f"Technicals for {', '.join(ranking)} (strongest first).",
    )


def risk_monitor(request: AgentRequest) -> dict[str, Any]:
    agent = str(request.agent_id)
    items: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    for ticker, history in _histories(request).items():
        cs = closes(history)
        if len(cs) < MIN_RISK_OBSERVATIONS:
            continue
        crypto = is_crypto(ticker)
        vol = annualised_volatility(cs, 365 if crypto else 252)
        dd, tail = max_drawdown(cs), historical_var_cvar(cs)
        if vol is None or dd is None or tail is None:
            continue
        report[ticker] = {
            "annual_volatility": vol,
            "max_drawdown": dd.fraction,
            "var95_1d": tail.var,
            "cvar95_1d": tail.cvar,
            "periods_per_year": 365 if crypto else 252,
        }
        high, low = (0.80, 0.50) if crypto else (0.35, 0.20)
        direction = "bearish" if vol > high else "bullish" if vol < low else "neutral"
        items.append(
            evidence(
                f"{ticker} volatility {pct(vol)} (usual range {pct(low, 0)}–{pct(high, 0)}), "
                f"max drawdown {pct(dd.fraction)}, 1-day VaR95 {pct(tail.var)}",
                direction,
                0.5 if direction != "neutral" else 0.2,
                metric="annual_volatility",
                value=vol,
                source=f"input.prices ({len(cs)} closes)",
                agent=agent,
            )
        )
    if not report:
        return _abstain(request, "risk", "prices")
    return _finish(
        request, "risk", items, report, min(0.85, 0.4 + 0.15 * len(report)), f"Risk for {', '.join(report)}."
    )


def macro_strategist(request: AgentRequest) -> dict[str, Any]:
    tickers = _classification(request)["tickers"]
    asset_class = "crypto" if any(is_crypto(t) for t in tickers) else "equity"
    items, _ = macro_evidence(
        input_of(request).get("macro"), asset_class=asset_class, agent=str(request.agent_id)
    )
    if not items:
        return _abstain(request, "macro", "macro")
    return _finish(
        request,
        "macro",
        items,
        {"factors": [e["metric"] for e in items], "asset_class": asset_class},
        min(0.75, 0.25 + 0.1 * len(items)),
        f"Macro backdrop for {asset_class}.",
    )


def news_sentiment(request: AgentRequest) -> dict[str, Any]:
    items, read = news_evidence(input_of(request).get("news"), agent=str(request.agent_id))
    if read == 0:
        return _abstain(request, "sentiment", "news")
    confidence = min(0.75, 0.15 + 0.1 * len(items)) if items else 0.1
    return _finish(
        request,
        "sentiment",
        items,
        {"headlines_read": read, "headlines_scored": len(items)},
        confidence,
        f"News flow: {len(items)} of {read} headlines carry sentiment.",
    )


def answer_synthesizer(request: AgentRequest) -> dict[str, Any]:
    c = _classification(request)
    views = analyst_views(request)
    answered = [v for v in views if not v.abstained]
    stance, score = majority_view(answered)
    if answered and abs(score) < 0.2:
        stance = "neutral"
    share = len(answered) / len(views) if views else 0.0
    mean_conf = sum(v.confidence for v in answered) / len(answered) if answered else 0.0
    confidence = mean_conf * share
    points = sorted(
        (e for v in answered for e in v.data.get("evidence", ()) if isinstance(e, Mapping)),
        key=lambda e: (-float(e.get("strength") or 0), str(e.get("claim"))),
    )
    key_points = [f"{e['claim']} ({e['agent']})" for e in points[:5]]
    key_points += [
        f"{v.agent} abstained: {'; '.join(v.data.get('data_gaps', ())) or 'no data'}"
        for v in views
        if v.abstained
    ]
    tickers = list(c["tickers"])
    subject = ", ".join(tickers) or "the market"
    if not answered:
        answer = (
            f"The data supplied cannot answer this {c['question_type']} question about {subject}: every "
            "selected analyst abstained. Supply prices, news or macro data and ask again."
        )
    else:
        ranking = next(
            (
                v.data["technicals"]["ranking"]
                for v in answered
                if isinstance(v.data.get("technicals"), Mapping) and "ranking" in v.data["technicals"]
            ),
            None,
        )
        lead = {
            "comparison": f"On the evidence, {ranking[0]} leads {', '.join(ranking[1:])}"
            if ranking and len(ranking) > 1
            else f"The comparison of {subject} is {stance}",
            "risk": f"The risk picture for {subject} is {stance} (bullish = risk contained)",
            "macro": f"The macro backdrop for {subject} reads {stance}",
        }.get(c["question_type"], f"The outlook for {subject} is {stance}")
        answer = (
            f"{lead} (net {score:+.2f}, confidence {confidence:.2f}, {len(answered)} of {len(views)} "
            f"analysts with data). Strongest point: {key_points[0] if key_points else 'none'}."
        )
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
            "answer": answer,
            "key_points": key_points,
            "tickers": tickers,
            "agents_used": agents_used,
            "net_score": round(score, 4),
            "voting": False,
        },
    )
