"""Evidence: the unit of argument between specialists, and the rules that turn optional data into it.

An evidence item is a plain mapping ``{claim, direction, strength, metric, value, source, agent}``:
``direction`` is bullish / bearish / neutral, ``strength`` in [0, 1]. Analysts publish them; the
advocates, the red team and the risk officer pick them up by direction and strength.

The rules for optional data are deliberately simple and stated here:

- **news** (``input.news``: headlines, or mappings with ``headline``/``title``): each headline scores
  (positive words - negative words) / (positive + negative words) from the lexicon below; headlines
  with no lexicon word score nothing.
- **fundamentals** (``input.fundamentals``: mapping; ratios as fractions, 0.12 = 12%): see
  ``_FUNDAMENTAL_RULES`` and ``_INVERSE_RULES``.
- **macro** (``input.macro``: mapping): see :func:`macro_evidence`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = (
    "evidence",
    "fundamental_evidence",
    "macro_evidence",
    "net_score",
    "news_evidence",
    "stance_of",
)


def evidence(
    claim: str, direction: str, strength: float, *, metric: str, value: Any, source: str, agent: str
) -> dict[str, Any]:
    return {
        "claim": claim,
        "direction": direction,
        "strength": round(min(1.0, max(0.0, strength)), 4),
        "metric": metric,
        "value": value,
        "source": source,
        "agent": agent,
    }


def net_score(items: Iterable[Mapping[str, Any]]) -> float:
    """Strength-weighted direction in [-1, 1]: sum(sign * strength) / sum(strength) over directional items."""
    signed: list[float] = []
    strengths: list[float] = []
    for item in items:
        sign = {"bullish": 1.0, "bearish": -1.0}.get(str(item.get("direction")), 0.0)
        if sign:
            s = float(item.get("strength") or 0.0)
            signed.append(sign * s)
            strengths.append(s)
    # exactly rounded sums: the same score whatever order the answers arrived in (a parallel phase's
    # answers come in any order, and a cluster run must reach the verdict a local one reaches)
    den = math.fsum(strengths)
    return math.fsum(signed) / den if den else 0.0


def stance_of(score: float, threshold: float = 0.2) -> str:
    return "bullish" if score > threshold else "bearish" if score < -threshold else "neutral"


_POSITIVE_TEXT = (
    "beat beats surge surges soar soars rally rallies record upgrade upgraded growth grows approval "
    "approved adoption bullish gain gains rise rises rising strong profit profits partnership inflows "
    "breakout outperform outperforms expand expands expansion boost boosts recovery recovers optimism "
    "wins"
)
_POSITIVE = frozenset(_POSITIVE_TEXT.split())
_NEGATIVE_TEXT = (
    "miss misses plunge plunges crash crashes downgrade downgraded lawsuit ban banned hack hacked "
    "fraud bearish loss losses fall falls falling weak outflows probe recession default layoffs "
    "selloff sell-off slump slumps decline declines warning warns bankruptcy fine fined underperform "
    "fears"
)
_NEGATIVE = frozenset(_NEGATIVE_TEXT.split())
_WORD = re.compile(r"[a-z][a-z-]*")


def _headline(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        text = item.get("headline") or item.get("title") or item.get("text")
        return str(text) if text else None
    return None


def news_evidence(news: Any, *, agent: str) -> tuple[list[dict[str, Any]], int]:
    """Evidence from headlines (one item per scored headline) and how many headlines were read."""
    if not isinstance(news, Sequence) or isinstance(news, str):
        news = [news] if isinstance(news, str) and news.strip() else []
    items: list[dict[str, Any]] = []
    read = 0
    for i, raw in enumerate(news):
        text = _headline(raw)
        if not text:
            continue
        read += 1
        words = _WORD.findall(text.lower())
        pos = sum(w in _POSITIVE for w in words)
        neg = sum(w in _NEGATIVE for w in words)
        if pos + neg == 0:
            continue
        score = (pos - neg) / (pos + neg)
        direction = "bullish" if score > 0 else "bearish" if score < 0 else "neutral"
        items.append(
            evidence(
                f"headline reads {direction}: {text[:120]!r}",
                direction,
                abs(score) * 0.6,
                metric="headline_sentiment",
                value=round(score, 4),
                source=f"input.news[{i}]",
                agent=agent,
            )
        )
    return items, read


# (key, bullish when value >, bearish when value <, description). Ratios as fractions.
_FUNDAMENTAL_RULES: tuple[tuple[str, float, float, str], ...] = (
    ("revenue_growth", 0.10, 0.0, "revenue growth"),
    ("earnings_growth", 0.10, 0.0, "earnings growth"),
    ("profit_margin", 0.15, 0.0, "profit margin"),
    ("free_cash_flow_yield", 0.05, 0.0, "free cash flow yield"),
    ("active_addresses_growth", 0.05, -0.05, "active address growth (on-chain)"),
    ("transaction_volume_growth", 0.05, -0.05, "transaction volume growth (on-chain)"),
    ("hash_rate_growth", 0.05, -0.05, "hash rate growth (on-chain)"),
    ("fees_growth", 0.05, -0.05, "network fee growth (on-chain)"),
)
# (key, bullish when value <, bearish when value >, description): lower is better.
_INVERSE_RULES: tuple[tuple[str, float, float, str], ...] = (
    ("pe_ratio", 15.0, 35.0, "price/earnings ratio"),
    ("debt_to_equity", 0.5, 2.0, "debt to equity"),
    ("exchange_netflow", 0.0, 0.0, "exchange net flow (on-chain; inflows are selling pressure)"),
)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fundamental_evidence(data: Any, *, agent: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Evidence from ``input.fundamentals`` and the keys it did not use."""
    if not isinstance(data, Mapping):
        return [], []
    items: list[dict[str, Any]] = []
    used: set[str] = set()

    def add(key: str, value: float, direction: str, text: str) -> None:
        used.add(key)
        strength = 0.6 if direction != "neutral" else 0.2
        items.append(
            evidence(
                text,
                direction,
                strength,
                metric=key,
                value=value,
                source=f"input.fundamentals.{key}",
                agent=agent,
            )
        )

    for key, good, bad, what in _FUNDAMENTAL_RULES:
        v = _finite(data.get(key))
        if v is not None:
            add(key, v, "bullish" if v > good else "bearish" if v < bad else "neutral", f"{what} {v:.2%}")
    for key, good, bad, what in _INVERSE_RULES:
        v = _finite(data.get(key))
        if v is not None:
            add(key, v, "bullish" if v < good else "bearish" if v > bad else "neutral", f"{what} {v:g}")
    return items, sorted(k for k in data if k not in used)


