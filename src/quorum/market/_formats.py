"""The price formats people have, read into a :class:`PriceSeries`.

- generic CSV ``date,close[,volume]`` (other columns ignored);
- a Yahoo Finance export ``Date,Open,High,Low,Close,Adj Close,Volume``: the close used is **Adj Close**
  (adjusted for splits and dividends, so returns are total returns), and the notes say so; its ``null``
  rows (days without a quote) are skipped, counted in the notes;
- ccxt OHLCV: a JSON list ``[[timestamp_ms, open, high, low, close, volume], ...]`` or a CSV with a
  ``timestamp`` column in milliseconds since 1970 (UTC);
- input rows: mappings ``{date, close[, volume]}``, bare numbers (closes; their dates are positions),
  or ccxt lists.

Every reader ends in :func:`quorum.market._rows.build_points`: dates read as dates, rows sorted,
identical duplicates dropped, conflicting ones refused, each change noted.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quorum.errors import InputValidationError
from quorum.market._dates import parse_stamp
from quorum.market._rows import MAX_ROWS, RawRow, build_points, number
from quorum.market._series import PriceSeries

__all__ = ("MAX_FILE_BYTES", "parse_price_csv", "parse_price_json", "parse_price_rows", "read_price_file")

MAX_FILE_BYTES = 20_000_000
_EARLIEST_MS = 1e11  # 1973 in milliseconds; a smaller "timestamp" is in seconds (or is no timestamp)
_GENERIC = "date,close[,volume]"


def _series(
    rows: list[RawRow], *, source: str, provider: str, notes: list[str], problems: Sequence[str] = ()
) -> PriceSeries:
    points, more = build_points(rows, source=source, problems=problems)
    as_of = parse_stamp(points[-1].date) if points else None
    return PriceSeries(points=points, provider=provider, symbol="", interval="", as_of=as_of,
                       source=source, notes=tuple(notes + more))


def _from_ms(value: Any, where: str, problems: list[str]) -> datetime | None:
    ms = number(value)
    if ms is None or ms < _EARLIEST_MS:
        problems.append(f"{where}: timestamp {value!r} is not milliseconds since 1970 (ccxt writes "
                        "e.g. 1704067200000 for 2024-01-01)")
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        problems.append(f"{where}: timestamp {value!r} is out of range")
        return None


def parse_price_rows(value: Sequence[Any], *, source: str = "prices", provider: str = "input") -> PriceSeries:
    """Input rows (mappings, numbers or ccxt OHLCV lists); errors name ``source[i]``."""
    if len(value) > MAX_ROWS:
        raise InputValidationError([f"{source}: {len(value)} rows is more than the limit of {MAX_ROWS}"])
    problems: list[str] = []
    rows: list[RawRow] = []
    notes: list[str] = []
    for i, row in enumerate(value):
        where = f"{source}[{i}]"
        if isinstance(row, Mapping):
            if "close" not in row:
                problems.append(f"{where}: no 'close' (each row needs date and close)")
                continue
            date: str | datetime | None
            if "date" in row:
                date = "" if row["date"] is None else str(row["date"])
            elif "timestamp" in row:
                date = _from_ms(row["timestamp"], where, problems)
                if date is None:
                    continue
            else:
                date = str(i + 1)  # no dates at all: the rows' positions
            rows.append(RawRow(where, date, row["close"], row.get("volume")))
        elif isinstance(row, Sequence) and not isinstance(row, str):
            stamp = _ohlcv(row, where, problems)
            if stamp is not None:
                rows.append(RawRow(where, stamp, row[4], row[5] if len(row) > 5 else None))
        else:
            rows.append(RawRow(where, str(i + 1), row))
    if any(isinstance(r.date, datetime) for r in rows):
        notes.append(f"{source}: ccxt OHLCV rows (timestamps in milliseconds, UTC)")
    return _series(rows, source=source, provider=provider, notes=notes, problems=problems)


def _ohlcv(row: Sequence[Any], where: str, problems: list[str]) -> datetime | None:
    if len(row) < 5:
        problems.append(f"{where}: a list row must be ccxt OHLCV "
                        "[timestamp_ms, open, high, low, close, volume]")
        return None
    return _from_ms(row[0], where, problems)


def parse_price_json(text: str, *, source: str, provider: str = "file") -> PriceSeries:
    """A JSON list: ccxt OHLCV lists or ``{date, close[, volume]}`` rows."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputValidationError([f"{source}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    if not isinstance(value, list):
        raise InputValidationError([f"{source}: expected a JSON list of rows (ccxt OHLCV lists or "
                                    f"{{date, close}} objects), got {type(value).__name__}"])
    return parse_price_rows(value, source=source, provider=provider)


