"""Bar frequency from the date spacing (never from the ticker) and the data-quality flags."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from quorum.market import PricePoint, infer_frequency, quality_flags
from tests.market.series import daily, hourly, weekly

pytestmark = pytest.mark.unit


def test_daily_bars_with_weekends_are_24_7_and_annualise_by_365() -> None:
    f = infer_frequency(daily(60, weekends=True))
    assert (f.kind, f.calendar, f.periods_per_year) == ("daily", "24/7", 365.0)
    assert f.asset_class_hint == "crypto"
    assert "365 periods per year" in f.basis


def test_weekday_bars_annualise_by_252_whatever_the_ticker() -> None:
    f = infer_frequency(daily(60, weekends=False))
    assert (f.kind, f.calendar, f.periods_per_year) == ("daily", "weekdays", 252.0)
    assert f.asset_class_hint == "exchange-traded"


def test_hourly_weekly_and_unknown_spacing() -> None:
    h = infer_frequency(hourly(24 * 10))
    assert h.kind == "hourly"
    assert h.calendar == "24/7"
    assert h.periods_per_year == pytest.approx(24 * 365)
    w = infer_frequency(weekly(30))
    assert (w.kind, w.periods_per_year) == ("weekly", 52.0)
    positions = tuple(PricePoint(date=str(i + 1), close=float(i + 1)) for i in range(30))
    u = infer_frequency(positions)
    assert (u.kind, u.periods_per_year, u.calendar) == ("unknown", None, "unknown")


def test_weekday_hourly_bars_count_the_bars_of_a_trading_day() -> None:
    bars = [p for p in hourly(24 * 14) if datetime.fromisoformat(p.date).weekday() < 5
            and 14 <= datetime.fromisoformat(p.date).hour < 21]
    f = infer_frequency(bars)
    assert (f.kind, f.calendar) == ("hourly", "weekdays")
    assert f.periods_per_year == pytest.approx(7 * 252)


def test_too_few_observations_for_the_windows() -> None:
    points = daily(40)
    now = datetime(2024, 2, 10, tzinfo=UTC)
    flags = quality_flags(points, windows=(20, 50), horizon_days=30, now=now)
    assert [f.kind for f in flags] == ["too-few-observations"]
    assert "40 closes" in flags[0].message
    assert "51" in flags[0].message
    assert quality_flags(daily(51), windows=(20, 50), now=datetime(2024, 2, 21, tzinfo=UTC)) == ()


def test_stale_data_depends_on_the_horizon_and_the_calendar() -> None:
    points = daily(60, weekends=False)  # last bar: a Friday
    last = datetime.fromisoformat(points[-1].date).replace(tzinfo=UTC)
    monday = last.replace(day=last.day + 3, hour=12)
    assert not [f for f in quality_flags(points, now=monday) if f.kind == "stale"]  # a weekend is normal
    late = datetime(2024, 4, 5, tzinfo=UTC)  # two weeks after the last bar
    stale = [f for f in quality_flags(points, horizon_days=30, now=late) if f.kind == "stale"]
    assert len(stale) == 1
    assert stale[0].date == points[-1].date
    assert points[-1].date in stale[0].message
    # a half-year horizon tolerates a two-week-old bar; a 30-day one does not
    assert not [f for f in quality_flags(points, horizon_days=182, now=late) if f.kind == "stale"]


def test_a_flat_series_is_flagged() -> None:
    flat = tuple(PricePoint(date=p.date, close=10.0) for p in daily(30))
    now = datetime(2024, 1, 31, tzinfo=UTC)
    assert [f.kind for f in quality_flags(flat, windows=(5,), now=now)] == ["flat"]
    repeating = tuple(PricePoint(date=p.date, close=10.0 + (i // 10)) for i, p in enumerate(daily(30)))
    flags = quality_flags(repeating, windows=(5,), now=now)
    assert [f.kind for f in flags] == ["flat"]
    assert "exactly zero" in flags[0].message


def test_an_outlier_tick_is_named_with_its_date_once() -> None:
    points = list(daily(60))
    points[30] = replace(points[30], close=points[30].close * 1.6)  # a bad tick that reverts
    now = datetime(2024, 3, 1, tzinfo=UTC)
    outliers = [f for f in quality_flags(points, windows=(20,), now=now) if f.kind == "outlier"]
    assert len(outliers) == 1
    assert outliers[0].date == points[30].date
    assert points[30].date in outliers[0].message
    assert "reverts" in outliers[0].message
    assert not [f for f in quality_flags(daily(60), windows=(20,), now=now) if f.kind == "outlier"]