_TRENDS = {"falling": 1.0, "easing": 1.0, "cutting": 1.0, "rising": -1.0, "hiking": -1.0, "tightening": -1.0}


def macro_evidence(data: Any, *, asset_class: str, agent: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Evidence from ``input.macro``; values in percent where they are rates (inflation 3.2 = 3.2%).

    - ``rate_trend``: falling / easing / cutting is bullish for risk assets; rising / hiking bearish.
    - ``inflation`` (%): above 4 bearish (tighter policy ahead), below 2.5 bullish.
    - ``gdp_growth`` (%): below 0 bearish (recession), above 2 bullish.
    - ``dollar_trend``: strengthening is bearish for crypto and commodities, weakening bullish.
    - ``liquidity_trend``: expanding bullish, contracting bearish.
    - ``vix``: above 25 bearish (stress), below 15 bullish.
    """
    if not isinstance(data, Mapping):
        return [], []
    items: list[dict[str, Any]] = []
    used: set[str] = set()

    def add(key: str, direction: str, strength: float, claim: str) -> None:
        used.add(key)
        items.append(
            evidence(
                claim,
                direction,
                strength,
                metric=key,
                value=data.get(key),
                source=f"input.macro.{key}",
                agent=agent,
            )
        )

    trend = str(data.get("rate_trend") or data.get("policy_rate_trend") or "").lower()
    key = "rate_trend" if "rate_trend" in data else "policy_rate_trend"
    if trend in _TRENDS:
        add(key, "bullish" if _TRENDS[trend] > 0 else "bearish", 0.6, f"policy rates {trend}")
    for k, hi, lo, what in (("inflation", 4.0, 2.5, "inflation"), ("gdp_growth", 2.0, 0.0, "GDP growth")):
        v = _finite(data.get(k))
        if v is None:
            continue
        if k == "inflation":
            direction = "bearish" if v > hi else "bullish" if v < lo else "neutral"
        else:
            direction = "bullish" if v > hi else "bearish" if v < lo else "neutral"
        add(k, direction, 0.5 if direction != "neutral" else 0.2, f"{what} {v:g}%")
    dollar = str(data.get("dollar_trend") or "").lower()
    if dollar in ("strengthening", "rising", "weakening", "falling"):
        hurt = dollar in ("strengthening", "rising")
        strength = 0.5 if asset_class == "crypto" else 0.3
        add("dollar_trend", "bearish" if hurt else "bullish", strength, f"US dollar {dollar}")
    liquidity = str(data.get("liquidity_trend") or "").lower()
    if liquidity in ("expanding", "contracting"):
        add(
            "liquidity_trend",
            "bullish" if liquidity == "expanding" else "bearish",
            0.5,
            f"liquidity {liquidity}",
        )
    vix = _finite(data.get("vix"))
    if vix is not None:
        direction = "bearish" if vix > 25 else "bullish" if vix < 15 else "neutral"
        add("vix", direction, 0.4 if direction != "neutral" else 0.2, f"VIX {vix:g}")
    return items, sorted(k for k in data if k not in used)
