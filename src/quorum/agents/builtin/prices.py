"""Price histories: read them from task input or a file, check them, and say clearly what is wrong.

Accepted shapes (all give a tuple of :class:`PricePoint`, oldest first; the readers live in
:mod:`quorum.market`, shared with the data providers and the ``--prices`` option):

- a list of mappings ``{"date": "2024-01-02", "close": 42000.5, "volume": 123}`` (``volume`` optional),
- a list of plain numbers (closes; the dates are then the positions ``"1"``, ``"2"``, ...),
- ccxt OHLCV lists ``[timestamp_ms, open, high, low, close, volume]``,
- CSV text or a file: ``date,close[,volume]``, a Yahoo export (its Adj Close is used) or ccxt's
  ``timestamp,open,high,low,close,volume``; a ``.json`` file of either list.

Dates are read as dates (ISO, or day/month orders the rows settle) and written back as ISO text. Rows out
of order are sorted, identical duplicates dropped, conflicting duplicates refused; the
:func:`parse_price_series` variant returns those data-quality notes with the points. Every error names
the place (``file.csv:7`` or ``prices[6]``), what is wrong and how to fix it, every bad row at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from quorum.errors import InputValidationError
from quorum.market._formats import parse_price_csv, parse_price_rows, read_price_file
from quorum.market._points import PricePoint
from quorum.market._series import PriceSeries

__all__ = (
    "PricePoint",
    "closes",
    "parse_price_history",
    "parse_price_series",
    "parse_prices_csv",
    "read_prices_csv",
)


def closes(history: Sequence[PricePoint]) -> list[float]:
    return [p.close for p in history]


def parse_price_series(value: Any, *, source: str = "prices") -> PriceSeries:
    """A price history from task input (rows, numbers, ccxt lists, CSV text or a file path) with its
    data-quality notes; an empty series for None."""
    if value is None:
        return PriceSeries(points=(), provider="input", symbol="", source=source)
    if isinstance(value, str | Path):
        text = str(value)
        looks_like_csv = "\n" in text or ("," in text and not text.endswith((".csv", ".json")))
        if looks_like_csv:
            return parse_price_csv(text, source=source, provider="input")
        return read_price_file(text)
    if isinstance(value, Mapping) or not isinstance(value, Sequence):
        raise InputValidationError(
            [f"{source}: expected a list of {{date, close[, volume]}} rows, got {type(value).__name__}"]
        )
    return parse_price_rows(value, source=source)


def parse_price_history(value: Any, *, source: str = "prices") -> tuple[PricePoint, ...]:
    """The points of :func:`parse_price_series` (oldest first), without the notes."""
    return parse_price_series(value, source=source).points


def parse_prices_csv(text: str, *, source: str = "<prices>") -> tuple[PricePoint, ...]:
    """Parse CSV text (generic ``date,close[,volume]``, Yahoo export or ccxt OHLCV)."""
    return parse_price_csv(text, source=source).points


def read_prices_csv(path: str | Path) -> tuple[PricePoint, ...]:
    """Read a price file (CSV of any accepted flavour, or ccxt JSON); errors name ``file:line``."""
    return read_price_file(path).points
