"""The figures the daily answers rest on, with their conventions stated so they can be checked by hand.

- **Bars a year** come from the dates, never from the ticker's name: the data layer's
  :func:`quorum.market.infer_frequency` (daily bars with weekend dates 365 a year, weekday-only 252,
  weekly 52, monthly 12, intraday from the spacing). Dates it cannot read (plain positions) are taken
  as 252 a year, and the answer says so.
- **Annualised volatility** = sample standard deviation (n - 1) of the log returns x sqrt(bars a year).
- **Maximum drawdown** = the largest fall from a running peak close to a later close, over the peak.
- **Horizon VaR / CVaR** at level a over h bars (h = calendar days x bars a year / 365, rounded, at least
  one): *empirical* from the overlapping h-bar simple returns c[i+h] / c[i] - 1 when the history holds at
  least ``max(30, 10 h)`` one-bar returns; the tail holds the k = ceil((1 - a) N) worst of the N
  windows, VaR is the loss of the k-th worst, CVaR the mean loss of the k worst (a gain counts as a loss
  of 0). Otherwise *parametric with drift*: the h-bar log return is normal with mean h m and standard
  deviation s sqrt(h) (m, s from the one-bar log returns), VaR = 1 - exp(h m + z s sqrt(h)) with
  z = the (1 - a) quantile of the standard normal, CVaR = 1 - exp(h m + h s^2 / 2) Phi(z - s sqrt(h)) /
  (1 - a). Losses are fractions of the position, never above 1.
- **RSI** is Wilder's, 14 bars (:func:`quorum.agents.builtin.indicators.rsi`); 70 and above reads
  overbought, 30 and below oversold, in between neutral.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from quorum.agents.builtin.indicators import log_returns, rsi
from quorum.agents.builtin.risk import max_drawdown as committee_drawdown
from quorum.agents.builtin.risk_methods import horizon_tail as committee_tail
from quorum.market import TRADING_DAYS_PER_YEAR, PricePoint, infer_frequency

__all__ = (
    "MIN_RISK_CLOSES",
    "RSI_OVERBOUGHT",
    "RSI_OVERSOLD",
    "RSI_PERIOD",
    "Annualisation",
    "HorizonTail",
    "RsiReading",
    "annualisation",
    "annualised_volatility",
    "horizon_bars",
    "horizon_tail",
    "max_drawdown",
    "rsi_reading",
)

MIN_RISK_CLOSES = 20
"""Fewer closes than this and the risk monitor does not measure a ticker (it says so)."""
RSI_PERIOD = 14
RSI_OVERBOUGHT = 70.0
RSI_OVERSOLD = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Annualisation:
    """Bars a year of a history and how that was read (the data layer's frequency, or the default)."""

    bars_per_year: float
    basis: str
    calendar: str
    """``24/7``, ``weekdays`` or ``unknown`` (from the dates, never the ticker)."""


def annualisation(points: Sequence[PricePoint]) -> Annualisation:
    """Bars a year from :func:`quorum.market.infer_frequency`; 252 (stated) when the dates cannot tell."""
    freq = infer_frequency(points)
    if freq.periods_per_year is None:
        return Annualisation(
            bars_per_year=float(TRADING_DAYS_PER_YEAR),
            basis=f"{freq.basis}; {TRADING_DAYS_PER_YEAR} periods per year assumed",
            calendar=freq.calendar,
        )
    return Annualisation(bars_per_year=freq.periods_per_year, basis=freq.basis, calendar=freq.calendar)


def horizon_bars(calendar_days: int, bars_per_year: float) -> int:
    """Bars in a horizon of ``calendar_days``: days x bars a year / 365, rounded, at least one."""
    return max(1, round(calendar_days * bars_per_year / 365.0))


def annualised_volatility(closes: Sequence[float], bars_per_year: float) -> float | None:
    rets = log_returns(closes)
    if len(rets) < 2:
        return None
    return statistics.stdev(rets) * math.sqrt(bars_per_year)


def max_drawdown(closes: Sequence[float]) -> float:
    """The largest peak-to-trough fall, as a fraction (the committee's measure, without its indices)."""
    drawdown = committee_drawdown(closes)
    return 0.0 if drawdown is None else drawdown.fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class HorizonTail:
    """VaR and CVaR over ``bars`` bars at ``level``, as fractions of the position (losses positive)."""

    level: float
    bars: int
    var: float
    cvar: float
    method: Literal["empirical", "parametric"]
    windows: int
    """Overlapping horizon windows used (empirical), or one-bar returns estimated from (parametric)."""

    def describe(self) -> str:
        if self.method == "empirical":
            return f"empirical, from {self.windows} overlapping {self.bars}-bar returns"
        return f"parametric normal with drift, from {self.windows} one-bar log returns"


def horizon_tail(closes: Sequence[float], bars: int, level: float = 0.95) -> HorizonTail | None:
    """Horizon VaR/CVaR by the method the sample allows (see the module doc); None under 3 closes.

    The committee's :func:`~quorum.agents.builtin.risk_methods.horizon_tail` computes it, with the daily
    conventions: the sample's own volatility and full drift, and the empirical method from
    ``max(30, 10 h)`` one-bar returns."""
    returns = len(closes) - 1
    if returns < 2 or bars < 1 or not 0.5 < level < 1.0:
        return None
    tail = committee_tail(closes, horizon_bars=bars, level=level,
                          sizing_vol=statistics.stdev(log_returns(closes)), min_horizons=max(30 / bars, 10))
    if tail is None:
        return None
    empirical = tail.method == "empirical"
    return HorizonTail(
        level=level,
        bars=bars,
        var=min(1.0, tail.var),
        cvar=min(1.0, tail.cvar),
        method=tail.method,
        windows=tail.windows if empirical else returns,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RsiReading:
    value: float
    reading: Literal["overbought", "oversold", "neutral"]

    def describe(self) -> str:
        where = (
            f"at or above {RSI_OVERBOUGHT:.0f}"
            if self.reading == "overbought"
            else f"at or below {RSI_OVERSOLD:.0f}"
            if self.reading == "oversold"
            else f"between {RSI_OVERSOLD:.0f} and {RSI_OVERBOUGHT:.0f}"
        )
        return f"RSI({RSI_PERIOD}, Wilder) {self.value:.1f}, {where}: {self.reading}"


def rsi_reading(closes: Sequence[float]) -> RsiReading | None:
    value = rsi(closes, RSI_PERIOD)
    if value is None:
        return None
    reading: Literal["overbought", "oversold", "neutral"] = (
        "overbought" if value >= RSI_OVERBOUGHT else "oversold" if value <= RSI_OVERSOLD else "neutral"
    )
    return RsiReading(value=value, reading=reading)
