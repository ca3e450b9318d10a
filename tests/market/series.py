"""Generated price points for the market tests: daily (with or without weekends), hourly, weekly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quorum.market import PricePoint


def daily(n: int, *, start: str = "2024-01-01", weekends: bool = True, close: float = 100.0,
          step: float = 0.001) -> tuple[PricePoint, ...]:
    """``n`` bars from ``start`` (a Monday by default), skipping Saturdays and Sundays unless ``weekends``;
    the close grows by ``step`` a bar with a small alternating wiggle, so returns vary."""
    day = datetime.fromisoformat(start).replace(tzinfo=UTC)
    out: list[PricePoint] = []
    price = close
    while len(out) < n:
        if weekends or day.weekday() < 5:
            out.append(PricePoint(date=day.date().isoformat(), close=round(price, 6), volume=1000.0))
            price *= 1 + step + (0.004 if len(out) % 2 else -0.003)
        day += timedelta(days=1)
    return tuple(out)


def hourly(n: int, *, start: str = "2024-01-01T00:00:00") -> tuple[PricePoint, ...]:
    first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return tuple(
        PricePoint(date=(first + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"), close=100.0 + (i % 5))
        for i in range(n)
    )


def weekly(n: int, *, start: str = "2024-01-05") -> tuple[PricePoint, ...]:
    first = datetime.fromisoformat(start)
    return tuple(
        PricePoint(date=(first + timedelta(weeks=i)).date().isoformat(), close=50.0 + i % 7) for i in range(n)
    )
