"""The local price cache: one SQLite file, one row per (provider, symbol, interval), with its as-of time.

A fetched series replaces the one before it (the newest answer is the whole history the provider gave);
``latest(ticker, interval)`` finds the freshest series of a ticker from any provider, which is what an
offline run, or ``--data cache``, serves. A damaged file is reported with its path, never written over.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from quorum.market._errors import MarketDataError
from quorum.market._points import PricePoint
from quorum.market._series import PriceSeries

__all__ = ("PriceCache",)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS price_series (
        provider TEXT NOT NULL,
        symbol TEXT NOT NULL,
        interval TEXT NOT NULL,
        ticker TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        as_of TEXT,
        asset_class TEXT,
        source TEXT NOT NULL,
        notes TEXT NOT NULL,
        points TEXT NOT NULL,
        PRIMARY KEY (provider, symbol, interval)
    )""",
    "CREATE INDEX IF NOT EXISTS price_series_by_ticker ON price_series (ticker, interval, fetched_at)",
)
_COLUMNS = "provider, symbol, interval, ticker, fetched_at, as_of, asset_class, source, notes, points"
_SLOTS = ", ".join("?" * len(_COLUMNS.split(", ")))


class PriceCache:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10)
            for statement in _SCHEMA:
                connection.execute(statement)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise self._damaged(exc) from None
        return connection

    def _damaged(self, exc: Exception) -> MarketDataError:
        return MarketDataError(
            f"the market data cache {self.path} cannot be used: {exc}",
            reason="unavailable",
            hint=f"delete {self.path} (it only holds downloaded prices) and run again",
        )

    def put(self, series: PriceSeries, *, fetched_at: datetime | None = None) -> None:
        stamp = fetched_at or series.fetched_at or datetime.now(UTC)
        points = json.dumps([[p.date, p.close, p.volume] for p in series.points])
        row = (
            series.provider, series.symbol, series.interval, series.ticker.upper(), _iso(stamp),
            _iso(series.as_of) if series.as_of else None, series.asset_class, series.source,
            json.dumps(list(series.notes)), points,
        )
        try:
            with closing(self._connect()) as db, db:
                db.execute(f"INSERT OR REPLACE INTO price_series ({_COLUMNS}) VALUES ({_SLOTS})", row)
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def get(self, provider: str, symbol: str, interval: str) -> PriceSeries | None:
        return self._one(
            f"SELECT {_COLUMNS} FROM price_series WHERE provider = ? AND symbol = ? AND interval = ?",
            (provider, symbol, interval),
        )

    def latest(self, ticker: str, interval: str, *, provider: str | None = None) -> PriceSeries | None:
        """The most recently fetched series of ``ticker`` (as asked), from ``provider`` or any."""
        if provider is not None:
            return self._one(
                f"SELECT {_COLUMNS} FROM price_series WHERE ticker = ? AND interval = ? AND provider = ? "
                "ORDER BY fetched_at DESC LIMIT 1",
                (ticker.strip().upper(), interval, provider),
            )
        return self._one(
            f"SELECT {_COLUMNS} FROM price_series WHERE ticker = ? AND interval = ? "
            "ORDER BY fetched_at DESC LIMIT 1",
            (ticker.strip().upper(), interval),
        )

    def _one(self, query: str, args: tuple[str, ...]) -> PriceSeries | None:
        if not self.path.exists():
            return None
        try:
            with closing(self._connect()) as db:
                row = db.execute(query, args).fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        if row is None:
            return None
        provider, symbol, interval, ticker, fetched_at, as_of, asset_class, source, notes, points = row
        try:
            parsed = tuple(PricePoint(date=d, close=float(c), volume=None if v is None else float(v))
                           for d, c, v in json.loads(points))
            note_list = tuple(str(n) for n in json.loads(notes))
        except (ValueError, TypeError) as exc:
            raise self._damaged(exc) from None
        return PriceSeries(
            points=parsed, provider=provider, symbol=symbol, ticker=ticker, interval=interval,
            as_of=_parse(as_of), fetched_at=_parse(fetched_at), notes=note_list, asset_class=asset_class,
            source=source,
        )


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
