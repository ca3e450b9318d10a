"""A price history with its provenance: where it came from, for which symbol and interval, as of when.

``PriceSeries`` is what a provider, the cache and the file readers return. ``rows()`` is what goes into
an execution's input as ``prices``; ``provenance()`` is the ``marketData`` object stored beside it, so a
verdict can state its data's source, age and quality notes and a resume runs on the same data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from quorum.market._points import PricePoint

__all__ = ("PriceSeries",)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceSeries:
    points: tuple[PricePoint, ...]
    """Oldest first, one bar per date."""
    provider: str
    """``yfinance``, ``ccxt:binance``, ``csv``, ``file``, ``input``..."""
    symbol: str
    """The provider's own symbol (``BTC-USD``, ``BTC/USDT``); the ticker asked for is ``ticker``."""
    ticker: str = ""
    interval: str = "1d"
    as_of: datetime | None = None
    """The last bar's time as the provider dates it (None for positions)."""
    fetched_at: datetime | None = None
    """When the provider answered (a cached series keeps its original time)."""
    notes: tuple[str, ...] = ()
    """Data-quality notes: what was adjusted, sorted, dropped, or assumed while reading."""
    asset_class: str | None = None
    """From the provider's metadata (``quoteType``, an exchange's market type), when it said."""
    source: str = ""
    """Where exactly: the URL family, the file path, or ``cache (fetched ...)``."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_notes(self, *more: str) -> PriceSeries:
        return replace(self, notes=self.notes + tuple(n for n in more if n not in self.notes))

    def rows(self) -> list[dict[str, Any]]:
        """The input rows: ``{"date", "close"[, "volume"]}``, oldest first."""
        out: list[dict[str, Any]] = []
        for point in self.points:
            row: dict[str, Any] = {"date": point.date, "close": point.close}
            if point.volume is not None:
                row["volume"] = point.volume
            out.append(row)
        return out

    def age(self, now: datetime | None = None) -> float | None:
        """Seconds since the last bar (None when undated)."""
        if self.as_of is None:
            return None
        return ((now or datetime.now(UTC)) - self.as_of).total_seconds()

    def provenance(self, *, now: datetime | None = None) -> dict[str, Any]:
        """The ``marketData`` object: JSON-ready, no secrets (public data only, no keys are ever used)."""
        age = self.age(now)
        out: dict[str, Any] = {
            "provider": self.provider,
            "symbol": self.symbol,
            "ticker": self.ticker,
            "interval": self.interval,
            "observations": len(self.points),
            "first_date": self.points[0].date if self.points else None,
            "last_date": self.points[-1].date if self.points else None,
            "as_of": _iso(self.as_of),
            "fetched_at": _iso(self.fetched_at),
            "age_hours": None if age is None else round(age / 3600, 1),
            "source": self.source,
            "notes": list(self.notes),
        }
        from quorum.market._frequency import infer_frequency

        frequency = infer_frequency(self.points)
        out["frequency"] = {"kind": frequency.kind, "periods_per_year": frequency.periods_per_year,
                            "calendar": frequency.calendar, "basis": frequency.basis}
        out["asset_class"] = self.asset_class or frequency.asset_class_hint
        out["asset_class_from"] = "provider" if self.asset_class else "calendar"
        out.update(self.extra)
        return out


def _iso(stamp: datetime | None) -> str | None:
    return None if stamp is None else stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
