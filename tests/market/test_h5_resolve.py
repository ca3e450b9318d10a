"""--data: the cache (a real SQLite file), the providers in order, offline runs, and what is said."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quorum.market._cache import PriceCache
from quorum.market._ccxt import CcxtProvider
from quorum.market._choice import parse_choice
from quorum.market._errors import MarketDataError
from quorum.market._paths import cache_path, data_dir
from quorum.market._provider import Provider, require
from quorum.market._resolve import ProviderFactory, resolve_series
from quorum.market._yahoo import YahooProvider
from tests.market.wire import Wire, wire_server

pytestmark = pytest.mark.integration

NOW = datetime(2024, 3, 5, 12, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def wire() -> Iterator[Wire]:
    with wire_server() as server:
        yield server


def _providers(wire: Wire, tmp: Path, *, yahoo_down: bool = False) -> ProviderFactory:
    def make(name: str) -> Provider:
        if name == "yfinance":
            if yahoo_down:
                raise MarketDataError("Yahoo Finance did not answer", reason="unavailable")
            return YahooProvider(session=wire.yahoo_session(), cache_dir=tmp / "yf")
        return CcxtProvider(name.removeprefix("ccxt:"), base_url=wire.base_url)

    return make


def test_the_data_dir_follows_quorum_data_dir_then_xdg() -> None:
    assert data_dir({"QUORUM_DATA_DIR": "/d", "XDG_DATA_HOME": "/x"}) == Path("/d")
    assert data_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/quorum")
    assert cache_path({"QUORUM_DATA_DIR": "/d"}) == Path("/d/market-data.sqlite3")


def test_parse_choice_forms_and_errors() -> None:
    assert parse_choice(None, {}).kind == "auto"
    assert not parse_choice(None, {}).explicit
    assert parse_choice(None, {"QUORUM_DATA": "none"}).kind == "none"
    assert parse_choice("ccxt:Kraken", {}).provider == "ccxt:kraken"
    assert parse_choice("csv:~/p.csv", {}).path == Path("~/p.csv").expanduser()
    with pytest.raises(MarketDataError, match="name the exchange"):
        parse_choice("ccxt", {})
    with pytest.raises(MarketDataError, match=r"--data 'yahoo' is not a data source") as info:
        parse_choice("yahoo", {})
    assert info.value.reason == "usage"


def test_a_fetched_series_is_cached_and_served_offline_with_its_age(wire: Wire, tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "data" / "market-data.sqlite3")
    make = _providers(wire, tmp_path)
    first = resolve_series("BTC", parse_choice("yfinance", {}), cache=cache, providers=make, now=NOW)
    assert first.used == "yfinance"
    assert first.series is not None
    assert "BTC-USD" in first.message
    assert (tmp_path / "data" / "market-data.sqlite3").is_file()
    wire.refuse = True  # offline three days later
    later = NOW + timedelta(days=3)
    with pytest.raises(MarketDataError, match="no price history for ETH"):  # never fetched: not cached
        resolve_series("ETH", parse_choice(None, {}), cache=cache, providers=make, now=later)
    with pytest.raises(MarketDataError):
        resolve_series("SOL", parse_choice("cache", {}), cache=cache, providers=make, now=later)
    served = resolve_series("btc", parse_choice(None, {}), cache=cache, providers=make, now=later)
    assert served.used == "cache"
    assert served.series is not None
    assert served.series.points == first.series.points
    assert "fetched 3.0 days ago" in served.message
    provenance = served.series.provenance(now=later)
    assert provenance["served_from"] == "cache"
    assert provenance["cache_age_hours"] == 72.0
    assert provenance["provider"] == "yfinance"
    assert any("served from the local cache" in n for n in provenance["notes"])


def test_auto_uses_a_fresh_cache_without_the_network(wire: Wire, tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "c.sqlite3")
    make = _providers(wire, tmp_path)
    resolve_series("BTC", parse_choice(None, {}), cache=cache, providers=make, now=NOW)
    asked = len(wire.asked)
    again = resolve_series("BTC", parse_choice(None, {}), cache=cache, providers=make,
                           now=NOW + timedelta(hours=1))
    assert again.used == "cache"
    assert len(wire.asked) == asked  # nothing asked


def test_auto_takes_the_first_provider_that_answers_and_says_why(wire: Wire, tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "c.sqlite3")
    make = _providers(wire, tmp_path, yahoo_down=True)
    got = resolve_series("BTC", parse_choice(None, {}), cache=cache, providers=make, now=NOW)
    assert got.used == "ccxt:binance"
    assert got.series is not None
    assert got.series.symbol == "BTC/USDT"
    assert "yfinance: Yahoo Finance did not answer" in got.message
    assert cache.get("ccxt:binance", "BTC/USDT", "1d") is not None


def test_nothing_cached_and_nothing_answering_says_what_to_do(wire: Wire, tmp_path: Path) -> None:
    wire.refuse = True
    cache = PriceCache(tmp_path / "c.sqlite3")
    with pytest.raises(MarketDataError) as info:
        resolve_series("ETH", parse_choice(None, {}), cache=cache,
                       providers=_providers(wire, tmp_path, yahoo_down=True), now=NOW)
    error = info.value
    assert error.reason == "missing"
    assert "no price history for ETH" in error.message
    assert "yfinance:" in error.message
    assert "ccxt:binance:" in error.message
    assert "--prices FILE.csv" in error.hint


def test_an_explicit_provider_offline_serves_only_its_own_cached_series(wire: Wire, tmp_path: Path) -> None:
    cache = PriceCache(tmp_path / "c.sqlite3")
    make = _providers(wire, tmp_path)
    resolve_series("BTC", parse_choice("ccxt:binance", {}), cache=cache, providers=make, now=NOW)
    wire.refuse = True
    later = NOW + timedelta(days=1)
    # binance's bars are not Yahoo's
    with pytest.raises(MarketDataError, match="nothing from yfinance in the cache"):
        resolve_series("BTC", parse_choice("yfinance", {}), cache=cache, providers=make, now=later)
    served = resolve_series("BTC", parse_choice("ccxt:binance", {}), cache=cache, providers=make, now=later)
    assert served.used == "cache"
    assert served.series is not None
    assert served.series.provider == "ccxt:binance"


def test_a_ticker_no_provider_knows_asks_to_check_it(wire: Wire, tmp_path: Path) -> None:
    with pytest.raises(MarketDataError) as info:
        resolve_series("ZZZZ", parse_choice(None, {}), cache=PriceCache(tmp_path / "c.sqlite3"),
                       providers=_providers(wire, tmp_path), now=NOW)
    assert info.value.hint.startswith("check the ticker")


def test_a_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)  # import yfinance -> ImportError
    monkeypatch.setitem(sys.modules, "ccxt", None)
    with pytest.raises(MarketDataError) as one:
        require("yfinance")
    assert one.value.hint == "pip install 'quorum[data]'"
    with pytest.raises(MarketDataError) as info:
        resolve_series("BTC", parse_choice(None, {}), cache=PriceCache(tmp_path / "c.sqlite3"), now=NOW)
    assert info.value.hint == "pip install 'quorum[data]'"
    assert "yfinance: the yfinance provider is not installed" in info.value.message


def test_csv_choice_reads_any_price_format(tmp_path: Path) -> None:
    got = resolve_series("AAPL", parse_choice(f"csv:{FIXTURES / 'yahoo_export_aapl.csv'}", {}),
                         cache=PriceCache(tmp_path / "c.sqlite3"), now=NOW)
    assert got.used == "csv"
    assert got.series is not None
    assert got.series.provenance()["provider"] == "csv"
    assert "Adj Close" in " ".join(got.series.notes)
    assert not (tmp_path / "c.sqlite3").exists()  # a file is not cached


def test_a_damaged_cache_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(MarketDataError) as info:
        PriceCache(path).latest("BTC", "1d")
    assert str(path) in info.value.message
    assert f"delete {path}" in info.value.hint
