"""Market data: price histories by ticker from providers (yfinance, ccxt), files and a local cache, with
their provenance, frequency and data quality.

The providers are optional (``pip install 'quorum[data]'``) and imported only when asked for; the
frequency and quality functions are plain and need nothing but the points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum._lazy import lazy_exports

if TYPE_CHECKING:
    from quorum.market._frequency import (
        TRADING_DAYS_PER_YEAR,
        Calendar,
        Frequency,
        FrequencyKind,
        infer_frequency,
    )
    from quorum.market._points import PricePoint
    from quorum.market._quality import QualityFlag, QualityKind, quality_flags, stale_allowance
    from quorum.market._series import PriceSeries

__all__ = (
    "TRADING_DAYS_PER_YEAR",
    "Calendar",
    "Frequency",
    "FrequencyKind",
    "PricePoint",
    "PriceSeries",
    "QualityFlag",
    "QualityKind",
    "infer_frequency",
    "quality_flags",
    "stale_allowance",
)

_EXPORTS = {
    "TRADING_DAYS_PER_YEAR": "quorum.market._frequency",
    "Calendar": "quorum.market._frequency",
    "Frequency": "quorum.market._frequency",
    "FrequencyKind": "quorum.market._frequency",
    "infer_frequency": "quorum.market._frequency",
    "PricePoint": "quorum.market._points",
    "PriceSeries": "quorum.market._series",
    "QualityFlag": "quorum.market._quality",
    "QualityKind": "quorum.market._quality",
    "quality_flags": "quorum.market._quality",
    "stale_allowance": "quorum.market._quality",
}

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
