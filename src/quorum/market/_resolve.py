"""Resolve a ticker's price history for a run, by the ``--data`` choice, and say which source was used.

The outcome is a :class:`Resolution`: the series (or none, for ``--data none``) and one sentence for the
user: the provider that answered, or the cache with the data's age and why the network was not used.
When nothing can supply the data the :class:`MarketDataError` lists what each source said and carries
the one command that supplies it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from quorum.market._cache import PriceCache
from quorum.market._choice import AUTO_PROVIDERS, DataChoice
from quorum.market._errors import EXTRA_COMMAND, MarketDataError
from quorum.market._formats import read_price_file
from quorum.market._provider import HISTORY_DAYS, INTERVAL, Provider
from quorum.market._series import PriceSeries
from quorum.market._symbols import normalise_ticker

__all__ = ("FRESH_FOR", "ProviderFactory", "Resolution", "default_provider", "resolve_series")

FRESH_FOR = timedelta(hours=6)
"""A cached series fetched this recently serves ``auto`` without asking the network."""

ProviderFactory = Callable[[str], Provider]


def default_provider(name: str) -> Provider:
    """The shipped provider for a ``--data`` name (``yfinance``, ``ccxt:<exchange>``)."""
    from quorum.market._paths import data_dir

    if name == "yfinance":
        from quorum.market._yahoo import YahooProvider

        return YahooProvider(cache_dir=data_dir() / "yfinance")
    if name.startswith("ccxt:"):
        from quorum.market._ccxt import CcxtProvider

        return CcxtProvider(name.removeprefix("ccxt:"))
    raise MarketDataError(f"no provider {name!r}", reason="usage", hint="--data yfinance")


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    series: PriceSeries | None
    used: str
    """``yfinance``, ``ccxt:binance``, ``cache``, ``csv``, ``none``."""
    message: str


def _age(seconds: float) -> str:
    hours = seconds / 3600
    if hours < 1:
        return f"{seconds / 60:.0f} minutes"
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def _describe(series: PriceSeries) -> str:
    span = f"{len(series.points)} {series.interval} bars"
    if series.points:
        span += f" {series.points[0].date} .. {series.points[-1].date}"
    return f"{series.symbol or series.ticker} ({span})"


def _from_cache(series: PriceSeries, now: datetime, why: str) -> Resolution:
    fetched = series.fetched_at or now
    age = _age((now - fetched).total_seconds())
    served = replace(series, extra={**series.extra, "served_from": "cache", "cache_age_hours":
                                    round((now - fetched).total_seconds() / 3600, 1)})
    served = served.with_notes(f"served from the local cache: fetched from {series.provider} {age} ago "
                               f"({why})")
    return Resolution(series=served, used="cache",
                      message=f"market data: {_describe(series)} from the cache ({series.provider}, fetched "
                      f"{age} ago); {why}")


def resolve_series(
    ticker: str,
    choice: DataChoice,
    *,
    cache: PriceCache,
    providers: ProviderFactory = default_provider,
    now: datetime | None = None,
    days: int = HISTORY_DAYS,
    interval: str = INTERVAL,
    fresh_for: timedelta = FRESH_FOR,
) -> Resolution:
    now = now or datetime.now(UTC)
    if choice.kind == "none":
        return Resolution(series=None, used="none", message="market data: none (--data none)")
    if choice.kind == "csv":
        assert choice.path is not None
        series = replace(read_price_file(choice.path, provider="csv"), ticker=ticker.upper(),
                         symbol=choice.path.name, interval=interval, fetched_at=now)
        return Resolution(series=series, used="csv",
                          message=f"market data: {_describe(series)} from {choice.path}")
    symbol = normalise_ticker(ticker)
    if choice.kind == "cache":
        cached = cache.latest(symbol, interval)
        if cached is None:
            raise MarketDataError(
                f"no cached {interval} prices for {symbol} in {cache.path} "
                "(--data cache never uses the network)",
                reason="missing",
                hint=f"fetch them once while online: --data yfinance (needs {EXTRA_COMMAND})",
            )
        return _from_cache(cached, now, "--data cache")
    names = (str(choice.provider),) if choice.kind == "provider" else AUTO_PROVIDERS
    if choice.kind == "auto":
        cached = cache.latest(symbol, interval)
        if cached is not None and cached.fetched_at is not None and now - cached.fetched_at <= fresh_for:
            return _from_cache(cached, now, f"fresh enough (under {_age(fresh_for.total_seconds())} old)")
    failures: list[MarketDataError] = []
    said: list[str] = []
    for name in names:
        try:
            series = providers(name).fetch(symbol, interval=interval, days=days, now=now)
        except MarketDataError as exc:
            if exc.reason == "usage":
                raise
            failures.append(exc)
            said.append(f"{name}: {exc.message}")
            continue
        cache.put(series, fetched_at=now)
        skipped = f" ({'; '.join(said)})" if said else ""
        return Resolution(series=series, used=name,
                          message=f"market data: {_describe(series)} from {name}{skipped}")
    cached = cache.latest(symbol, interval, provider=choice.provider if choice.kind == "provider" else None)
    if cached is not None and any(f.reason != "no-data" for f in failures):
        return _from_cache(cached, now, "offline or refused: " + "; ".join(said))
    from_provider = f" from {choice.provider}" if choice.kind == "provider" else ""
    if all(f.reason == "missing" for f in failures):
        hint = EXTRA_COMMAND
    elif all(f.reason == "no-data" for f in failures):
        hint = ("check the ticker (Yahoo writes AAPL, BTC-USD, EURUSD=X, ^GSPC; exchanges BTC/USDT), or give "
                "a price file: --prices FILE.csv")
    else:
        hint = ("run it again online (the prices are then cached for offline runs), or give a price file: "
                "--prices FILE.csv")
    raise MarketDataError(
        f"no price history for {symbol}: nothing{from_provider} in the cache ({cache.path}), and "
        + "; ".join(said),
        reason="missing", hint=hint,
    )
