"""Data-quality flags that change a decision: too few observations, stale data, a flat series, outliers.

Each flag is a plain value with a ``kind``, a sentence for the verdict and, for an outlier, the date it
concerns. The thresholds are keyword arguments with documented defaults, so a policy can set them;
``quality_flags`` never looks at the ticker.

- ``too-few-observations``: fewer closes than the longest window used needs (window + 1: returns need
  one close more than they have).
- ``stale``: the last bar is older than allowed: the larger of the frequency's grace (a long weekend for
  weekday bars) and ``stale_share`` of the horizon.
- ``flat``: every close the same, or more than ``flat_share`` of the returns exactly zero (a feed that
  repeats its last price).
- ``outlier``: a return more than ``outlier_z`` robust deviations from the median (the larger of
  1.4826 x MAD and 1.2533 x the mean absolute deviation of the log returns); a spike that reverts on the
  next bar is named as such, once.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from quorum.market._dates import parse_stamp
from quorum.market._frequency import Frequency, infer_frequency
from quorum.market._points import PricePoint

if TYPE_CHECKING:
    from quorum.market._series import PriceSeries

__all__ = (
    "DEFAULT_WINDOWS",
    "FLAT_SHARE",
    "OUTLIER_Z",
    "STALE_SHARE",
    "QualityFlag",
    "QualityKind",
    "quality_flags",
    "stale_allowance",
)

QualityKind = Literal["too-few-observations", "stale", "flat", "outlier"]

DEFAULT_WINDOWS = (20, 50)
"""The moving-average windows the committee uses unless told others (short, long)."""
STALE_SHARE = 0.1
"""A last bar may be this share of the horizon old (30-day horizon: 3 days) before it is stale."""
FLAT_SHARE = 0.5
"""More than this share of zero returns is a flat series."""
OUTLIER_Z = 8.0
"""Robust z-score of a log return beyond which its bar is named an outlier."""

_GRACE = {  # the age a last bar reaches in the normal course, by frequency (a long weekend for weekdays)
    "hourly": timedelta(hours=3),
    "intraday": timedelta(hours=6),
    "daily": timedelta(days=2),
    "weekly": timedelta(days=10),
    "monthly": timedelta(days=35),
    "irregular": timedelta(days=7),
    "unknown": timedelta(days=2),
}
_WEEKDAY_GRACE = {"hourly": timedelta(days=3, hours=3), "intraday": timedelta(days=3, hours=6),
                  "daily": timedelta(days=4)}


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityFlag:
    kind: QualityKind
    message: str
    date: str | None = None
    """The bar concerned (an outlier's date, a stale series' last date)."""


def stale_allowance(
    frequency: Frequency, horizon_days: float, *, stale_share: float = STALE_SHARE
) -> timedelta:
    """How old the last bar may be: the frequency's grace or ``stale_share`` of the horizon, the larger."""
    grace = _GRACE[frequency.kind]
    if frequency.calendar != "24/7":
        grace = _WEEKDAY_GRACE.get(frequency.kind, grace)
    return max(grace, timedelta(days=horizon_days * stale_share))


def _points_of(series: PriceSeries | Sequence[PricePoint]) -> Sequence[PricePoint]:
    points = getattr(series, "points", None)
    return points if points is not None else series  # type: ignore[return-value]


def quality_flags(
    series: PriceSeries | Sequence[PricePoint],
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    horizon_days: float = 30.0,
    now: datetime | None = None,
    stale_share: float = STALE_SHARE,
    flat_share: float = FLAT_SHARE,
    outlier_z: float = OUTLIER_Z,
) -> tuple[QualityFlag, ...]:
    """The flags of a series (or its points, oldest first); ``now`` defaults to the current UTC time,
    ``horizon_days`` are calendar days."""
    points = _points_of(series)
    flags: list[QualityFlag] = []
    needed = max(windows, default=0) + 1
    if len(points) < needed:
        flags.append(QualityFlag(
            kind="too-few-observations",
            message=f"{len(points)} closes: the {max(windows)}-bar window needs at least {needed} "
            "(no window is shortened to fit)",
        ))
    if points:
        stale = _stale(points, horizon_days=horizon_days, now=now or datetime.now(UTC), share=stale_share)
        if stale is not None:
            flags.append(stale)
    closes = [p.close for p in points]
    returns = [math.log(b / a) for a, b in pairwise(closes)]
    flat = _flat(closes, returns, flat_share)
    if flat is not None:
        flags.append(flat)  # a mostly flat series has no usual move to measure an outlier against
    else:
        flags.extend(_outliers(points, returns, outlier_z))
    return tuple(flags)


def _stale(
    points: Sequence[PricePoint], *, horizon_days: float, now: datetime, share: float
) -> QualityFlag | None:
    last = parse_stamp(points[-1].date)
    if last is None:
        return None  # positions, not dates: the age cannot be told
    frequency = infer_frequency(points)
    allowed = stale_allowance(frequency, horizon_days, stale_share=share)
    age = now.astimezone(UTC) - last
    if age <= allowed:
        return None
    return QualityFlag(
        kind="stale",
        message=f"the last bar ({points[-1].date}) is {_age_text(age)} old; a {horizon_days:g}-day horizon "
        f"with {frequency.kind} bars allows {_age_text(allowed)}",
        date=points[-1].date,
    )


def _age_text(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def _flat(closes: Sequence[float], returns: Sequence[float], share: float) -> QualityFlag | None:
    if len(closes) < 2:
        return None
    if max(closes) == min(closes):
        return QualityFlag(kind="flat", message=f"all {len(closes)} closes are {closes[0]:g}: nothing moves")
    zeros = sum(1 for r in returns if r == 0.0)
    if zeros > share * len(returns):
        return QualityFlag(kind="flat", message=f"{zeros} of {len(returns)} returns are exactly zero: "
                           "the feed repeats its last price")
    return None


def _outliers(points: Sequence[PricePoint], returns: Sequence[float], z: float) -> list[QualityFlag]:
    if len(returns) < 10:
        return []  # too few returns to say what is usual
    centre = statistics.median(returns)
    deviations = [abs(r - centre) for r in returns]
    # the MAD alone collapses on a series of a few repeated returns; the mean absolute deviation
    # (x1.2533, the normal's ratio) keeps the scale honest there, and one bad tick barely moves it
    scale = max(1.4826 * statistics.median(deviations), 1.2533 * statistics.fmean(deviations))
    if scale == 0.0:
        return []  # mostly flat: the flat flag says so
    flags = []
    skip = -1
    for i, r in enumerate(returns):
        score = abs(r - centre) / scale
        if score <= z or i == skip:
            continue
        bar = points[i + 1]
        nxt = returns[i + 1] if i + 1 < len(returns) else None
        reverts = nxt is not None and nxt * r < 0 and abs(nxt - centre) / scale > z / 2
        what = "a spike that reverts on the next bar" if reverts else "a jump"
        if reverts:
            skip = i + 1  # the way back down is the same tick, not a second outlier
        flags.append(QualityFlag(
            kind="outlier",
            message=f"{bar.date}: close {bar.close:g} is {what} ({math.expm1(r):+.1%} from the bar before, "
            f"{score:.0f} robust deviations)",
            date=bar.date,
        ))
    return flags
