"""Dates of price rows: read as dates (never compared as text), written back as ISO text.

Accepted: ISO dates and times (``2024-01-31``, ``2024-01-31T14:00:00Z``, ``2024-01-31 14:00``,
``2024/01/31``), day- or month-first dates whose order the file itself settles (``13/04/2024`` can only be
day-first), and positions (``1``, ``2``... for a history given as bare numbers). A file whose every
slashed date could be either (``03/04/2024``) is refused with the line and the request for ISO dates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

__all__ = ("DateOrderError", "format_stamp", "parse_stamp", "resolve_dates")

_ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_SLASHED = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


class DateOrderError(ValueError):
    """Dates whose day/month order cannot be told apart (or contradicts itself); ``where`` names the row."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


def parse_stamp(text: str) -> datetime | None:
    """An ISO date or date-time as an aware UTC datetime (a date is midnight UTC); None when not ISO."""
    value = text.strip()
    match = _ISO_DATE.match(value)
    if match:
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
        except ValueError:
            return None
    if len(value) < 11 or not value[:4].isdigit():
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if stamp.hour == stamp.minute == stamp.second == stamp.microsecond == 0:
        # local midnight (pandas writes a daily bar as 2024-01-02 00:00:00-05:00): that day, not 05:00 UTC
        return datetime(stamp.year, stamp.month, stamp.day, tzinfo=UTC)
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def format_stamp(stamp: datetime, *, intraday: bool) -> str:
    """ISO text: the date alone for daily or coarser bars, else the UTC time with a ``Z``."""
    if not intraday:
        return stamp.date().isoformat()
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slashed_order(cells: Sequence[tuple[str, str]]) -> str | None:
    """``"dmy"`` or ``"mdy"`` as the slashed dates settle it, None when there are none."""
    day_first: str | None = None
    month_first: str | None = None
    first_ambiguous: str | None = None
    for where, text in cells:
        match = _SLASHED.match(text.strip())
        if not match:
            continue
        a, b = int(match[1]), int(match[2])
        if a > 12 >= b:
            day_first = day_first or f"{where} ({text.strip()})"
        elif b > 12 >= a:
            month_first = month_first or f"{where} ({text.strip()})"
        elif a != b:
            first_ambiguous = first_ambiguous or where
    if day_first and month_first:
        raise DateOrderError(
            day_first.split(" ")[0],
            f"dates are written day-first at {day_first} and month-first at {month_first}; "
            "write them as ISO dates (YYYY-MM-DD)",
        )
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    if first_ambiguous is not None:
        text = dict(cells)[first_ambiguous].strip()
        raise DateOrderError(
            first_ambiguous,
            f"the date {text!r} could be day-first or month-first and no row of the history tells which; "
            "write the dates as ISO dates (YYYY-MM-DD)",
        )
    return "dmy" if any(_SLASHED.match(t.strip()) for _, t in cells) else None


def resolve_dates(cells: Sequence[tuple[str, str]]) -> tuple[list[datetime | int | None], str | None]:
    """Each ``(where, text)`` as a UTC datetime, a position (int), or None when it is no date; plus a note
    when slashed dates were read in an order the file settled ("dates read as DD/MM/YYYY")."""
    order = _slashed_order(cells)
    out: list[datetime | int | None] = []
    for _, text in cells:
        value = text.strip()
        if value.isdigit() and len(value) <= 7:
            out.append(int(value))
            continue
        match = _SLASHED.match(value)
        if match and order is not None:
            a, b, year = int(match[1]), int(match[2]), int(match[3])
            day, month = (a, b) if order == "dmy" else (b, a)
            try:
                out.append(datetime.combine(date(year, month, day), time(), tzinfo=UTC))
            except ValueError:
                out.append(None)
            continue
        out.append(parse_stamp(value))
    note = None
    if order is not None:
        note = "dates read as " + ("DD/MM/YYYY" if order == "dmy" else "MM/DD/YYYY") + " (the rows settle it)"
    return out, note
