"""`quorum run ... --data` and `--prices` end to end: the real command in a subprocess, its own data
directory, a proxy that goes nowhere (so nothing can reach the internet), a cache filled from the
loopback providers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quorum.market._cache import PriceCache
from quorum.market._paths import cache_path
from quorum.market._yahoo import YahooProvider
from tests.cli.helpers import Cli
from tests.market.wire import Wire, wire_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURES = Path(__file__).parent / "fixtures"
COMMITTEE = ("run", "investment-committee-meeting", "ticker=BTC", "amount=10000", "riskTolerance=medium")
NOWHERE = "http://127.0.0.1:9"  # the discard port: a provider that tried the network would fail here


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli.in_folder(tmp_path)
    cli.env.update({"QUORUM_DATA_DIR": str(tmp_path / "data"), "HTTPS_PROXY": NOWHERE, "HTTP_PROXY": NOWHERE,
                    "https_proxy": NOWHERE, "http_proxy": NOWHERE, "QUORUM_DATA": "none"})
    return cli


@pytest.fixture
def wire() -> Iterator[Wire]:
    with wire_server() as server:
        yield server


def _fill_cache(cli: Cli, wire: Wire, *, fetched_at: datetime) -> None:
    provider = YahooProvider(session=wire.yahoo_session(), cache_dir=Path(cli.env["QUORUM_DATA_DIR"]) / "yf")
    series = provider.fetch("BTC", interval="1d", days=730, now=datetime(2024, 3, 5, tzinfo=UTC))
    PriceCache(cache_path(cli.env)).put(series, fetched_at=fetched_at)


def test_data_cache_puts_prices_and_their_provenance_into_the_stored_input(cli: Cli, wire: Wire) -> None:
    _fill_cache(cli, wire, fetched_at=datetime(2024, 3, 5, tzinfo=UTC))
    r = cli(*COMMITTEE, "--data", "cache", "--json")
    assert r.code == 0, r
    result = r.json()
    assert len(result["input"]["prices"]) == 60
    assert result["input"]["prices"][0] == {"date": "2024-01-01", "close": 42000.0, "volume": 1000000.0}
    meta = result["input"]["marketData"]
    assert (meta["provider"], meta["symbol"], meta["served_from"]) == ("yfinance", "BTC-USD", "cache")
    assert meta["asset_class"] == "crypto"
    assert meta["frequency"]["periods_per_year"] == 365.0
    assert "market data: BTC-USD (60 1d bars 2024-01-01 .. 2024-02-29) from the cache (yfinance" in r.err
    assert "days ago" in r.err  # the data's age is stated
    shown = cli("show", result["id"], "--json")
    assert shown.code == 0, shown
    assert shown.json()["input"]["marketData"]["symbol"] == "BTC-USD"  # stored with the execution


def test_the_default_serves_a_fresh_cache_without_the_network(cli: Cli, wire: Wire) -> None:
    _fill_cache(cli, wire, fetched_at=datetime.now(UTC))
    cli.env.pop("QUORUM_DATA", None)  # the default source, whatever the CLI tests' environment sets
    r = cli(*COMMITTEE, "--json")
    assert r.code == 0, r
    assert r.json()["input"]["marketData"]["served_from"] == "cache"
    assert "fresh enough" in r.err


def test_quorum_data_none_runs_without_market_data(cli: Cli) -> None:
    r = cli(*COMMITTEE, "--json")
    assert r.code == 0, r
    assert "prices" not in r.json()["input"]
    assert "market data: none" in r.err


def test_no_data_anywhere_says_what_is_missing_and_what_to_run(cli: Cli) -> None:
    r = cli(*COMMITTEE, "--data", "cache")  # the network is out of reach here: only --data cache can be tried
    assert r.code == 2, r
    assert "no cached 1d prices for BTC" in r.err
    assert "--data yfinance" in r.err
    assert "--data none" in r.err
    assert "Traceback" not in r.err
    bad = cli(*COMMITTEE, "--data", "yahoo")
    assert bad.code == 2, bad
    assert "'yahoo' is not a data source" in bad.err


def test_data_csv_and_prices_read_a_yahoo_export_and_record_its_notes(cli: Cli) -> None:
    export = FIXTURES / "yahoo_export_aapl.csv"
    r = cli("run", "investment-committee-meeting", "ticker=AAPL", "amount=5000", "riskTolerance=low",
            "--data", f"csv:{export}", "--json")
    assert r.code == 0, r
    result = r.json()
    assert result["input"]["prices"][0]["close"] == pytest.approx(184.73497)  # Adj Close
    assert result["input"]["marketData"]["provider"] == "csv"
    given = cli("run", "investment-committee-meeting", "ticker=AAPL", "amount=5000", "riskTolerance=low",
                "--prices", str(export), "--data", "cache", "--json")
    assert given.code == 0, given
    data = given.json()["input"]
    assert data["prices"] == result["input"]["prices"]  # --prices wins over --data
    assert any("Adj Close" in n for n in data["marketData"]["notes"])
    assert (data["marketData"]["provider"], data["marketData"]["symbol"]) == ("file", "yahoo_export_aapl.csv")
    assert data["marketData"]["ticker"] == "AAPL"
    assert "wins over --data cache" in given.err


def test_offline_without_a_data_choice_the_run_goes_on_and_says_what_is_missing(cli: Cli) -> None:
    """The README's first command on a machine without the network or a cache: it runs (exit 0), and the
    note and the verdict say what is missing and what supplies it; only an explicit --data is refused."""
    cli.env.pop("QUORUM_DATA")
    r = cli(*COMMITTEE, "--json")
    assert r.code == 0, r
    assert "prices" not in r.json()["input"]
    assert "no price history for BTC" in r.err
    assert "--prices FILE.csv" in r.err or "pip install 'quorum[data]'" in r.err
