"""The yfinance and ccxt adapters against a loopback server speaking the providers' wire formats."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quorum.market import infer_frequency
from quorum.market._ccxt import CcxtProvider
from quorum.market._errors import MarketDataError
from quorum.market._yahoo import YahooProvider
from tests.market.wire import Wire, wire_server

pytestmark = pytest.mark.integration

NOW = datetime(2024, 3, 5, 12, tzinfo=UTC)


@pytest.fixture
def wire() -> Iterator[Wire]:
    with wire_server() as server:
        yield server


def test_yfinance_fetches_btc_as_the_usd_crypto_pair(wire: Wire, tmp_path: Path) -> None:
    provider = YahooProvider(session=wire.yahoo_session(), cache_dir=tmp_path / "yf")
    series = provider.fetch("BTC", interval="1d", days=730, now=NOW)
    assert series.symbol == "BTC-USD"
    assert series.provider == "yfinance"
    assert series.asset_class == "crypto"  # Yahoo's instrumentType, not a list of tickers
    assert len(series.points) == 60
    assert series.points[0].date == "2024-01-01"
    assert series.points[0].close == 42000.0
    assert "Adj Close" in " ".join(series.notes)
    assert infer_frequency(series.points).calendar == "24/7"
    assert any("/v8/finance/chart/BTC-USD" in r for r in wire.asked)


def test_yfinance_falls_back_to_the_symbol_as_given_and_uses_adj_close(wire: Wire, tmp_path: Path) -> None:
    provider = YahooProvider(session=wire.yahoo_session(), cache_dir=tmp_path / "yf")
    series = provider.fetch("AAPL", interval="1d", days=730, now=NOW)
    assert series.symbol == "AAPL"
    assert series.asset_class == "equity"
    assert series.points[0].date == "2024-01-01"
    assert series.points[0].close == pytest.approx(185 * 0.99, rel=1e-6)  # the adjusted close
    assert infer_frequency(series.points).calendar == "weekdays"
    asked = [r for r in wire.asked if "/v8/finance/chart/" in r]
    assert any("AAPL-USD" in r for r in asked)  # the crypto pair was tried first, and had no bars


def test_yfinance_says_when_the_last_daily_bar_is_today(wire: Wire, tmp_path: Path) -> None:
    provider = YahooProvider(session=wire.yahoo_session(), cache_dir=tmp_path / "yf")
    series = provider.fetch("BTC", interval="1d", days=730, now=datetime(2024, 2, 29, 15, tzinfo=UTC))
    assert series.points[-1].date == "2024-02-29"
    assert any("is today's" in n for n in series.notes)
    later = provider.fetch("BTC", interval="1d", days=730, now=NOW)
    assert not any("is today's" in n for n in later.notes)


def test_yfinance_unknown_symbol_is_no_data(wire: Wire, tmp_path: Path) -> None:
    provider = YahooProvider(session=wire.yahoo_session(), cache_dir=tmp_path / "yf")
    with pytest.raises(MarketDataError) as info:
        provider.fetch("ZZZZ", interval="1d", days=730, now=NOW)
    assert info.value.reason == "no-data"
    assert "ZZZZ" in info.value.message


def test_yfinance_refused_is_unavailable(wire: Wire, tmp_path: Path) -> None:
    wire.refuse = True
    provider = YahooProvider(session=wire.yahoo_session(), cache_dir=tmp_path / "yf")
    with pytest.raises(MarketDataError) as info:
        provider.fetch("ETH", interval="1d", days=730, now=NOW)  # not asked before: yfinance caches answers
    assert info.value.reason == "unavailable"
    assert "the reply was not Yahoo's data" in info.value.message


def test_ccxt_binance_fetches_btc_usdt_public_ohlcv(wire: Wire) -> None:
    provider = CcxtProvider("binance", base_url=wire.base_url)
    series = provider.fetch("BTC", interval="1d", days=730, now=NOW)
    assert (series.provider, series.symbol, series.asset_class) == ("ccxt:binance", "BTC/USDT", "crypto")
    assert len(series.points) == 60
    assert series.points[0].date == "2024-01-01"
    assert series.points[0].volume == 1000.0
    assert any(r.endswith("/api/v3/exchangeInfo") for r in wire.asked)
    assert any("/api/v3/klines" in r and "symbol=BTCUSDT" in r for r in wire.asked)


def test_ccxt_leaves_out_the_bar_still_forming(wire: Wire) -> None:
    provider = CcxtProvider("binance", base_url=wire.base_url)
    during_last_bar = datetime(2024, 2, 29, 15, tzinfo=UTC)  # the 60th bar opens 2024-02-29 00:00
    series = provider.fetch("BTC", interval="1d", days=730, now=during_last_bar)
    assert len(series.points) == 59
    assert "still forming" in " ".join(series.notes)


def test_ccxt_unknown_pair_unknown_exchange_and_a_refusing_one(wire: Wire) -> None:
    with pytest.raises(MarketDataError) as info:
        CcxtProvider("binance", base_url=wire.base_url).fetch("ETH", interval="1d", days=730, now=NOW)
    assert info.value.reason == "no-data"
    assert "ETH/USDT" in info.value.message
    with pytest.raises(MarketDataError) as unknown:
        CcxtProvider("binanse").fetch("BTC", interval="1d", days=730, now=NOW)
    assert unknown.value.reason == "usage"
    assert "did you mean binance" in unknown.value.message
    wire.refuse = True
    with pytest.raises(MarketDataError) as refused:
        CcxtProvider("binance", base_url=wire.base_url).fetch("BTC", interval="1d", days=730, now=NOW)
    assert refused.value.reason == "unavailable"
