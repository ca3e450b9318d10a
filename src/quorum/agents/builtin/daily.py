"""Daily market analysis, first half: the question classifier and the agent selector.

The classifier reads ``input.question`` (and ``input.tickers`` when given) and decides, by keyword rules,
what kind of question it is:

- ``comparison``: two or more tickers and a comparing word (vs, versus, compare, better, or);
- otherwise the type whose keywords occur most often among ``risk``, ``macro``, ``sentiment`` and
  ``price-outlook`` (ties go in that order);
- ``general`` when no keyword matches.

Tickers come from ``input.tickers``, ``$SYMBOL`` tokens, upper-case symbols (minus common acronyms such
as CPI or FED) and a few well-known names (bitcoin -> BTC). The selector maps the type to 3–5 agents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin.context import find_artifact, input_of, respond
from quorum.agents.protocol import AgentRequest

__all__ = ("AGENTS_BY_TYPE", "agent_selector", "classify_question", "question_classifier")

# Each keyword matches at a word start (so "rate" finds "rates" but not "accurate");
# a trailing \b ends a whole word.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "risk": (
        "risk",
        "volatil",
        "drawdown",
        r"var\b",
        "hedg",
        "safe",
        "crash",
        "lose",
        "losing",
        "downside",
        "stop loss",
        "exposure",
        "tail",
    ),
    "macro": (
        r"fed\b",
        "federal reserve",
        "fomc",
        r"rates?\b",
        "inflation",
        r"cpi\b",
        r"gdp\b",
        "recession",
        "dollar",
        "macro",
        "yield",
        "economy",
        r"jobs\b",
        "employment",
        "central bank",
        "liquidity",
    ),
    "sentiment": ("news", "sentiment", "headline", "hype", "fear", "greed", "social", "mood"),
    "price-outlook": (
        "price",
        r"buy\b",
        r"sell\b",
        "go up",
        "go down",
        "target",
        "outlook",
        "bullish",
        "bearish",
        "rally",
        "forecast",
        "trend",
        "breakout",
        "support",
        "resistance",
        "momentum",
        "overbought",
        "oversold",
        r"rsi\b",
        r"macd\b",
        "moving average",
        r"rise\b",
        r"fall\b",
        "moon",
        r"dip\b",
    ),
}
_PATTERNS = {t: [(k, re.compile(r"\b" + k)) for k in words] for t, words in _KEYWORDS.items()}
_COMPARE = re.compile(r"\b(vs\.?|versus|compare[ds]?|comparison|better|worse|outperform\w*|or)\b")
_NAMES = {
    "bitcoin": "BTC",
    "ether": "ETH",
    "ethereum": "ETH",
    "solana": "SOL",
    "apple": "AAPL",
    "microsoft": "MSFT",
    "nvidia": "NVDA",
    "tesla": "TSLA",
    "amazon": "AMZN",
    "alphabet": "GOOGL",
    "google": "GOOGL",
    "s&p 500": "SPY",
    "s&p": "SPY",
    "nasdaq": "QQQ",
    "gold": "GLD",
}
_NOT_TICKERS_TEXT = (
    "I A AN THE US USA UK EU CPI GDP FED FOMC ETF AI CEO CFO IPO USD EUR GBP JPY YTD ATH Q1 Q2 Q3 Q4 "
    "OK VS OR AND IS IT BE TO OF IN ON AT BY DO SO IF NO UP PE EPS RSI MACD SMA EMA VIX VAR FX EV"
)
_NOT_TICKERS = frozenset(_NOT_TICKERS_TEXT.split())
_DOLLAR = re.compile(r"\$([A-Za-z][A-Za-z0-9.\-]{0,9})")
_UPPER = re.compile(r"\b([A-Z][A-Z0-9]{1,5}(?:[-/][A-Z]{3,4})?)\b")
_HORIZON = re.compile(
    r"\b(\d+)\s*(day|week|month|year)s?\b|\b(today|tomorrow|this week|this month|this year)\b"
)

AGENTS_BY_TYPE: Mapping[str, tuple[str, ...]] = {
    "price-outlook": ("market-technician", "news-sentiment", "risk-monitor"),
    "risk": ("risk-monitor", "market-technician", "macro-strategist"),
    "macro": ("macro-strategist", "risk-monitor", "news-sentiment"),
    "comparison": ("market-technician", "risk-monitor", "news-sentiment", "macro-strategist"),
    "sentiment": ("news-sentiment", "market-technician", "risk-monitor"),
    "general": ("market-technician", "macro-strategist", "news-sentiment", "risk-monitor"),
}


def _given_tickers(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Sequence):
        return []
    return [str(v).strip().upper() for v in value if str(v).strip()]


def _tickers(question: str, given: Sequence[str]) -> list[str]:
    found: list[str] = [str(t).strip().upper() for t in given if str(t).strip()]
    found += [m.upper() for m in _DOLLAR.findall(question)]
    found += [t for t in _UPPER.findall(question) if t not in _NOT_TICKERS]
    lower = question.lower()
    for name, symbol in _NAMES.items():
        if re.search(rf"(?<![a-z]){re.escape(name)}(?![a-z])", lower):
            found.append(symbol)
    # Remove "S&P" doubles (the 500 form and the short one) and keep the first-seen order.
    return list(dict.fromkeys(found))


def classify_question(question: str, given_tickers: Sequence[str] = ()) -> dict[str, Any]:
    lower = f" {question.lower()} "
    tickers = _tickers(question, given_tickers)
    matched = {t: [k for k, rx in pats if rx.search(lower)] for t, pats in _PATTERNS.items()}
    compare = bool(_COMPARE.search(lower)) and len(tickers) >= 2
    if compare:
        qtype = "comparison"
    else:
        best = max(matched, key=lambda t: len(matched[t]))  # dict order breaks ties: risk first
        qtype = best if matched[best] else "general"
    hm = _HORIZON.search(lower)
    horizon = hm.group(0) if hm else None
    signal = 1.0 if compare else len(matched.get(qtype, ()))
    total = sum(len(v) for v in matched.values()) + (1.0 if compare else 0.0)
    confidence = 0.3 if qtype == "general" else min(0.95, 0.5 + 0.45 * signal / max(total, 1.0))
    return {
        "kind": "question-classification",
        "question_type": qtype,
        "tickers": tickers,
        "horizon": horizon,
        "keywords": sorted({k.replace("\\b", "").replace("?", "") for v in matched.values() for k in v}),
        "confidence": round(confidence, 4),
        "agents": list(AGENTS_BY_TYPE[qtype]),
    }


def question_classifier(request: AgentRequest) -> dict[str, Any]:
    inputs = input_of(request)
    question = str(inputs.get("question") or request.prompt or "").strip()
    result = classify_question(question, _given_tickers(inputs.get("tickers")))
    tickers = ", ".join(result["tickers"]) or "none"
    text = (
        f"A {result['question_type']} question (tickers: {tickers}; keywords: "
        f"{', '.join(result['keywords']) or 'none'})."
    )
    return respond(
        request,
        stance="neutral",
        confidence=result["confidence"],
        recommendation=f"route to {', '.join(result['agents'])}",
        rationale=text,
        text=text,
        fields={
            "classification": result,
            "question_type": result["question_type"],
            "tickers": result["tickers"],
            "horizon": result["horizon"],
            "voting": False,
        },
    )


_NEEDS = {
    "market-technician": "prices",
    "risk-monitor": "prices",
    "news-sentiment": "news",
    "macro-strategist": "macro",
}


def agent_selector(request: AgentRequest) -> dict[str, Any]:
    """3–5 agents for the question type; the macro strategist joins a price-outlook question when macro data
    is supplied or the horizon is long (months, years)."""
    inputs = input_of(request)
    found = find_artifact(request, "question-classification")
    classification = (
        dict(found)
        if found is not None
        else classify_question(
            str(inputs.get("question") or request.prompt or ""), _given_tickers(inputs.get("tickers"))
        )
    )
    qtype = str(classification["question_type"])
    agents = list(AGENTS_BY_TYPE.get(qtype, AGENTS_BY_TYPE["general"]))
    horizon = str(classification.get("horizon") or "")
    long_view = "month" in horizon or "year" in horizon
    if qtype == "price-outlook" and (inputs.get("macro") or long_view):
        agents.append("macro-strategist")
    reasons = {
        a: f"{qtype} question; needs input.{_NEEDS[a]} "
        + ("(given)" if inputs.get(_NEEDS[a]) else "(missing: it will abstain)")
        for a in agents
    }
    text = f"Selected {len(agents)} agents for a {qtype} question: {', '.join(agents)}."
    return respond(
        request,
        stance="neutral",
        confidence=float(classification.get("confidence", 0.5)),
        recommendation=", ".join(agents),
        rationale=text,
        text=text,
        fields={
            "agents": agents,
            "selection": {
                "kind": "agent-selection",
                "agents": agents,
                "reasons": reasons,
                "question_type": qtype,
            },
            "reasons": reasons,
            "voting": False,
        },
    )
