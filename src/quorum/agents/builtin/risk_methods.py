"""The committee's risk methods: recent volatility, horizon tail risk, the stop loss and gap risk.

Conventions (each checked against pandas/numpy or the ``ta`` library in tests/committee):

- **Full-sample volatility** per bar = sample stdev (n - 1) of the log returns. **Recent volatility**
  = EWMA (RiskMetrics): sigma^2 = sum(lambda^i r_{T-i}^2) / sum(lambda^i) over every log return, newest
  weight 1, zero mean (pandas ``(r**2).ewm(alpha=1 - lambda, adjust=True).mean()``). The committee
  **sizes on the larger** of the two, so a calm past does not average away a stormy present.
  Annualised = per bar x sqrt(bars per year), the bars per year following the data's frequency.
- **Horizon VaR / CVaR** over h bars at level q: *empirical* when the sample holds at least
  ``empirical_min_horizons`` independent horizons (n_returns / h): the overlapping h-bar simple returns
  c_{t+h} / c_t - 1 (their log less (1 - ``drift_shrinkage``) x the sample's mean log return x h, so
  both methods carry the same share of the sample's drift), the tail holding the
  k = ceil((1 - q) x windows) worst; VaR = the k-th worst loss, CVaR = the mean of the k worst.
  Otherwise *parametric*: the h-bar log return ~ N(mu h, s^2 h), mu the mean log return times
  ``drift_shrinkage`` (a sample's trend is mostly noise), s the sizing volatility per bar (drift
  included, no bare sqrt(t) scaling of a one-bar quantile); VaR = 1 - exp(mu h - z s sqrt(h)),
  CVaR = 1 - exp(mu h + s^2 h / 2) x Phi(-z - s sqrt(h)) / (1 - q), z = Phi^-1(q). Losses are
  positive fractions; a gain in the tail is a loss of 0.
- **ATR** (Wilder, close to close: the data has closes only, so the true range of a bar is
  |c_t - c_{t-1}|): the first value is the mean of the first n ranges, then
  atr_t = (atr_{t-1} (n - 1) + tr_t) / n. **Stop loss** = ``stop_atr_multiple`` x ATR / last close,
  bounded to [``min_stop_fraction``, the tolerance's ``max_stop_fraction``]: a stop is set by the
  price's noise, not by the tail quantile (VaR answers another question).
- **Gap risk**: a stop is not a guaranteed price. The loss if the worst one-bar fall of the sample
  happens from just above the stop: 1 - (1 - stop) x (1 - worst fall).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

__all__ = (
    "HorizonTail",
    "Volatility",
    "atr",
    "ewma_volatility",
    "gap_loss",
    "horizon_tail",
    "stop_fraction",
    "volatility",
)


def ewma_volatility(returns: Sequence[float], lam: float) -> float | None:
    """Recent volatility per bar (see the module doc); None without returns."""
    if not returns:
        return None
    num = den = 0.0
    weight = 1.0
    for r in reversed(returns):
        num += weight * r * r
        den += weight
        weight *= lam
    return math.sqrt(num / den)


@dataclass(frozen=True, slots=True, kw_only=True)
class Volatility:
    full_sample: float
    """Per bar, sample stdev of the log returns."""
    recent: float
    """Per bar, EWMA."""
    periods_per_year: float
    ewma_lambda: float

    @property
    def sizing(self) -> float:
        return max(self.full_sample, self.recent)

    @property
    def basis(self) -> Literal["recent", "full-sample"]:
        return "recent" if self.recent > self.full_sample else "full-sample"

    def annual(self, per_bar: float) -> float:
        return per_bar * math.sqrt(self.periods_per_year)


def volatility(log_rets: Sequence[float], *, periods_per_year: float, lam: float) -> Volatility | None:
    if len(log_rets) < 2:
        return None
    recent = ewma_volatility(log_rets, lam)
    assert recent is not None  # there are returns
    return Volatility(
        full_sample=statistics.stdev(log_rets),
        recent=recent,
        periods_per_year=periods_per_year,
        ewma_lambda=lam,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HorizonTail:
    method: Literal["empirical", "parametric"]
    level: float
    horizon_bars: int
    var: float
    cvar: float
    windows: int
    """Overlapping horizon returns (empirical) or 0 (parametric)."""
    tail_count: int

    def describe(self) -> str:
        if self.method == "empirical":
            return (
                f"empirical {self.level:.0%} VaR/CVaR of {self.windows} overlapping {self.horizon_bars}-bar "
                f"returns (the {self.tail_count} worst)"
            )
        return (
            f"parametric {self.level:.0%} VaR/CVaR over {self.horizon_bars} bars: log-normal with the "
            "sample drift and the sizing volatility (too few independent horizons for an empirical one)"
        )


def horizon_tail(
    closes: Sequence[float],
    *,
    horizon_bars: int,
    level: float,
    sizing_vol: float,
    min_horizons: float,
    drift_weight: float = 1.0,
) -> HorizonTail | None:
    """Horizon VaR and CVaR (see the module doc); None with fewer than 3 closes."""
    n_returns = len(closes) - 1
    h = max(1, horizon_bars)
    if n_returns < 2:
        return None
    if n_returns / h >= min_horizons:
        # the sample's drift carried at drift_weight, as in the parametric case: a rally in the sample
        # is not a promise that the next horizon cannot lose
        excess = (1.0 - drift_weight) * math.log(closes[-1] / closes[0]) / n_returns * h
        rets = [math.exp(math.log(closes[t + h] / closes[t]) - excess) - 1.0 for t in range(len(closes) - h)]
        # ceil with a tolerance: 100 * 0.05 is 5.000000000000001 in floating point
        k = max(1, math.ceil(len(rets) * (1.0 - level) - 1e-9))
        losses = [max(0.0, -r) for r in sorted(rets)[:k]]
        return HorizonTail(
            method="empirical",
            level=level,
            horizon_bars=h,
            var=losses[-1],
            cvar=math.fsum(losses) / k,
            windows=len(rets),
            tail_count=k,
        )
    logs = [math.log(b / a) for a, b in pairwise(closes)]
    mu_h = drift_weight * math.fsum(logs) / len(logs) * h
    s_h = sizing_vol * math.sqrt(h)
    normal = statistics.NormalDist()
    z = normal.inv_cdf(level)
    var = 1.0 - math.exp(mu_h - z * s_h)
    cvar = 1.0 - math.exp(mu_h + s_h * s_h / 2.0) * normal.cdf(-z - s_h) / (1.0 - level)
    return HorizonTail(
        method="parametric",
        level=level,
        horizon_bars=h,
        var=max(0.0, var),
        cvar=max(0.0, cvar),
        windows=0,
        tail_count=0,
    )


def atr(closes: Sequence[float], n: int) -> float | None:
    """Wilder ATR of the last bar from closes (see the module doc); None with fewer than n + 1 closes."""
    if n <= 0 or len(closes) < n + 1:
        return None
    ranges = [abs(b - a) for a, b in pairwise(closes)]
    current = math.fsum(ranges[:n]) / n
    for tr in ranges[n:]:
        current = (current * (n - 1) + tr) / n
    return current


def stop_fraction(atr_value: float, last_close: float, *, multiple: float, low: float, high: float) -> float:
    return min(high, max(low, multiple * atr_value / last_close))


def gap_loss(stop: float, closes: Sequence[float]) -> tuple[float, float]:
    """(loss fraction through the stop at the worst one-bar fall, that worst fall)."""
    worst = max((max(0.0, 1.0 - b / a) for a, b in pairwise(closes)), default=0.0)
    return 1.0 - (1.0 - stop) * (1.0 - worst), worst
