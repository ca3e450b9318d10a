"""Price histories: read them from task input or a CSV file, check them, and say clearly what is wrong.

Accepted shapes (all give a tuple of :class:`PricePoint`, oldest first):

- a list of mappings ``{"date": "2024-01-02", "close": 42000.5, "volume": 123}`` (``volume`` optional),
- a list of plain numbers (closes; the dates are then the positions ``"1"``, ``"2"``, ...),
- CSV text or a ``.csv`` file with a header ``date,close[,volume]``.

Rows must be in date order. A history given newest first (as many downloads are) is reversed; a history
whose dates go both ways, or repeat, is refused. Every error names the place (``file.csv:7`` or
``prices[6]``), what is wrong and how to fix it, and every bad row is reported at once.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from quorum.errors import InputValidationError
from quorum.market._points import PricePoint

__all__ = ("PricePoint", "closes", "parse_price_history", "parse_prices_csv", "read_prices_csv")

_MAX_ROWS = 100_000
"""A price history longer than this is refused: the specialists are meant for daily data of some years."""


def closes(history: Sequence[PricePoint]) -> list[float]:
    return [p.close for p in history]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "").replace("_", ""))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _point(date: Any, close: Any, volume: Any, where: str, problems: list[str]) -> PricePoint | None:
    date_text = str(date).strip() if date is not None else ""
    if not date_text:
        problems.append(f"{where}: the date is empty (give a date such as 2024-01-31)")
        return None
    price = _number(close)
    if price is None or price <= 0:
        problems.append(f"{where}: close {close!r} is not a positive number (write it like 42000.5)")
        return None
    vol: float | None = None
    if volume is not None and str(volume).strip() != "":
        vol = _number(volume)
        if vol is None or vol < 0:
            problems.append(f"{where}: volume {volume!r} is not a non-negative number (or leave it empty)")
            return None
    return PricePoint(date=date_text, close=price, volume=vol)


def _ordered(points: list[PricePoint], source: str) -> tuple[PricePoint, ...]:
    """Oldest first. Reverse a history given newest first; refuse one in no order, or with repeats."""
    dates = [p.date for p in points]
    seen: set[str] = set()
    for date in dates:
        if date in seen:
            raise InputValidationError(
                [f"{source}: the date {date!r} appears more than once (one row per date)"]
            )
        seen.add(date)
    # Dates compare as text: ISO dates (YYYY-MM-DD) sort correctly; plain positions are compared as numbers.
    keys: list[Any] = [float(d) if _number(d) is not None else d for d in dates]
    if all(isinstance(k, float) for k in keys) or all(isinstance(k, str) for k in keys):
        if all(a < b for a, b in pairwise(keys)):
            return tuple(points)
        if all(a > b for a, b in pairwise(keys)):
            return tuple(reversed(points))
    raise InputValidationError(
        [f"{source}: the rows are not in date order (sort them oldest first, with ISO dates YYYY-MM-DD)"]
    )


def parse_price_history(value: Any, *, source: str = "prices") -> tuple[PricePoint, ...]:
    """Read a price history from task input (list of mappings or numbers, CSV text, or a .csv path)."""
    if value is None:
        return ()
    if isinstance(value, str | Path):
        text = str(value)
        looks_like_csv = "\n" in text or ("," in text and not text.endswith(".csv"))
        return parse_prices_csv(text, source=source) if looks_like_csv else read_prices_csv(text)
    if isinstance(value, Mapping) or not isinstance(value, Sequence):
        raise InputValidationError(
            [f"{source}: expected a list of {{date, close[, volume]}} rows, got {type(value).__name__}"]
        )
    if len(value) > _MAX_ROWS:
        raise InputValidationError([f"{source}: {len(value)} rows is more than the limit of {_MAX_ROWS}"])
    problems: list[str] = []
    points: list[PricePoint] = []
    for i, row in enumerate(value):
        where = f"{source}[{i}]"
        point: PricePoint | None
        if isinstance(row, Mapping):
            if "close" not in row:
                problems.append(f"{where}: no 'close' (each row needs date and close)")
                continue
            point = _point(row.get("date", str(i + 1)), row["close"], row.get("volume"), where, problems)
        else:
            point = _point(str(i + 1), row, None, where, problems)
        if point is not None:
            points.append(point)
    if problems:
        raise InputValidationError(problems)
    return _ordered(points, source) if points else ()


def parse_prices_csv(text: str, *, source: str = "<prices>") -> tuple[PricePoint, ...]:
    """Parse CSV text with a header ``date,close[,volume]`` (other columns are ignored)."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    problems: list[str] = []
    points: list[PricePoint] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            missing = [c for c in ("date", "close") if c not in header]
            if missing:
                raise InputValidationError(
                    [
                        f"{source}:{line}: the header lacks {', '.join(missing)} "
                        "(it must be date,close[,volume])"
                    ]
                )
            continue
        if len(points) + len(problems) >= _MAX_ROWS:
            raise InputValidationError([f"{source}: more than {_MAX_ROWS} rows"])
        cells = dict(zip(header, (cell.strip() for cell in row), strict=False))
        if "close" not in cells:
            problems.append(f"{source}:{line}: the row has {len(row)} cells, fewer than the header")
            continue
        point = _point(cells.get("date"), cells["close"], cells.get("volume"), f"{source}:{line}", problems)
        if point is not None:
            points.append(point)
    if header is None:
        raise InputValidationError([f"{source}: no header and no rows (expected date,close[,volume])"])
    if problems:
        raise InputValidationError(problems)
    return _ordered(points, source) if points else ()


def read_prices_csv(path: str | Path) -> tuple[PricePoint, ...]:
    """Read a ``date,close[,volume]`` CSV file; errors name ``file:line``."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > 20_000_000:
            raise InputValidationError([f"{file}: {size} bytes is too large for a price history (20 MB max)"])
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputValidationError(
            [f"{file}: no such price file (give a CSV with date,close[,volume])"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputValidationError([f"{file}: cannot read the price file: {exc}"]) from None
    return parse_prices_csv(text, source=str(file))
