"""The bar frequency of a history, read from the spacing of its dates, and the periods per year it gives.

The frequency sets the annualisation (volatility x sqrt(periods per year), return x periods per year),
and the calendar tells the asset's trading week: a series with bars on Saturdays or Sundays trades
24/7 (crypto), one without trades on weekdays (exchange-listed). Nothing here looks at the ticker: the
same dates give the same answer whatever the series is called.

Conventions (documented in docs/committee.md, "Market data"):

===============  ==================================  ===========================================
kind             median spacing                      periods per year
===============  ==================================  ===========================================
``hourly``       about 1 hour                        24 x 365 when 24/7, else bars per day x 252
``intraday``     under 20 hours (other than hourly)  the same rule, from the bars per day
``daily``        20 hours .. 4 days                  365 when 24/7, 252 on weekdays
``weekly``       4 .. 10 days                        52
``monthly``      25 .. 35 days                       12
``irregular``    anything else                       365.25 days / median spacing
``unknown``      fewer than two dated bars           None (the caller's default applies)
===============  ==================================  ===========================================
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Literal

from quorum.market._dates import parse_stamp
from quorum.market._points import PricePoint

__all__ = (
    "TRADING_DAYS_PER_YEAR",
    "Calendar",
    "Frequency",
    "FrequencyKind",
    "infer_frequency",
)

FrequencyKind = Literal["hourly", "intraday", "daily", "weekly", "monthly", "irregular", "unknown"]
Calendar = Literal["24/7", "weekdays", "unknown"]

TRADING_DAYS_PER_YEAR = 252
"""Exchange trading days in a year (weekdays less holidays), the annualisation of weekday-only bars."""

_HOUR = 3600.0
_DAY = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Frequency:
    """How often the bars come and what that means for annualisation."""

    kind: FrequencyKind
    periods_per_year: float | None
    """Bars in a year, for annualising; None when the spacing cannot be read (too few dated bars)."""
    calendar: Calendar
    """``24/7`` when bars fall on weekends, ``weekdays`` when a weekend passes without one."""
    median_spacing_s: float | None
    basis: str
    """One sentence: how the frequency was read, for the verdict's sources."""

    @property
    def asset_class_hint(self) -> str | None:
        """``crypto`` for a 24/7 calendar, ``exchange-traded`` for weekdays only, None when unknown."""
        if self.calendar == "24/7":
            return "crypto"
        if self.calendar == "weekdays":
            return "exchange-traded"
        return None


def _stamps(points: Sequence[PricePoint]) -> list[datetime]:
    out = []
    for point in points:
        stamp = parse_stamp(point.date)
        if stamp is not None:
            out.append(stamp)
    return sorted(out)


def _calendar(stamps: Sequence[datetime]) -> Calendar:
    if any(s.weekday() >= 5 for s in stamps):
        return "24/7"
    # no bar on a weekend, and the history crosses from one week into the next: a weekend passed bare
    if any(a.isocalendar()[:2] != b.isocalendar()[:2] for a, b in pairwise(stamps)):
        return "weekdays"
    return "unknown"


def _bars_per_day(stamps: Sequence[datetime]) -> float:
    per_day = Counter(s.date() for s in stamps)
    return float(statistics.median(per_day.values()))


def infer_frequency(points: Sequence[PricePoint]) -> Frequency:
    """The frequency of ``points`` from the median spacing of their dates (see the module's table)."""
    stamps = _stamps(points)
    if len(stamps) < 2:
        return Frequency(kind="unknown", periods_per_year=None, calendar="unknown", median_spacing_s=None,
                         basis=f"{len(stamps)} dated bar(s): the spacing cannot be read")
    spacing = statistics.median((b - a).total_seconds() for a, b in pairwise(stamps))
    calendar = _calendar(stamps)
    days = spacing / _DAY
    kind: FrequencyKind
    periods: float
    if spacing <= 0:
        kind, periods = "irregular", float(TRADING_DAYS_PER_YEAR)
    elif spacing < 20 * _HOUR:
        kind = "hourly" if abs(spacing - _HOUR) <= 0.1 * _HOUR else "intraday"
        if calendar == "24/7":
            periods = 365 * _DAY / spacing
        else:
            periods = _bars_per_day(stamps) * TRADING_DAYS_PER_YEAR
    elif days <= 4:
        kind = "daily"
        periods = 365.0 if calendar == "24/7" else float(TRADING_DAYS_PER_YEAR)
    elif days <= 10:
        kind, periods = "weekly", 52.0
    elif 25 <= days <= 35:
        kind, periods = "monthly", 12.0
    else:
        kind, periods = "irregular", 365.25 / days
    where = {"24/7": "bars on weekends (24/7)", "weekdays": "no weekend bars (weekdays)",
             "unknown": "no weekend in the span to tell the calendar"}[calendar]
    basis = (f"{kind} bars (median spacing {_spacing_text(spacing)}, {where}): "
             f"{periods:g} periods per year")
    return Frequency(kind=kind, periods_per_year=periods, calendar=calendar, median_spacing_s=spacing,
                     basis=basis)


def _spacing_text(seconds: float) -> str:
    if seconds < _DAY:
        return f"{seconds / _HOUR:g} h"
    return f"{seconds / _DAY:g} d"
