"""The bar frequency of a price history, from its dates: it sets the annualisation and the horizon in bars.

Read from the spacing of the dates, never from the ticker's name (the same data gives the same numbers
whatever the ticker is called):

- median spacing of about a day: **24/7** (365 bars a year) when any bar falls on a Saturday or Sunday,
  else **trading days** (252);
- about a week: 52; about a month: 12; about an hour: 24 x 365 (a series with weekend bars) or
  6.5 x 252 (one without);
- undated rows (plain closes) or dates that cannot be read: 252, with a quality note saying so.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from quorum.agents.builtin.prices import PricePoint

__all__ = ("BarFrequency", "bar_frequency")


@dataclass(frozen=True, slots=True, kw_only=True)
class BarFrequency:
    label: str
    periods_per_year: float
    asset_class: str | None
    """"24/7" markets trade on weekends (crypto); None when the calendar does not tell."""
    notes: tuple[str, ...] = ()


def _when(text: str) -> dt.datetime | None:
    try:
        stamp = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp


def bar_frequency(history: Sequence[PricePoint]) -> BarFrequency:
    stamps = [_when(p.date) for p in history]
    dated = [s for s in stamps if s is not None]
    if len(history) < 2:
        return BarFrequency(label="daily", periods_per_year=252, asset_class=None)
    if len(dated) != len(stamps):
        return BarFrequency(
            label="daily", periods_per_year=252, asset_class=None,
            notes=("the rows carry no readable dates: daily trading-day bars (252 a year) are assumed",),
        )  # fmt: skip
    spacing = statistics.median((b - a).total_seconds() for a, b in pairwise(dated)) / 86_400
    weekends = any(s.weekday() >= 5 for s in dated)
    market = "24/7" if weekends else None
    if spacing < 0.5:
        per_year = 24 * 365 if weekends else 6.5 * 252
        return BarFrequency(label="hourly", periods_per_year=per_year, asset_class=market)
    if spacing <= 1.5 or (not weekends and spacing <= 4):  # a weekend gap keeps a daily median near 1
        return BarFrequency(label="daily", periods_per_year=365 if weekends else 252, asset_class=market)
    if spacing <= 10:
        return BarFrequency(label="weekly", periods_per_year=52, asset_class=None)
    return BarFrequency(label="monthly", periods_per_year=12, asset_class=None)
