"""The daily figures' conventions: bars a year from the dates, horizon bars, the VaR method switch."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from quorum.agents.builtin.daily_measures import (
    annualisation,
    horizon_bars,
    horizon_tail,
    max_drawdown,
    rsi_reading,
)
from quorum.agents.builtin.prices import parse_price_history

pytestmark = pytest.mark.unit


def _dated(n: int, step: int, *, weekdays_only: bool = False) -> list[dict[str, object]]:
    day = dt.date(2024, 1, 1)
    rows: list[dict[str, object]] = []
    while len(rows) < n:
        if not (weekdays_only and day.weekday() >= 5):
            rows.append({"date": day.isoformat(), "close": 100.0 + len(rows) % 7})
        day += dt.timedelta(days=step)
    return rows


@pytest.mark.parametrize(
    ("rows", "bars"),
    [
        (_dated(60, 1), 365.0),
        (_dated(60, 1, weekdays_only=True), 252.0),
        (_dated(60, 7), 52.0),
        ([100.0 + i % 5 for i in range(60)], 252.0),  # positions, no dates: 252 assumed and said
    ],
)
def test_bars_a_year_come_from_the_dates(rows: list[object], bars: float) -> None:
    a = annualisation(parse_price_history(rows))
    assert a.bars_per_year == bars


def test_the_assumed_annualisation_says_so() -> None:
    a = annualisation(parse_price_history([100.0 + i % 5 for i in range(60)]))
    assert "assumed" in a.basis


@pytest.mark.parametrize(
    ("days", "per_year", "bars"),
    [(7, 365, 7), (7, 252, 5), (30, 252, 21), (7, 52, 1), (1, 52, 1), (365, 12, 12)],
)
def test_horizon_bars(days: int, per_year: float, bars: int) -> None:
    assert horizon_bars(days, per_year) == bars


def test_the_var_method_follows_the_sample() -> None:
    closes = [100.0 * math.exp(0.01 * ((i * 7) % 11 - 5)) for i in range(71)]  # 70 returns
    tail = horizon_tail(closes, 7)
    assert tail is not None
    assert tail.method == "empirical"  # 70 >= max(30, 10 x 7)
    shorter = horizon_tail(closes[:-1], 7)
    assert shorter is not None
    assert shorter.method == "parametric"  # 69 < 70


def test_losses_are_within_the_position() -> None:
    crash = [100.0, 50.0, 10.0, 1.0, 0.5, 0.1]
    tail = horizon_tail(crash, 3, 0.95)
    assert tail is not None
    assert 0.0 <= tail.var <= tail.cvar <= 1.0
    assert max_drawdown(crash) == pytest.approx(0.999)


def test_rsi_levels_are_inclusive() -> None:
    rising = [float(i) for i in range(1, 30)]
    reading = rsi_reading(rising)
    assert reading is not None
    assert (reading.value, reading.reading) == (100.0, "overbought")
    assert rsi_reading(rising[:14]) is None  # 15 closes needed
