"""Reading a market question: the amount, the horizon, the confidence level, the tickers and what is asked.

The daily workflow answers on the dimension the question asks about, so the question is parsed, not
matched against one phrasing:

- **amount**: a number with a currency sign or code (``$10k``, ``€2.5M``, ``10,000 USD``, ``GBP 500``),
  a magnitude suffix (``10k``, ``1.2M``, ``3bn``, ``2 million``), or a bare number of 100 or more that is
  neither a horizon (``30 days``), a percentage (``95%``) nor a year (``2025``).
- **horizon**: ``30 days``, ``2 weeks``, ``6 months``, ``1y``, ``90d``, number words (``a week``,
  ``one month``, ``two weeks``), ``next week`` / ``next month`` / ``next quarter`` / ``next year``,
  ``this week``, ``today``, ``tomorrow``, ``overnight``, ``a fortnight``. In calendar days: a week is 7,
  a month 30, a quarter 91, a year 365.
- **confidence level**: ``99%``, ``at 97.5% confidence``, ``VaR 99``; 95% when none is given.
- **tickers**: given ones first, then ``$SYMBOL`` tokens, upper-case symbols (minus common acronyms such
  as CPI or FED and currency codes), then well-known names (bitcoin -> BTC).
- **dimension** (what the answer is about): ``downside`` (a loss in money or percent: downside, lose,
  VaR, worst case, or a risk question with an amount), ``risk`` (riskier, volatile, drawdown, safer),
  ``momentum`` (overbought, oversold, RSI), ``macro``, ``sentiment``, ``direction`` (will it go up, buy,
  outlook, which is the better buy) and ``general``.
- **question type** (which analysts to ask): ``comparison`` (two or more tickers and a comparing word),
  else the type whose keywords occur most among risk, macro, sentiment and price-outlook (ties in that
  order), else ``general``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = (
    "AGENTS_BY_TYPE",
    "Amount",
    "QuestionHorizon",
    "classify_question",
    "parse_amount",
    "parse_confidence_level",
    "parse_question_horizon",
    "question_dimension",
    "question_tickers",
)

# --- amounts ---------------------------------------------------------------------------------------

_CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "USDT", "USDC")
_CURRENCY_WORDS = {"dollars": "USD", "dollar": "USD", "euros": "EUR", "euro": "EUR", "pounds": "GBP"}
_SUFFIX = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9}
_SUFFIX["billion"] = 1e9
_TIME_WORDS = r"(?:d|days?|w|wks?|weeks?|mo|months?|y|yrs?|years?|quarters?|hours?|h|sessions?|bars?)\b"
_NUMBER = r"\d{1,3}(?:[,_ ]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_AMOUNT = re.compile(
    r"(?P<pre>[$€£¥]|\b(?:" + "|".join(_CURRENCY_CODES) + r")\s?)?"
    r"(?<![\w.])(?P<num>" + _NUMBER + r")(?!\d|[,_ ]\d{3}\b|\.\d)"
    r"(?:\s?(?P<suf>k|mm|mn|m|bn|b|thousand|million|billion)\b)?"
    r"(?P<post>\s?(?:%|" + "|".join(_CURRENCY_CODES) + r"\b|dollars?\b|euros?\b|pounds\b))?"
    r"(?!\s?[-/]?" + _TIME_WORDS + r")",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Amount:
    """A sum of money named in the question; ``currency`` is None when the question gives none."""

    value: float
    currency: str | None
    text: str


def _currency(pre: str | None, post: str | None) -> str | None:
    for raw in (pre, post):
        token = (raw or "").strip()
        if not token:
            continue
        if token in _CURRENCY_SIGNS:
            return _CURRENCY_SIGNS[token]
        if token.upper() in _CURRENCY_CODES:
            return token.upper()
        if token.lower() in _CURRENCY_WORDS:
            return _CURRENCY_WORDS[token.lower()]
    return None


def parse_amount(question: str) -> Amount | None:
    """The first sum of money in ``question`` (see the module doc for what counts), or None."""
    for m in _AMOUNT.finditer(question):
        post = (m.group("post") or "").strip()
        if post == "%":
            continue
        number_text = m.group("num")
        number = float(re.sub(r"[,_ ]", "", number_text))
        suffix = (m.group("suf") or "").lower()
        currency = _currency(m.group("pre"), post)
        grouped = bool(re.search(r"[,_ ]", number_text))
        year_like = not grouped and "." not in number_text and 1900 <= number <= 2100
        if not (currency or suffix or grouped or (number >= 100 and not year_like)):
            continue
        value = number * _SUFFIX.get(suffix, 1.0)
        if value <= 0 or not math.isfinite(value):
            continue
        return Amount(value=value, currency=currency, text=m.group(0).strip())
    return None


# --- horizons --------------------------------------------------------------------------------------

_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "quarter": 91, "year": 365}
_UNIT_ALIASES = {
    "d": "day",
    "w": "week",
    "wk": "week",
    "mo": "month",
    "m": "month",
    "y": "year",
    "yr": "year",
}
_COUNT_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "couple of": 2,
    "few": 3,
}
_UNIT_RX = r"(days?|weeks?|fortnights?|months?|quarters?|years?|d|wk|w|mo|yr|y)"
_COUNTED = re.compile(
    r"\b(\d+(?:\.\d+)?|"
    + "|".join(sorted(_COUNT_WORDS, key=len, reverse=True))
    + r")[\s-]*"
    + _UNIT_RX
    + r"\b"
)
_NAMED = {
    "overnight": 1,
    "today": 1,
    "tomorrow": 1,
    "intraday": 1,
    "this week": 7,
    "next week": 7,
    "this month": 30,
    "next month": 30,
    "this quarter": 91,
    "next quarter": 91,
    "this year": 365,
    "next year": 365,
    "fortnight": 14,
}
_NAMED_RX = re.compile(r"\b(" + "|".join(sorted(_NAMED, key=len, reverse=True)) + r")\b")


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionHorizon:
    """The horizon a question names: the words used and their length in calendar days."""

    text: str
    calendar_days: int


def _unit(word: str) -> str:
    word = word.rstrip("s") if len(word) > 2 else word
    return _UNIT_ALIASES.get(word, word)


def parse_question_horizon(question: str) -> QuestionHorizon | None:
    """The first horizon in ``question`` ("30 days", "a week", "next month"), or None."""
    lower = question.lower()
    counted = _COUNTED.search(lower)
    named = _NAMED_RX.search(lower)
    if counted and (named is None or counted.start() <= named.start()):
        count_text, unit = counted.group(1), _unit(counted.group(2))
        count = _COUNT_WORDS.get(count_text)
        number = float(count) if count is not None else float(count_text)
        days = round(number * _UNIT_DAYS[unit])
        if 1 <= days <= 36_500:
            return QuestionHorizon(text=counted.group(0), calendar_days=days)
    if named:
        return QuestionHorizon(text=named.group(0), calendar_days=_NAMED[named.group(0)])
    return None


# --- confidence level ------------------------------------------------------------------------------

_LEVEL = re.compile(r"(\d{2}(?:\.\d+)?)\s?%|\b(?:var|cvar|es)\s?\(?(\d{2}(?:\.\d+)?)\b", re.IGNORECASE)


def parse_confidence_level(question: str) -> float | None:
    """A VaR confidence level named in the question (``99%``, ``VaR 97.5``) between 80% and 99.9%."""
    for m in _LEVEL.finditer(question):
        value = float(m.group(1) or m.group(2)) / 100.0
        if 0.8 <= value <= 0.999:
            return value
    return None


# --- tickers ---------------------------------------------------------------------------------------

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
    "I A AN THE US USA UK EU CPI GDP FED FOMC ETF AI CEO CFO IPO USD EUR GBP JPY CHF CAD AUD YTD ATH "
    "Q1 Q2 Q3 Q4 OK VS OR AND IS IT BE TO OF IN ON AT BY DO SO IF NO UP PE EPS RSI MACD SMA EMA VIX "
    "VAR CVAR ES FX EV MM MN BN K M B"
)
_NOT_TICKERS = frozenset(_NOT_TICKERS_TEXT.split())
_DOLLAR_TICKER = re.compile(r"\$([A-Za-z][A-Za-z0-9.\-]{0,9})")
_UPPER = re.compile(r"\b([A-Z][A-Z0-9]{1,5}(?:[-/][A-Z]{3,4})?)\b")


def question_tickers(question: str, given: Sequence[str] = ()) -> list[str]:
    """The tickers of a question, given ones first, without repeats, in the order first seen."""
    found: list[str] = [str(t).strip().upper() for t in given if str(t).strip()]
    found += [m.upper() for m in _DOLLAR_TICKER.findall(question)]
    found += [t for t in _UPPER.findall(question) if t not in _NOT_TICKERS]
    lower = question.lower()
    for name, symbol in _NAMES.items():
        if re.search(rf"(?<![a-z]){re.escape(name)}(?![a-z])", lower):
            found.append(symbol)
    return list(dict.fromkeys(found))


# --- what is asked ---------------------------------------------------------------------------------

# Each keyword matches at a word start (so "rate" finds "rates" but not "accurate"); a trailing \b ends
# a whole word.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "risk": (
        "risk",
        "volatil",
        "drawdown",
        r"c?var\b",
        "value at risk",
        "expected shortfall",
        "hedg",
        "safe",
        "crash",
        "lose",
        "losing",
        r"loss",
        "downside",
        "worst case",
        "stop loss",
        "exposure",
        "tail",
    ),
    "macro": (
        r"fed\b",
        "federal reserve",
        "fomc",
        r"rates?\b",
        "rate hike",
        "rate cut",
        "inflation",
        r"cpi\b",
        r"gdp\b",
        "recession",
        "the dollar",
        "dollar index",
        r"dxy\b",
        "macro",
        "yield",
        "economy",
        r"jobs\b",
        "employment",
        "central bank",
        "liquidity",
        "tariff",
    ),
    "sentiment": ("news", "sentiment", "headline", "hype", "fear", "greed", "social", "mood", "narrative"),
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
_COMPARE = re.compile(r"\b(vs\.?|versus|compare[ds]?|comparison|better|worse|outperform\w*|or|which)\b")
_DOWNSIDE = re.compile(
    r"\b(downside|lose|losing|loss|var|cvar|value at risk|expected shortfall|worst case|how much could)"
)
_RISK = re.compile(r"\b(risk|volatil|drawdown|safe|dangerous|swing|tail)")
_MOMENTUM = re.compile(r"\b(overbought|oversold|over-bought|over-sold|rsi\b|stretched|overextended)")
_DIRECTION = re.compile(
    r"\b(go up|go down|rise|fall|rally|buy|sell|outlook|forecast|target|bullish|bearish|trend|moon|dip)"
)

AGENTS_BY_TYPE: Mapping[str, tuple[str, ...]] = {
    "price-outlook": ("market-technician", "news-sentiment", "risk-monitor"),
    "risk": ("risk-monitor", "market-technician", "macro-strategist"),
    "macro": ("macro-strategist", "risk-monitor", "news-sentiment"),
    "comparison": ("market-technician", "risk-monitor", "news-sentiment", "macro-strategist"),
    "sentiment": ("news-sentiment", "market-technician", "risk-monitor"),
    "general": ("market-technician", "macro-strategist", "news-sentiment", "risk-monitor"),
}


def question_dimension(question: str, matched: Mapping[str, Sequence[str]], has_amount: bool) -> str:
    """What the answer is about (see the module doc); the first rule that applies wins."""
    lower = question.lower()
    if _DOWNSIDE.search(lower) or (has_amount and _RISK.search(lower)):
        return "downside"
    if _RISK.search(lower):
        return "risk"
    if _MOMENTUM.search(lower):
        return "momentum"
    if matched.get("macro"):
        return "macro"
    if matched.get("sentiment"):
        return "sentiment"
    if _DIRECTION.search(lower) or matched.get("price-outlook"):
        return "direction"
    return "general"


def classify_question(question: str, given_tickers: Sequence[str] = ()) -> dict[str, Any]:
    """The classification artifact (``kind: question-classification``) the daily agents share."""
    lower = f" {question.lower()} "
    tickers = question_tickers(question, given_tickers)
    matched = {t: [k for k, rx in pats if rx.search(lower)] for t, pats in _PATTERNS.items()}
    compare = bool(_COMPARE.search(lower)) and len(tickers) >= 2
    if compare:
        qtype = "comparison"
    else:
        best = max(matched, key=lambda t: len(matched[t]))  # dict order breaks ties: risk first
        qtype = best if matched[best] else "general"
    amount = parse_amount(question)
    horizon = parse_question_horizon(question)
    dimension = question_dimension(question, matched, amount is not None)
    if compare and dimension == "general":
        dimension = "direction"
    signal = 1.0 if compare else len(matched.get(qtype, ()))
    total = sum(len(v) for v in matched.values()) + (1.0 if compare else 0.0)
    confidence = 0.3 if qtype == "general" else min(0.95, 0.5 + 0.45 * signal / max(total, 1.0))
    return {
        "kind": "question-classification",
        "question_type": qtype,
        "dimension": dimension,
        "tickers": tickers,
        "horizon": horizon.text if horizon else None,
        "horizon_days": horizon.calendar_days if horizon else None,
        "amount": amount.value if amount else None,
        "currency": amount.currency if amount else None,
        "confidence_level": parse_confidence_level(question),
        "keywords": sorted({k.replace("\\b", "").replace("?", "") for v in matched.values() for k in v}),
        "confidence": round(confidence, 4),
        "agents": list(AGENTS_BY_TYPE[qtype]),
    }
