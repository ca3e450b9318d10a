"""Crypto exchanges' public OHLCV through ccxt (no API key): ``--data ccxt:binance``, ``ccxt:kraken``...

Every bar is the exchange's own; the bar still forming (its period not over at fetch time) is left out
and the notes say so. ``base_url`` sends every API call of the exchange to another server (ccxt lets its
URLs be replaced): tests point it at a loopback server that answers the exchange's wire format.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from quorum.market._errors import MarketDataError
from quorum.market._points import PricePoint
from quorum.market._provider import require
from quorum.market._series import PriceSeries
from quorum.market._symbols import ccxt_symbol

__all__ = ("CcxtProvider",)

_BATCH = 1000
_MAX_BATCHES = 20
_BAR = {"1d": timedelta(days=1), "1h": timedelta(hours=1), "1w": timedelta(weeks=1)}


class CcxtProvider:
    def __init__(self, exchange: str, *, base_url: str | None = None, timeout_ms: int = 15_000) -> None:
        self.exchange_id = exchange.strip().lower()
        self._base_url = base_url
        self._timeout_ms = timeout_ms

    @property
    def name(self) -> str:
        return f"ccxt:{self.exchange_id}"

    def _exchange(self) -> Any:
        ccxt = require("ccxt")
        cls = getattr(ccxt, self.exchange_id, None) if self.exchange_id in ccxt.exchanges else None
        if cls is None:
            close = difflib.get_close_matches(self.exchange_id, ccxt.exchanges, n=3)
            raise MarketDataError(
                f"ccxt has no exchange {self.exchange_id!r}"
                + (f" (did you mean {', '.join(close)}?)" if close else ""),
                reason="usage",
                hint="--data ccxt:binance (any id of ccxt.exchanges)",
            )
        options: dict[str, Any] = {"defaultType": "spot"}
        if self.exchange_id.startswith("binance"):
            options["fetchMarkets"] = {"types": ["spot"]}  # spot only: no futures or options listings
        exchange = cls({"timeout": self._timeout_ms, "enableRateLimit": True, "options": options})
        if self._base_url is not None:
            exchange.urls["api"] = _rebased(exchange.urls["api"], self._base_url.rstrip("/"))
        return exchange

    def fetch(self, ticker: str, *, interval: str, days: int, now: datetime) -> PriceSeries:
        ccxt = require("ccxt")
        symbol = ccxt_symbol(ticker)
        exchange = self._exchange()
        since = int((now - timedelta(days=days)).timestamp() * 1000)
        bars: list[list[Any]] = []
        try:
            for _ in range(_MAX_BATCHES):
                batch = exchange.fetch_ohlcv(symbol, interval, since=since, limit=_BATCH)
                bars.extend(batch)
                if len(batch) < _BATCH:
                    break
                since = int(batch[-1][0]) + 1
        except ccxt.BadSymbol:
            base = symbol.split("/")[0]
            raise MarketDataError(
                f"{self.exchange_id} lists no market {symbol}", reason="no-data",
                hint=f"try another exchange (--data ccxt:kraken) or pair (ticker={base}/USD)",
            ) from None
        except ccxt.BaseError as exc:
            raise MarketDataError(f"{self.exchange_id} did not answer for {symbol}: {_first_line(exc)}",
                                  reason="unavailable") from None
        finally:
            close = getattr(exchange, "close", None)
            if close is not None:
                close()
        return self._series(bars, ticker=ticker, symbol=symbol, interval=interval, now=now, market=exchange)

    def _series(self, bars: list[list[Any]], *, ticker: str, symbol: str, interval: str, now: datetime,
                market: Any) -> PriceSeries:
        bar = _BAR.get(interval, timedelta(days=1))
        points: list[PricePoint] = []
        notes: list[str] = []
        seen: set[int] = set()
        for row in sorted(bars, key=lambda r: int(r[0])):
            stamp_ms = int(row[0])
            if stamp_ms in seen:
                continue
            seen.add(stamp_ms)
            start = datetime.fromtimestamp(stamp_ms / 1000, tz=UTC)
            if start + bar > now:
                notes.append(f"the bar of {start:%Y-%m-%d %H:%M} UTC still forming at fetch: left out")
                continue
            date = start.strftime("%Y-%m-%d" if bar >= timedelta(days=1) else "%Y-%m-%dT%H:%M:%SZ")
            volume = None if row[5] is None else float(row[5])
            points.append(PricePoint(date=date, close=float(row[4]), volume=volume))
        if not points:
            raise MarketDataError(f"{self.exchange_id} returned no {interval} bars for {symbol}",
                                  reason="no-data")
        last = datetime.fromisoformat(points[-1].date.replace("Z", "+00:00"))
        details = (market.markets or {}).get(symbol) or {}
        return PriceSeries(
            points=tuple(points), provider=self.name, symbol=symbol, ticker=ticker.upper(), interval=interval,
            as_of=last if last.tzinfo else last.replace(tzinfo=UTC), fetched_at=now, notes=tuple(notes),
            asset_class="crypto",  # a ccxt exchange is a crypto exchange: the provider says what it lists
            source=f"{self.exchange_id} public OHLCV via ccxt "
                   f"({details.get('type') or 'spot'} market {symbol})",
        )


def _rebased(urls: Any, base: str) -> Any:
    if isinstance(urls, str):
        return re.sub(r"^https?://[^/]+", base, urls)
    if isinstance(urls, dict):
        return {key: _rebased(value, base) for key, value in urls.items()}
    return urls


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # ccxt puts the cause after the request line: keep both
    return f"{type(exc).__name__}: {text[:240]}" if text else type(exc).__name__
