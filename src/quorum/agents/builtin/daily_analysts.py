"""Daily market analysis, second half: the rapid analysts (the synthesizer is in :mod:`.daily_answer`).

- market technician: trend, RSI(14, Wilder) with its 70/30 levels and the return, per ticker;
- risk monitor: annualised volatility, maximum drawdown and horizon VaR/CVaR per ticker (20+ closes), at
  the question's horizon and confidence level (one bar at 95% when it names none), in money when the
  question names an amount, and a ranking riskiest first. Risk is not a direction: its stance is
  neutral and it publishes ``directional: false`` so the synthesizer leaves it out of the direction vote;
- macro strategist: ``input.macro``; news sentiment: ``input.news`` (rules in :mod:`.evidence`).

Price histories come by ticker: ``input.pricesByTicker`` (or a mapping ``input.prices``), and a plain
``input.prices`` list, which belongs to the question's first ticker. Only the question's tickers are
analysed when it names some; every supplied series when it names none. Each analyst abstains, saying what
is missing, when its data is absent. Conventions of every figure: :mod:`.daily_measures`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from quorum.agents.builtin.context import input_of, money, pct, respond
from quorum.agents.builtin.daily import classification_of
from quorum.agents.builtin.daily_answer import answer_synthesizer
from quorum.agents.builtin.daily_measures import (
    MIN_RISK_CLOSES,
    annualisation,
    annualised_volatility,
    horizon_bars,
    horizon_tail,
    max_drawdown,
    rsi_reading,
)
from quorum.agents.builtin.evidence import evidence, macro_evidence, net_score, news_evidence, stance_of
from quorum.agents.builtin.indicators import trend
from quorum.agents.builtin.prices import PricePoint, parse_price_history
from quorum.agents.protocol import AgentRequest
from quorum.market import quality_flags

__all__ = (
    "answer_synthesizer",
    "histories_of",
    "macro_strategist",
    "market_technician",
    "news_sentiment",
    "risk_monitor",
)

_DEFAULT_LEVEL = 0.95


def histories_of(request: AgentRequest) -> dict[str, tuple[tuple[PricePoint, ...], str]]:
    """Price history and its source by ticker (see the module doc); tickers without rows are left out."""
    inputs = input_of(request)
    tickers = list(classification_of(request)["tickers"])
    by_ticker: dict[str, tuple[str, Any]] = {}
    for field in ("prices", "pricesByTicker"):  # pricesByTicker wins on a shared ticker
        raw = inputs.get(field)
        if isinstance(raw, Mapping):
            for key, value in raw.items():
                by_ticker[str(key).strip().upper()] = (f"input.{field}.{key}", value)
    out: dict[str, tuple[tuple[PricePoint, ...], str]] = {}
    plain = inputs.get("prices")
    if plain is not None and not isinstance(plain, Mapping):
        first = tickers[0] if tickers else "ASSET"
        out[first] = (parse_price_history(plain, source="prices"), "input.prices")
    # A question that names its tickers is answered about those; one that names none, about every series.
    for ticker in tickers or list(by_ticker):
        if ticker in by_ticker and ticker not in out:
            source, value = by_ticker[ticker]
            out[ticker] = (parse_price_history(value, source=source.removeprefix("input.")), source)
    return {t: h for t, h in out.items() if h[0]}


def _started_at(request: AgentRequest) -> dt.datetime | None:
    """The execution's start (epoch seconds from the engine, ISO text from a driver), for data age."""
    execution = request.context.get("execution")
    value = execution.get("started_at") if isinstance(execution, Mapping) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return None


def quality_notes(request: AgentRequest, history: tuple[PricePoint, ...], horizon_days: int) -> list[str]:
    """The data layer's quality flags of a history (stale, flat, outlier ticks), one line each; the age is
    judged against the execution's start and the question's horizon, and only when that start is known."""
    now = _started_at(request)
    flags = quality_flags(history, windows=(), horizon_days=float(horizon_days), now=now)
    return [
        f"{f.kind}: {f.message}"
        for f in flags
        if f.kind != "too-few-observations" and (now or f.kind != "stale")
    ]


def _abstain(request: AgentRequest, topic: str, missing: str, why: str = "") -> dict[str, Any]:
    text = (
        f"{request.agent_id} abstains: {why or f'no {missing} was supplied (input.{missing})'}; "
        "nothing is estimated."
    )
    return respond(
        request,
        stance="neutral",
        confidence=0.0,
        recommendation="abstain",
        rationale=text,
        text=text,
        fields={topic: {}, "evidence": []},
        abstained=True,
        data_gaps=[why or f"no {missing}"],
    )


def _finish(
    request: AgentRequest,
    topic: str,
    items: list[dict[str, Any]],
    report: Any,
    confidence: float,
    headline: str,
    *,
    directional: bool = True,
) -> dict[str, Any]:
    score = net_score(items)
    stance = stance_of(score) if directional else "neutral"
    top = sorted(items, key=lambda e: (-e["strength"], e["claim"]))[:3]
    claims = "; ".join(e["claim"] for e in top) or "no signal"
    text = f"{headline} " + (f"Stance {stance} ({score:+.2f}): {claims}." if directional else f"{claims}.")
    return respond(
        request,
        stance=stance,
        confidence=confidence,
        recommendation=f"{stance} view" if directional else "risk figures (no directional view)",
        rationale=text,
        text=text,
        fields={topic: report, "evidence": items, "directional": directional},
    )


