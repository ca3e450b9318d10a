"""The one error of the market data layer: what is missing, and the one thing that supplies it.

::

    MarketDataError(QuorumError)
        reason "usage"        a bad --data choice or ticker (exit status 2)
        reason "missing"      no provider installed, nothing cached: ``hint`` is the command to run
        reason "unavailable"  the provider did not answer (offline, refused, rate-limited)
        reason "no-data"      the provider answered without bars for the symbol
"""

from __future__ import annotations

from typing import Literal

from quorum.errors import QuorumError

__all__ = ("EXTRA_COMMAND", "MarketDataError", "Reason")

Reason = Literal["usage", "missing", "unavailable", "no-data"]

EXTRA_COMMAND = "pip install 'quorum[data]'"
"""What installs the providers (yfinance and ccxt)."""


class MarketDataError(QuorumError):
    def __init__(self, message: str, *, reason: Reason, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason: Reason = reason
        self.hint = hint
