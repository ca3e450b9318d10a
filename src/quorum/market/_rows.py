"""Rows of a price history, checked and put in order: numbers, dates, sorting and duplicates.

Every reader (input rows, CSV flavours, ccxt JSON) turns its rows into :class:`RawRow` values and calls
:func:`build_points`, so all of them agree: closes are positive numbers, volumes non-negative; dates are
read as dates (never compared as text) or are all positions; rows out of order are sorted, identical
duplicates dropped, conflicting ones refused. What was changed is said in ``notes``; what is wrong is
raised at once, every bad row named (``file.csv:7``, ``prices[6]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from quorum.errors import InputValidationError
from quorum.market._dates import DateOrderError, format_stamp, resolve_dates
from quorum.market._points import PricePoint

__all__ = ("MAX_ROWS", "RawRow", "build_points", "number")

MAX_ROWS = 100_000
"""A price history longer than this is refused: the specialists are meant for bars of some years."""


@dataclass(frozen=True, slots=True)
class RawRow:
    where: str
    """``file.csv:7`` or ``prices[6]``: the place every message about this row names."""
    date: str | datetime
    close: Any
    volume: Any = None


def number(value: Any) -> float | None:
    """A finite number from a number or its text (``42,000.5`` and ``42_000.5`` read as 42000.5)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip().replace(",", "").replace("_", ""))
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


@dataclass(frozen=True, slots=True)
class _Checked:
    where: str
    date: str | datetime
    close: float
    volume: float | None


def _check(row: RawRow, problems: list[str]) -> _Checked | None:
    price = number(row.close)
    if price is None or price <= 0:
        problems.append(f"{row.where}: close {row.close!r} is not a positive number (write it like 42000.5)")
        return None
    volume: float | None = None
    if row.volume is not None and str(row.volume).strip() != "":
        volume = number(row.volume)
        if volume is None or volume < 0:
            problems.append(
                f"{row.where}: volume {row.volume!r} is not a non-negative number (or leave it empty)"
            )
            return None
    if isinstance(row.date, str) and not row.date.strip():
        problems.append(f"{row.where}: the date is empty (give a date such as 2024-01-31)")
        return None
    return _Checked(row.where, row.date, price, volume)


def _keys(rows: Sequence[_Checked], problems: list[str]) -> tuple[list[datetime | int], str | None]:
    texts = [(r.where, r.date) for r in rows if isinstance(r.date, str)]
    try:
        parsed, note = resolve_dates(texts)
    except DateOrderError as exc:
        problems.append(str(exc))
        return [], None
    by_text = iter(parsed)
    keys: list[datetime | int] = []
    for row in rows:
        key = row.date if isinstance(row.date, datetime) else next(by_text)
        if key is None:
            problems.append(f"{row.where}: {row.date!r} is not a date (write it as YYYY-MM-DD, or "
                            "YYYY-MM-DDTHH:MM:SSZ for intraday bars)")
            continue
        keys.append(key)
    if problems:
        return [], None
    if any(isinstance(k, int) for k in keys) and any(isinstance(k, datetime) for k in keys):
        first = next(r.where for r, k in zip(rows, keys, strict=True) if isinstance(k, int))
        problems.append(f"{first}: a position among dates (give every row a date, or none)")
    return keys, note


def build_points(
    rows: Sequence[RawRow], *, source: str, problems: Sequence[str] = ()
) -> tuple[tuple[PricePoint, ...], list[str]]:
    """The points, oldest first, and the notes on what reading them changed. ``problems`` are the
    reader's own (rows it could not even split), raised with these rows' in row order."""
    if len(rows) > MAX_ROWS:
        raise InputValidationError([f"{source}: {len(rows)} rows is more than the limit of {MAX_ROWS}"])
    found: list[str] = []
    checked = [c for c in (_check(r, found) for r in rows) if c is not None]
    if problems or found:
        raise InputValidationError(sorted([*problems, *found], key=_row_order))
    errors: list[str] = []
    if not checked:
        return (), []
    keys, note = _keys(checked, errors)
    if errors:
        raise InputValidationError(errors)
    notes = [note] if note else []
    order = sorted(range(len(checked)), key=lambda i: _sortable(keys[i]))
    if order != list(range(len(checked))):
        if order == list(reversed(range(len(checked)))):
            notes.append(f"{source}: the rows were given newest first; read oldest first")
        else:
            moved = sum(1 for a, b in pairwise(keys) if _sortable(a) > _sortable(b))
            notes.append(f"{source}: {moved} row(s) out of date order; the rows were sorted by date")
    intraday = any(isinstance(k, datetime) and k.time() != datetime.min.time() for k in keys)
    points: list[PricePoint] = []
    kept: list[int] = []
    dropped = 0
    for i in order:
        row, key = checked[i], keys[i]
        point = PricePoint(date=_text(key, intraday), close=row.close, volume=row.volume)
        if points and _sortable(keys[kept[-1]]) == _sortable(key):
            if points[-1] == point:
                dropped += 1
                continue
            earlier = checked[kept[-1]]
            errors.append(
                f"{earlier.where} and {row.where}: the date {point.date} appears more than once with "
                f"different values (close {earlier.close:g} and {row.close:g}); keep one row per date"
            )
            continue
        points.append(point)
        kept.append(i)
    if errors:
        raise InputValidationError(errors)
    if dropped:
        notes.append(f"{source}: {dropped} identical duplicate row(s) dropped")
    return tuple(points), notes


def _row_order(problem: str) -> tuple[int, str]:
    """``prices[6]: ...`` and ``file.csv:7: ...`` sort by their row number."""
    head = problem.split(": ", 1)[0]
    digits = "".join(ch if ch.isdigit() else " " for ch in head).split()
    return (int(digits[-1]) if digits else -1, problem)


def _sortable(key: datetime | int) -> float:
    return key.timestamp() if isinstance(key, datetime) else float(key)


def _text(key: datetime | int, intraday: bool) -> str:
    if isinstance(key, int):
        return str(key)
    return format_stamp(key.astimezone(UTC), intraday=intraday)
