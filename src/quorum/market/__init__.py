"""Market data: price histories by ticker from providers (yfinance, ccxt), files and a local cache, with
their provenance, frequency and data quality.

The providers are optional (``pip install 'quorum[data]'``) and imported only when one is used; the
frequency and quality functions are plain and need nothing but the points. ``docs/committee.md``
("Market data") documents every convention.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum._lazy import lazy_exports

if TYPE_CHECKING:
    from quorum.market._cache import PriceCache
    from quorum.market._ccxt import CcxtProvider
    from quorum.market._choice import DataChoice, parse_choice
    from quorum.market._errors import MarketDataError
    from quorum.market._formats import read_price_file
    from quorum.market._frequency import (
        TRADING_DAYS_PER_YEAR,
        Calendar,
        Frequency,
        FrequencyKind,
        infer_frequency,
    )
    from quorum.market._points import PricePoint
    from quorum.market._provider import Provider
    from quorum.market._quality import QualityFlag, QualityKind, quality_flags, stale_allowance
    from quorum.market._resolve import Resolution, resolve_series
    from quorum.market._series import PriceSeries
    from quorum.market._yahoo import YahooProvider

__all__ = (
    "TRADING_DAYS_PER_YEAR",
    "Calendar",
    "CcxtProvider",
    "DataChoice",
    "Frequency",
    "FrequencyKind",
    "MarketDataError",
    "PriceCache",
    "PricePoint",
    "PriceSeries",
    "Provider",
    "QualityFlag",
    "QualityKind",
    "Resolution",
    "YahooProvider",
    "infer_frequency",
    "parse_choice",
    "quality_flags",
    "read_price_file",
    "resolve_series",
    "stale_allowance",
)

_EXPORTS = {
    "TRADING_DAYS_PER_YEAR": "quorum.market._frequency",
    "Calendar": "quorum.market._frequency",
    "CcxtProvider": "quorum.market._ccxt",
    "DataChoice": "quorum.market._choice",
    "Frequency": "quorum.market._frequency",
    "FrequencyKind": "quorum.market._frequency",
    "MarketDataError": "quorum.market._errors",
    "PriceCache": "quorum.market._cache",
    "PricePoint": "quorum.market._points",
    "PriceSeries": "quorum.market._series",
    "Provider": "quorum.market._provider",
    "QualityFlag": "quorum.market._quality",
    "QualityKind": "quorum.market._quality",
    "Resolution": "quorum.market._resolve",
    "YahooProvider": "quorum.market._yahoo",
    "infer_frequency": "quorum.market._frequency",
    "parse_choice": "quorum.market._choice",
    "quality_flags": "quorum.market._quality",
    "read_price_file": "quorum.market._formats",
    "resolve_series": "quorum.market._resolve",
    "stale_allowance": "quorum.market._quality",
}

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