def market_technician(request: AgentRequest) -> dict[str, Any]:
    agent = str(request.agent_id)
    items: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    for ticker, (history, source) in histories_of(request).items():
        cs = [p.close for p in history]
        t = trend(cs)
        if t is None:
            continue
        reading = rsi_reading(cs)
        report[ticker] = {
            "trend": t.direction,
            "score": round(t.score, 4),
            "rsi_14": reading.value if reading else None,
            "rsi_reading": reading.reading if reading else None,
            "return": cs[-1] / cs[0] - 1.0,
            "last_close": cs[-1],
            "observations": len(cs),
            "source": source,
            "quality": quality_notes(request, history, 1),
        }
        direction = "bullish" if t.score > 0.2 else "bearish" if t.score < -0.2 else "neutral"
        items.append(
            evidence(
                f"{ticker} trend {t.direction} (score {t.score:+.2f})",
                direction,
                abs(t.score),
                metric="trend",
                value=round(t.score, 4),
                source=f"{source} ({len(cs)} closes)",
                agent=agent,
            )
        )
        if reading is not None:
            # An extreme RSI is read as a stretched move, likely to pause: a contrary, modest signal.
            contrary = {"overbought": "bearish", "oversold": "bullish"}.get(reading.reading, "neutral")
            items.append(
                evidence(
                    f"{ticker} {reading.describe()}",
                    contrary,
                    0.3 if contrary != "neutral" else 0.1,
                    metric="rsi_14",
                    value=round(reading.value, 2),
                    source=source,
                    agent=agent,
                )
            )
    if not report:
        return _abstain(
            request, "technicals", "prices", "no price history of 6 closes or more (input.prices)"
        )
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
    c = classification_of(request)
    level = float(c.get("confidence_level") or _DEFAULT_LEVEL)
    days = c.get("horizon_days")
    amount = c.get("amount")
    items: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    short: list[str] = []
    for ticker, (history, source) in histories_of(request).items():
        cs = [p.close for p in history]
        if len(cs) < MIN_RISK_CLOSES:
            short.append(f"{ticker}: {len(cs)} closes, fewer than the {MIN_RISK_CLOSES} risk needs")
            continue
        freq = annualisation(history)
        bars = horizon_bars(int(days), freq.bars_per_year) if isinstance(days, int) else 1
        vol = annualised_volatility(cs, freq.bars_per_year)
        tail = horizon_tail(cs, bars, level)
        if vol is None or tail is None:
            continue
        entry: dict[str, Any] = {
            "annual_volatility": vol,
            "max_drawdown": max_drawdown(cs),
            "var": tail.var,
            "cvar": tail.cvar,
            "level": level,
            "horizon_bars": bars,
            "horizon_days": days if isinstance(days, int) else None,
            "method": tail.method,
            "method_detail": tail.describe(),
            "frequency": freq.basis,
            "bars_per_year": freq.bars_per_year,
            "observations": len(cs),
            "source": source,
            "quality": quality_notes(request, history, days if isinstance(days, int) else 1),
        }
        if isinstance(amount, int | float):
            entry |= {
                "amount": float(amount),
                "loss_at_var": amount * tail.var,
                "loss_at_cvar": amount * tail.cvar,
            }
        report[ticker] = entry
        money_part = (
            f", {money(entry['loss_at_var'])} on {money(entry['amount'])}" if "loss_at_var" in entry else ""
        )
        items.append(
            evidence(
                f"{ticker} volatility {pct(vol)} a year ({freq.bars_per_year:g} bars a year), "
                f"max drawdown {pct(entry['max_drawdown'])}, "
                f"{bars}-bar VaR{level * 100:g} {pct(tail.var)}{money_part} ({tail.method})",
                "neutral",
                0.4,
                metric="annual_volatility",
                value=vol,
                source=f"{source} ({len(cs)} closes)",
                agent=agent,
            )
        )
    if not report:
        why = "; ".join(short) if short else ""
        return _abstain(request, "risk", "prices", why)
    report["ranking"] = sorted(report, key=lambda k: -report[k]["annual_volatility"])
    if short:
        report["not_measured"] = short
    smallest = min(v["observations"] for k, v in report.items() if isinstance(v, Mapping))
    confidence = min(0.85, 0.4 + 0.15 * len(report["ranking"])) * min(1.0, smallest / 60)
    headline = f"Risk for {', '.join(report['ranking'])} (riskiest first)."
    return _finish(request, "risk", items, report, confidence, headline, directional=False)


def macro_strategist(request: AgentRequest) -> dict[str, Any]:
    # The asset class comes from the calendar, never the ticker's name: a series that trades on weekends
    # is 24/7 (crypto-like, more exposed to the dollar); without dates it is not assumed.
    weekends = any(annualisation(h).calendar == "24/7" for h, _ in histories_of(request).values())
    asset_class = "crypto" if weekends else "equity"
    items, _ = macro_evidence(
        input_of(request).get("macro"), asset_class=asset_class, agent=str(request.agent_id)
    )
    if not items:
        return _abstain(request, "macro", "macro")
    return _finish(
        request,
        "macro",
        items,
        {"factors": [e["metric"] for e in items], "asset_class": "24/7" if weekends else "trading days"},
        min(0.75, 0.25 + 0.1 * len(items)),
        "Macro backdrop.",
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