def parse_price_csv(text: str, *, source: str = "<prices>", provider: str = "file") -> PriceSeries:
    """CSV text: generic, Yahoo export or ccxt (see the module docstring); errors name ``source:line``."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    date_col = close_col = ""
    problems: list[str] = []
    rows: list[RawRow] = []
    notes: list[str] = []
    nulls = 0
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            date_col, close_col, flavour_notes = _columns(header, f"{source}:{line}")
            notes.extend(f"{source}: {n}" for n in flavour_notes)
            continue
        if len(rows) + len(problems) >= MAX_ROWS:
            raise InputValidationError([f"{source}: more than {MAX_ROWS} rows"])
        cells = dict(zip(header, (cell.strip() for cell in row), strict=False))
        where = f"{source}:{line}"
        if close_col not in cells:
            problems.append(f"{where}: the row has {len(row)} cells, fewer than the header")
            continue
        if cells[close_col].lower() in ("null", "nan", "") and close_col == "adj close":
            nulls += 1  # Yahoo writes "null" on days without a quote
            continue
        date: str | datetime | None = cells.get(date_col, "")
        if date_col == "timestamp":
            date = _from_ms(cells.get("timestamp"), where, problems)
            if date is None:
                continue
        rows.append(RawRow(where, date or "", cells[close_col], cells.get("volume")))
    if header is None:
        raise InputValidationError([f"{source}: no header and no rows (expected {_GENERIC})"])
    if nulls:
        notes.append(f"{source}: {nulls} row(s) with null prices skipped (days without a quote)")
    return _series(rows, source=source, provider=provider, notes=notes, problems=problems)


def _columns(header: Sequence[str], where: str) -> tuple[str, str, list[str]]:
    """The date and close columns of a header, and what the choice means for the notes."""
    if "adj close" in header and "date" in header:
        return "date", "adj close", ["a Yahoo Finance export: the close used is Adj Close (adjusted for "
                                     "splits and dividends), not Close"]
    if "timestamp" in header and "date" not in header and "close" in header:
        return "timestamp", "close", ["ccxt OHLCV (timestamps in milliseconds, UTC)"]
    missing = [c for c in ("date", "close") if c not in header]
    if missing:
        raise InputValidationError(
            [f"{where}: the header lacks {', '.join(missing)} (it must be {_GENERIC}, a Yahoo export "
             "Date,Open,High,Low,Close,Adj Close,Volume, or ccxt timestamp,open,high,low,close,volume)"]
        )
    return "date", "close", []


def read_price_file(path: str | Path, *, provider: str = "file") -> PriceSeries:
    """A price file: JSON (by its ``.json`` name or a leading ``[``) or CSV; errors name ``file:line``."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputValidationError([f"{file}: {size} bytes is too large for a price history (20 MB max)"])
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputValidationError([f"{file}: no such price file (give a CSV with {_GENERIC})"]) from None
    except UnicodeDecodeError as exc:
        line = file.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputValidationError([f"{file}:{line}: not UTF-8 text (save the file as UTF-8)"]) from None
    except OSError as exc:
        raise InputValidationError([f"{file}: cannot read the price file: {exc.strerror or exc}"]) from None
    if file.suffix.lower() == ".json" or text.lstrip().startswith("["):
        return parse_price_json(text, source=str(file), provider=provider)
    return parse_price_csv(text, source=str(file), provider=provider)
