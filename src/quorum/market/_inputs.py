"""Market data into a run's input: ``prices`` (rows) and ``marketData`` (their provenance), so the data is
stored with the execution and a resume runs on the same bars.

Only a task that declares ``prices`` gets them, and only from its ``ticker`` (or, declaring
``pricesByTicker``, from its ``tickers``); prices the user gave (``--prices``, ``--input``) win.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from quorum.market._cache import PriceCache
from quorum.market._choice import DataChoice
from quorum.market._errors import MarketDataError
from quorum.market._formats import parse_price_rows, read_price_file
from quorum.market._resolve import Resolution, resolve_series

__all__ = ("MarketInput", "market_input", "provenance_of_file")

Resolver = Callable[[str, DataChoice], Resolution]


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketInput:
    fields: dict[str, Any] = field(default_factory=dict)
    """Input fields to add: ``prices``/``pricesByTicker`` and ``marketData``."""
    messages: tuple[str, ...] = ()
    """What was used, one line each, for the user."""


def provenance_of_file(path: Path, *, ticker: str = "") -> dict[str, Any]:
    """The ``marketData`` of a ``--prices`` file: its format's notes (Adj Close, sorted, duplicates...)."""
    series = read_price_file(path)
    return replace(series, ticker=ticker.strip().upper(), symbol=path.name).provenance()


def _tickers(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list | tuple):
        return [str(t).strip() for t in value if str(t).strip()]
    return []


def market_input(
    raw: Mapping[str, Any],
    *,
    declared: Collection[str],
    defaults: Mapping[str, Any],
    choice: DataChoice,
    cache: PriceCache,
    resolve: Resolver | None = None,
) -> MarketInput:
    """The fields to add to ``raw`` (the run's input before validation)."""
    def default_resolve(ticker: str, c: DataChoice) -> Resolution:
        return resolve_series(ticker, c, cache=cache)

    resolver = resolve or default_resolve
    wants_meta = "marketData" in declared
    given = raw.get("prices")
    if wants_meta and "marketData" not in raw and isinstance(given, list | tuple):
        # rows given in the input (--input): their provenance still records what reading them changed
        series = parse_price_rows(given, source="input.prices")
        return MarketInput(fields={"marketData": series.provenance()})
    if "prices" in declared and "prices" not in raw:
        ticker = raw.get("ticker", defaults.get("ticker"))
        if isinstance(ticker, str) and ticker.strip():
            resolution = resolver(ticker, choice)
            if resolution.series is None:
                return MarketInput(messages=(resolution.message,))
            fields: dict[str, Any] = {"prices": resolution.series.rows()}
            if wants_meta:
                fields["marketData"] = resolution.series.provenance()
            return MarketInput(fields=fields, messages=(resolution.message,))
    if "pricesByTicker" in declared and "pricesByTicker" not in raw and choice.kind != "none":
        by_ticker: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        messages: list[str] = []
        for ticker in _tickers(raw.get("tickers")):
            try:
                resolution = resolver(ticker, choice)
            except MarketDataError as exc:
                if exc.reason == "usage":
                    raise
                # one ticker of several without data: the analysts say so; the others still answer
                messages.append(f"market data: none for {ticker}: {exc.message}")
                continue
            if resolution.series is not None:
                by_ticker[ticker.upper()] = resolution.series.rows()
                meta[ticker.upper()] = resolution.series.provenance()
                messages.append(resolution.message)
        fields = {"pricesByTicker": by_ticker} if by_ticker else {}
        if by_ticker and wants_meta:
            fields["marketData"] = {"byTicker": meta}
        return MarketInput(fields=fields, messages=tuple(messages))
    if choice.explicit and choice.kind != "none" and "prices" not in declared:
        raise MarketDataError(f"--data {choice.label}: this task takes no price history (no `prices` input)",
                              reason="usage")
    return MarketInput()
