"""A ticker as each provider spells it.

- yfinance: a plain code such as ``BTC`` is tried first as the USD crypto pair ``BTC-USD`` (kept only when
  Yahoo says the instrument is a cryptocurrency: ``BTC`` alone is an exchange-traded fund there), then as
  given (``AAPL``). A symbol with Yahoo punctuation (``BTC-USD``, ``BRK.B``, ``EURUSD=X``, ``^GSPC``) is
  used as given; ``BTC/USDT`` becomes ``BTC-USD`` (Yahoo quotes crypto in USD).
- ccxt: ``BTC`` becomes ``BTC/USDT`` (the deepest quote on most exchanges), ``BTC-USD`` becomes
  ``BTC/USD``; ``ETH/BTC`` is used as given.

No list of tickers is consulted: the provider's answer decides, and the same rule holds for every code.
"""

from __future__ import annotations

import re

from quorum.market._errors import MarketDataError

__all__ = ("ccxt_symbol", "normalise_ticker", "yahoo_candidates")

_PLAIN = re.compile(r"^[A-Z0-9]{1,10}$")
_VALID = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=/^]{0,30}$")
_STABLE_QUOTES = ("USDT", "USDC", "BUSD")


def normalise_ticker(ticker: str) -> str:
    value = ticker.strip().upper()
    if not _VALID.match(value):
        raise MarketDataError(
            f"ticker {ticker!r} is not a symbol (letters, digits and . - = / ^, such as BTC, AAPL or "
            "BTC-USD)",
            reason="usage",
        )
    return value


def yahoo_candidates(ticker: str) -> tuple[tuple[str, bool], ...]:
    """``(symbol, must_be_crypto)`` in the order to try."""
    value = normalise_ticker(ticker)
    if "/" in value:
        base, _, quote = value.partition("/")
        return ((f"{base}-{'USD' if quote in _STABLE_QUOTES else quote}", False),)
    if _PLAIN.match(value):
        return ((f"{value}-USD", True), (value, False))
    return ((value, False),)


def ccxt_symbol(ticker: str) -> str:
    value = normalise_ticker(ticker)
    if "/" in value:
        return value
    if "-" in value:
        base, _, quote = value.partition("-")
        return f"{base}/{quote}"
    if not _PLAIN.match(value):
        raise MarketDataError(
            f"ticker {ticker!r} has no crypto pair form for ccxt (write it as BTC or BTC/USDT)",
            reason="usage",
        )
    return f"{value}/USDT"
