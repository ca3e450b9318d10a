"""Risk measures and the committee's risk policy. Pure functions, standard library only.

Conventions (documented here so every number in a verdict can be checked by hand):

- **Annualised volatility** = sample standard deviation (n - 1) of the daily *log* returns times
  sqrt(periods per year). Periods per year: **365 for crypto tickers** (BTC, ETH, ... trade every day),
  **252 for everything else** (equity trading days).
- **Maximum drawdown** = the largest fall from a running peak close to a later close, as a fraction of
  the peak.
- **Historical VaR / CVaR at 95%** over one day: sort the daily simple returns; the tail holds the
  k = ceil(5% of n) worst (at least one). VaR = the loss of the k-th worst return, CVaR = the mean loss
  of the k worst (expected shortfall). A gain in the tail counts as a loss of 0.
- **Horizon scaling** (:func:`scale_to_horizon`, kept for the daily analysis): one-day VaR times
  sqrt(horizon), capped at 100%. The committee's horizon VaR/CVaR does not scale a one-day quantile: it
  is empirical or parametric with drift (``risk_methods``), and its limits are in ``policy``.
- **Horizons**: "30 days", "2 weeks", "6 months", "1 year", "90d", "1y", or a number of days. A week is
  7 days, a month 30, a year 365 (calendar days). Trading days = calendar days for crypto, and
  round(calendar days * 252 / 365) otherwise (at least 1).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from quorum.agents.builtin.indicators import log_returns, simple_returns
from quorum.agents.builtin.policy import DEFAULT_POLICY, RiskLimits
from quorum.errors import InputValidationError

__all__ = (
    "CRYPTO_TICKERS",
    "Drawdown",
    "Horizon",
    "RiskLimits",
    "TailRisk",
    "annualised_volatility",
    "historical_var_cvar",
    "is_crypto",
    "limits_for",
    "max_drawdown",
    "parse_horizon",
    "periods_per_year",
    "scale_to_horizon",
    "vol_target_fraction",
)

CRYPTO_TICKERS = frozenset(
    {
        "BTC",
        "ETH",
        "SOL",
        "XRP",
        "ADA",
        "DOGE",
        "DOT",
        "AVAX",
        "LTC",
        "BNB",
        "MATIC",
        "LINK",
        "TRX",
        "XLM",
        "ATOM",
        "UNI",
        "BCH",
        "ETC",
        "SHIB",
        "TON",
        "NEAR",
        "APT",
        "ARB",
        "OP",
        "XMR",
        "USDT",
        "USDC",
    }
)

_QUOTES = ("-USD", "/USD", "USD", "-USDT", "/USDT", "USDT", "-EUR", "/EUR")


def is_crypto(ticker: str) -> bool:
    """BTC, btc, BTC-USD, BTC/USDT, BTCUSD are crypto; AAPL is not."""
    t = ticker.strip().upper()
    if t in CRYPTO_TICKERS:
        return True
    return any(t.endswith(quote) and t[: -len(quote)] in CRYPTO_TICKERS for quote in _QUOTES)


def periods_per_year(ticker: str) -> int:
    return 365 if is_crypto(ticker) else 252


def annualised_volatility(closes: Sequence[float], periods: int) -> float | None:
    """Sample stdev of log returns * sqrt(periods); None with fewer than 3 closes."""
    rets = log_returns(closes)
    if len(rets) < 2:
        return None
    return statistics.stdev(rets) * math.sqrt(periods)


@dataclass(frozen=True, slots=True, kw_only=True)
class Drawdown:
    fraction: float
    """0.25 = the price fell 25% from its peak."""
    peak_index: int
    trough_index: int


def max_drawdown(closes: Sequence[float]) -> Drawdown | None:
    if not closes:
        return None
    peak_i, best = 0, Drawdown(fraction=0.0, peak_index=0, trough_index=0)
    for i, c in enumerate(closes):
        if c > closes[peak_i]:
            peak_i = i
        dd = 1.0 - c / closes[peak_i]
        if dd > best.fraction:
            best = Drawdown(fraction=dd, peak_index=peak_i, trough_index=i)
    return best


@dataclass(frozen=True, slots=True, kw_only=True)
class TailRisk:
    """One-day historical VaR and CVaR at ``level`` as fractions of the position (losses are positive)."""

    level: float
    var: float
    cvar: float
    tail_count: int
    observations: int


def historical_var_cvar(closes: Sequence[float], level: float = 0.95) -> TailRisk | None:
    """One-day historical VaR/CVaR from simple returns; None with fewer than 2 returns."""
    rets = simple_returns(closes)
    if len(rets) < 2:
        return None
    # ceil(n * 5%) with a tolerance: 100 * 0.05 is 5.000000000000001 in floating point.
    k = max(1, math.ceil(len(rets) * (1.0 - level) - 1e-9))
    worst = sorted(rets)[:k]
    losses = [max(0.0, -r) for r in worst]
    return TailRisk(
        level=level, var=losses[-1], cvar=math.fsum(losses) / k, tail_count=k, observations=len(rets)
    )


def scale_to_horizon(one_day: float, trading_days: int) -> float:
    """Square-root-of-time scaling, capped at a total loss (1.0)."""
    return min(1.0, one_day * math.sqrt(max(1, trading_days)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Horizon:
    text: str
    calendar_days: int
    trading_days: int


_UNIT_DAYS = {
    "d": 1,
    "day": 1,
    "days": 1,
    "w": 7,
    "wk": 7,
    "week": 7,
    "weeks": 7,
    "m": 30,
    "mo": 30,
    "month": 30,
    "months": 30,
    "y": 365,
    "yr": 365,
    "year": 365,
    "years": 365,
}
_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def parse_horizon(value: object, ticker: str = "") -> Horizon:
    """ "30 days" -> 30 calendar days; trading days follow the asset's calendar (see the module doc)."""
    if isinstance(value, bool) or value is None:
        raise InputValidationError([f"timeHorizon: expected a duration such as '30 days', got {value!r}"])
    text = str(value).strip()
    match = _HORIZON.match(text.lower())
    unit = match.group(2) if match else None
    if match is None or (unit and unit not in _UNIT_DAYS):
        raise InputValidationError(
            [f"timeHorizon: cannot read {text!r}; write a number and a unit: '30 days', '6 months', '1 year'"]
        )
    days = float(match.group(1)) * _UNIT_DAYS[unit or "d"]
    calendar = round(days)
    if calendar < 1 or calendar > 36_500:
        raise InputValidationError([f"timeHorizon: {text!r} must be between 1 day and 100 years"])
    trading = calendar if is_crypto(ticker) else max(1, round(calendar * 252 / 365))
    return Horizon(text=text, calendar_days=calendar, trading_days=trading)


def limits_for(tolerance: object) -> RiskLimits:
    """The default policy's limits of ``tolerance`` (``CommitteePolicy.limits_for`` for another policy)."""
    return DEFAULT_POLICY.limits_for(tolerance)


def vol_target_fraction(annual_vol: float | None, target: float) -> float | None:
    """Volatility-based sizing: invest target / volatility of the amount (at most all of it)."""
    if annual_vol is None:
        return None
    if annual_vol <= 0.0:
        return 1.0
    return min(1.0, target / annual_vol)
