"""The extension point of the data layer: a provider fetches a ticker's bars (one method), and the
optional libraries behind the shipped ones are imported only when one is used."""

from __future__ import annotations

import importlib
from datetime import datetime
from types import ModuleType
from typing import Protocol

from quorum.market._errors import EXTRA_COMMAND, MarketDataError
from quorum.market._series import PriceSeries

__all__ = ("HISTORY_DAYS", "INTERVAL", "Provider", "require")

HISTORY_DAYS = 730
"""Calendar days of history asked for: two years of daily bars, enough for the longest window and for
empirical horizon VaR from overlapping returns."""
INTERVAL = "1d"
"""The bar the committee works on (daily)."""


class Provider(Protocol):
    @property
    def name(self) -> str:
        """``yfinance``, ``ccxt:binance``: as ``--data`` writes it and ``marketData.provider`` records it."""
        ...

    def fetch(self, ticker: str, *, interval: str, days: int, now: datetime) -> PriceSeries:
        """The bars of the last ``days`` calendar days, oldest first; raises :class:`MarketDataError`."""
        ...


def require(module: str) -> ModuleType:
    """The optional library, or a usage error naming the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MarketDataError(
            f"the {module} provider is not installed", reason="missing", hint=EXTRA_COMMAND
        ) from None
