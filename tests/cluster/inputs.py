"""Committee inputs on generated markets (deterministic: a seeded random walk ending today)."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any


def series(drift: float, vol: float, *, seed: int, n: int = 250) -> list[dict[str, Any]]:
    rng, price, rows = random.Random(seed), 100.0, []
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=n - 1)
    for i in range(n):
        if i:
            price *= math.exp(rng.gauss(drift, vol))
        rows.append({"date": (day + dt.timedelta(days=i)).isoformat(), "close": round(price, 6)})
    return rows


def committee_input(seed: int) -> dict[str, Any]:
    """The seed picks the market: a trend, a sideways one or a falling one, with its own noise."""
    drift, vol = ((0.004, 0.012), (0.0, 0.03), (-0.004, 0.02))[seed % 3]
    return {
        "ticker": "XYZ", "amount": 10_000, "timeHorizon": "30 days", "riskTolerance": "medium",
        "prices": series(drift, vol, seed=seed),
        "news": ["Adoption grows as approval nears", "Record inflows, analysts upgrade"],
        "fundamentals": {"revenue_growth": 0.2, "profit_margin": 0.25},
    }
