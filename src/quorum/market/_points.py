"""One bar of a price history: its date, close and (when known) volume."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ("PricePoint",)


@dataclass(frozen=True, slots=True, kw_only=True)
class PricePoint:
    """A close on a date. ``date`` is ISO text: ``2024-01-31`` for daily or coarser bars,
    ``2024-01-31T14:00:00Z`` (UTC) for intraday ones, or a position ``"1"``, ``"2"``... for a history
    given as bare numbers."""

    date: str
    close: float
    volume: float | None = None
