"""A loopback HTTP server answering the providers' wire formats from the recorded fixtures: Yahoo's chart
API (with its cookie and crumb steps) and Binance's public REST API (exchangeInfo, klines). Nothing here
reaches the internet: yfinance gets a requests Session whose transport sends every URL to this server,
ccxt gets its API URLs replaced by the server's."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from requests.adapters import HTTPAdapter

FIXTURES = Path(__file__).parent / "fixtures"

YAHOO_CHARTS = {"BTC-USD": "yahoo_chart_btc_usd.json", "AAPL": "yahoo_chart_aapl.json"}
BINANCE_KLINES = {"BTCUSDT": "binance_klines_btcusdt_1d.json"}


@dataclass
class Wire:
    base_url: str
    asked: list[str] = field(default_factory=list)
    """Every path asked, in order (host:path for Yahoo's several hosts)."""
    refuse: bool = False
    """Answer 503 to everything (an exchange that is down or refuses this region)."""

    def yahoo_session(self) -> requests.Session:
        """A requests Session whose every https URL goes to this server (the Host header kept)."""
        base = urlparse(self.base_url)

        class Loopback(HTTPAdapter):
            def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
                url = urlparse(request.url or "")
                request.headers["Host"] = url.netloc
                request.url = url._replace(scheme="http", netloc=base.netloc).geturl()
                return super().send(request, **kwargs)

        session = requests.Session()
        session.mount("https://", Loopback())
        session.mount("http://", Loopback())
        return session


def _answer(wire: Wire, host: str, path: str) -> tuple[int, str, bytes]:
    url = urlparse(path)
    if wire.refuse:
        return 503, "text/plain", b"Service Unavailable"
    if url.path.startswith("/v8/finance/chart/"):
        symbol = url.path.rsplit("/", 1)[-1]
        name = YAHOO_CHARTS.get(symbol)
        if name is None:
            return 404, "application/json", (FIXTURES / "yahoo_chart_not_found.json").read_bytes()
        return 200, "application/json", (FIXTURES / name).read_bytes()
    if url.path.startswith("/v10/finance/quoteSummary/"):
        symbol = url.path.rsplit("/", 1)[-1]
        missing = {"quoteSummary": {"result": None, "error": {
            "code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}}}
        return 404, "application/json", json.dumps(missing).encode()
    if url.path == "/v1/test/getcrumb":
        return 200, "text/plain", b"loopbackCrumb"
    if url.path == "/api/v3/exchangeInfo":
        return 200, "application/json", (FIXTURES / "binance_exchange_info.json").read_bytes()
    if url.path == "/api/v3/klines":
        symbol = parse_qs(url.query).get("symbol", [""])[0]
        name = BINANCE_KLINES.get(symbol)
        if name is None:
            return 400, "application/json", json.dumps({"code": -1121, "msg": "Invalid symbol."}).encode()
        return 200, "application/json", (FIXTURES / name).read_bytes()
    if url.path == "/" and "yahoo" in host:
        return 200, "text/html", b"<html>ok</html>"
    return 404, "text/plain", b"not found"


def _forget_yfinance_answers() -> None:
    """yfinance memoises chart answers for past date ranges within a process; a new server must be asked."""
    data = sys.modules.get("yfinance.data")
    if data is not None:
        data.YfData.cache_get.cache_clear()


@contextmanager
def wire_server() -> Iterator[Wire]:
    _forget_yfinance_answers()
    wire = Wire(base_url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = self.headers.get("Host") or ""
            wire.asked.append(f"{host}{self.path}")
            status, kind, body = _answer(wire, host, self.path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    wire.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield wire
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
