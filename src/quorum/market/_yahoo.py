"""Yahoo Finance through yfinance: equities, ETFs, indices, FX and crypto pairs (``BTC-USD``).

The close used is Yahoo's adjusted close (splits and dividends), and the notes say so. The asset class
comes from Yahoo's own ``instrumentType`` (CRYPTOCURRENCY, EQUITY, ETF, CURRENCY...). yfinance keeps
its cookie and time-zone caches under the quorum data directory. A ``session`` (a requests Session)
replaces yfinance's own HTTP client: tests point one at a loopback server that answers Yahoo's wire format.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quorum.market._errors import MarketDataError
from quorum.market._points import PricePoint
from quorum.market._provider import require
from quorum.market._series import PriceSeries
from quorum.market._symbols import yahoo_candidates

__all__ = ("YahooProvider",)

_ASSET_CLASSES = {
    "CRYPTOCURRENCY": "crypto",
    "EQUITY": "equity",
    "ETF": "etf",
    "MUTUALFUND": "fund",
    "CURRENCY": "fx",
    "INDEX": "index",
    "FUTURE": "future",
}

_NOT_LISTED = ("delisted", "no data found", "no price data", "no timezone found", "quote not found")


class YahooProvider:
    name = "yfinance"

    def __init__(self, *, session: Any = None, cache_dir: Path | None = None) -> None:
        self._session = session
        self._cache_dir = cache_dir

    def fetch(self, ticker: str, *, interval: str, days: int, now: datetime) -> PriceSeries:
        yf = require("yfinance")
        if self._cache_dir is not None:
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            yf.set_tz_cache_location(str(self._cache_dir))
        misses: list[str] = []
        for symbol, must_be_crypto in yahoo_candidates(ticker):
            frame, meta = self._history(yf, symbol, interval=interval, days=days, now=now)
            kind = str(meta.get("instrumentType") or "")
            if frame is None or frame.empty:
                misses.append(f"{symbol}: no bars")
                continue
            if must_be_crypto and kind != "CRYPTOCURRENCY":
                misses.append(f"{symbol}: a {kind.lower() or 'non-crypto'} instrument, not the crypto pair")
                continue
            return self._series(frame, meta, ticker=ticker, symbol=symbol, interval=interval, now=now)
        raise MarketDataError(f"Yahoo Finance has no daily bars for {ticker} ({'; '.join(misses)})",
                              reason="no-data")

    def _history(self, yf: Any, symbol: str, *, interval: str, days: int, now: datetime) -> tuple[Any, Any]:
        ticker = yf.Ticker(symbol, session=self._session) if self._session is not None else yf.Ticker(symbol)
        debug = yf.config.debug
        hidden = debug.hide_exceptions
        yf_logger = logging.getLogger("yfinance")
        level = yf_logger.level
        try:
            debug.hide_exceptions = False  # raise, so the reason reaches the user, not yfinance's log
            yf_logger.setLevel(logging.CRITICAL)
            # yfinance's own deprecation warnings (pandas, its options) are not the user's to act on
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = (now - timedelta(days=days)).date().isoformat()
                end = (now + timedelta(days=1)).date().isoformat()
                frame = ticker.history(start=start, end=end, interval=interval, auto_adjust=False,
                                       actions=False)
                meta = ticker.history_metadata or {}
        except Exception as exc:  # the adapter boundary: any failure of the library is "no answer"
            text = " ".join(str(exc).split()).split(" See https://curl.se")[0][:200] or type(exc).__name__
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status == 404 or any(m in text.lower() for m in _NOT_LISTED):
                return None, {}  # Yahoo knows no such symbol: the next candidate, or "no data"
            if isinstance(exc, json.JSONDecodeError):
                text = "the reply was not Yahoo's data (down, blocked or rate-limited)"
            raise MarketDataError(f"Yahoo Finance did not answer for {symbol}: {text}",
                                  reason="unavailable") from None
        finally:
            debug.hide_exceptions = hidden
            yf_logger.setLevel(level)
        return frame, meta

    def _series(self, frame: Any, meta: Any, *, ticker: str, symbol: str, interval: str,
                now: datetime) -> PriceSeries:
        column = "Adj Close" if "Adj Close" in frame.columns else "Close"
        points: list[PricePoint] = []
        skipped = 0
        for stamp, row in frame.iterrows():
            close = float(row[column])
            if not math.isfinite(close) or close <= 0:
                skipped += 1
                continue
            volume = row.get("Volume")
            vol = float(volume) if volume is not None and math.isfinite(float(volume)) else None
            date = stamp.strftime("%Y-%m-%d") if interval.endswith(("d", "wk", "mo")) else \
                stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
            points.append(PricePoint(date=date, close=close, volume=vol))
        notes = []
        if column == "Adj Close":
            notes.append("close is Yahoo's Adj Close (adjusted for splits and dividends), not Close")
        if skipped:
            notes.append(f"{skipped} bar(s) without a close skipped")
        last = frame.index[-1]
        if interval == "1d" and points and last.tzinfo is not None and last.date() == \
                now.astimezone(last.tzinfo).date():
            notes.append(f"the last bar ({points[-1].date}) is today's: its close is the latest price, the "
                         "day may still be trading")
        return PriceSeries(
            points=tuple(points), provider=self.name, symbol=symbol, ticker=ticker.upper(), interval=interval,
            as_of=last.tz_convert("UTC").to_pydatetime() if last.tzinfo else last.to_pydatetime().replace(
                tzinfo=UTC),
            fetched_at=now, notes=tuple(notes),
            asset_class=_ASSET_CLASSES.get(str(meta.get("instrumentType") or "")),
            source=f"Yahoo Finance chart API via yfinance ({meta.get('exchangeName') or 'exchange unknown'}, "
                   f"{meta.get('currency') or 'currency unknown'})",
        )
