"""Which input fields --data fills: prices for the ticker, pricesByTicker for tickers, never an undeclared
one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from quorum.market import PriceSeries
from quorum.market._cache import PriceCache
from quorum.market._choice import parse_choice
from quorum.market._errors import MarketDataError
from quorum.market._inputs import market_input
from tests.market.series import daily

pytestmark = pytest.mark.unit

FETCHED = datetime(2024, 3, 1, tzinfo=UTC)


def _cache(tmp_path: Path, *tickers: str) -> PriceCache:
    cache = PriceCache(tmp_path / "c.sqlite3")
    for ticker in tickers:
        cache.put(PriceSeries(points=daily(30), provider="ccxt:binance", symbol=f"{ticker}/USDT",
                              ticker=ticker, as_of=FETCHED, fetched_at=FETCHED, asset_class="crypto"))
    return cache


def test_the_ticker_gets_prices_and_market_data(tmp_path: Path) -> None:
    added = market_input({"ticker": "eth"}, declared={"ticker", "prices", "marketData"}, defaults={},
                         choice=parse_choice("cache", {}), cache=_cache(tmp_path, "ETH"))
    assert len(added.fields["prices"]) == 30
    assert added.fields["marketData"]["symbol"] == "ETH/USDT"
    assert added.messages
    assert "from the cache" in added.messages[0]
    no_meta = market_input({"ticker": "ETH"}, declared={"ticker", "prices"}, defaults={},
                           choice=parse_choice("cache", {}), cache=_cache(tmp_path, "ETH"))
    assert set(no_meta.fields) == {"prices"}  # marketData only where the task declares it


def test_rows_given_in_the_input_get_their_provenance(tmp_path: Path) -> None:
    rows = [{"date": "2024-01-02", "close": 2}, {"date": "2024-01-01", "close": 1}]
    added = market_input({"ticker": "ETH", "prices": rows}, declared={"ticker", "prices", "marketData"},
                         defaults={}, choice=parse_choice("cache", {}), cache=_cache(tmp_path, "ETH"))
    assert set(added.fields) == {"marketData"}  # the rows themselves stay as given
    meta = added.fields["marketData"]
    assert (meta["provider"], meta["observations"], meta["last_date"]) == ("input", 2, "2024-01-02")
    assert meta["notes"] == ["input.prices: the rows were given newest first; read oldest first"]


def test_given_prices_win_and_none_adds_nothing(tmp_path: Path) -> None:
    cache = _cache(tmp_path, "ETH")
    given = market_input({"ticker": "ETH", "prices": [1, 2]}, declared={"ticker", "prices"}, defaults={},
                         choice=parse_choice("cache", {}), cache=cache)
    assert given.fields == {}
    none = market_input({"ticker": "ETH"}, declared={"ticker", "prices"}, defaults={},
                        choice=parse_choice("none", {}), cache=cache)
    assert none.fields == {}


def test_tickers_get_prices_by_ticker_and_a_missing_one_is_said(tmp_path: Path) -> None:
    added = market_input({"tickers": "BTC, SOL"}, declared={"tickers", "pricesByTicker", "marketData"},
                         defaults={}, choice=parse_choice(None, {"QUORUM_DATA": "cache"}),
                         cache=_cache(tmp_path, "BTC"))
    assert list(added.fields["pricesByTicker"]) == ["BTC"]
    assert list(added.fields["marketData"]["byTicker"]) == ["BTC"]
    assert any(m.startswith("market data: none for SOL: no cached 1d prices for SOL") for m in added.messages)
    with pytest.raises(MarketDataError, match="not a symbol"):
        market_input({"tickers": ["B T C"]}, declared={"tickers", "pricesByTicker"}, defaults={},
                     choice=parse_choice("cache", {}), cache=_cache(tmp_path))


def test_data_for_a_task_without_prices_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="takes no price history") as info:
        market_input({"ticker": "BTC"}, declared={"ticker", "amount"}, defaults={},
                     choice=parse_choice("yfinance", {}), cache=_cache(tmp_path))
    assert info.value.reason == "usage"
    assert market_input({"ticker": "BTC"}, declared={"ticker"}, defaults={}, choice=parse_choice(None, {}),
                        cache=_cache(tmp_path)).fields == {}
