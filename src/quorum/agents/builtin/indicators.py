"""Technical indicators on a series of closes (oldest first). Pure functions, standard library only.

Conventions (the usual ones, stated so that a reader can check them by hand):

- simple return r_t = c_t / c_{t-1} - 1; log return l_t = ln(c_t / c_{t-1}).
- SMA(n) = mean of the last n closes.
- EMA(n): alpha = 2 / (n + 1), seeded with the SMA of the first n values, then
  ema_t = alpha * x_t + (1 - alpha) * ema_{t-1}.
- RSI(n) (Wilder): the first average gain / loss is the simple mean of the first n changes, then
  avg_t = (avg_{t-1} * (n - 1) + x_t) / n; RSI = 100 - 100 / (1 + avg_gain / avg_loss); 100 when there
  are no losses, 50 when the price never moved.
- MACD(12, 26, 9): line = EMA12 - EMA26 (from the 26th close on), signal = EMA9 of the line,
  histogram = line - signal. Needs 26 + 9 - 1 = 34 closes.
- Rate of change over n periods = c_t / c_{t-n} - 1.
- Trend: SMA(short) and SMA(long) at fixed windows (20/50 by default, the committee's policy), never
  shortened for a short history.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

__all__ = (
    "MACD",
    "Trend",
    "ema",
    "ema_series",
    "log_returns",
    "macd",
    "rate_of_change",
    "rsi",
    "simple_returns",
    "sma",
    "trend",
)


def simple_returns(closes: Sequence[float]) -> list[float]:
    return [b / a - 1.0 for a, b in pairwise(closes)]


def log_returns(closes: Sequence[float]) -> list[float]:
    return [math.log(b / a) for a, b in pairwise(closes)]


def sma(values: Sequence[float], n: int) -> float | None:
    """Mean of the last ``n`` values; None when there are fewer."""
    if n <= 0 or len(values) < n:
        return None
    return math.fsum(values[-n:]) / n


def ema_series(values: Sequence[float], n: int) -> list[float]:
    """EMA values from index n-1 on (seeded with the SMA of the first n); empty when too short."""
    if n <= 0 or len(values) < n:
        return []
    alpha = 2.0 / (n + 1)
    current = math.fsum(values[:n]) / n
    out = [current]
    for x in values[n:]:
        current = alpha * x + (1.0 - alpha) * current
        out.append(current)
    return out


def ema(values: Sequence[float], n: int) -> float | None:
    series = ema_series(values, n)
    return series[-1] if series else None


def rsi(closes: Sequence[float], n: int = 14) -> float | None:
    """Wilder's RSI of the last close; None with fewer than n + 1 closes."""
    if n <= 0 or len(closes) < n + 1:
        return None
    changes = [b - a for a, b in pairwise(closes)]
    avg_gain = math.fsum(max(c, 0.0) for c in changes[:n]) / n
    avg_loss = math.fsum(max(-c, 0.0) for c in changes[:n]) / n
    for c in changes[n:]:
        avg_gain = (avg_gain * (n - 1) + max(c, 0.0)) / n
        avg_loss = (avg_loss * (n - 1) + max(-c, 0.0)) / n
    if avg_loss == 0.0:
        return 50.0 if avg_gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


@dataclass(frozen=True, slots=True, kw_only=True)
class MACD:
    line: float
    signal: float
    histogram: float


def macd(closes: Sequence[float], fast: int = 12, slow: int = 26, signal: int = 9) -> MACD | None:
    """MACD of the last close; None with fewer than ``slow + signal - 1`` closes."""
    if len(closes) < slow + signal - 1:
        return None
    fast_series = ema_series(closes, fast)
    slow_series = ema_series(closes, slow)
    # Align: the fast series starts at index fast-1, the slow one at slow-1.
    offset = slow - fast
    line = [f - s for f, s in zip(fast_series[offset:], slow_series, strict=True)]
    signal_series = ema_series(line, signal)
    last_line, last_signal = line[-1], signal_series[-1]
    return MACD(line=last_line, signal=last_signal, histogram=last_line - last_signal)


def rate_of_change(closes: Sequence[float], n: int) -> float | None:
    if n <= 0 or len(closes) < n + 1:
        return None
    return closes[-1] / closes[-1 - n] - 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Trend:
    """Where the price stands against its averages, and a score in [-1, 1] (positive = up-trend)."""

    direction: str
    """"up", "down" or "sideways"."""
    score: float
    short_window: int
    long_window: int
    sma_short: float | None
    sma_long: float | None
    signals: tuple[tuple[str, float], ...]
    """(name, contribution) pairs that make the score, for the rationale."""


def trend(closes: Sequence[float], *, short_window: int = 20, long_window: int = 50) -> Trend | None:
    """Trend from moving averages, MACD and momentum; None with fewer than ``long_window`` closes.

    The windows are never shortened to fit a short history (a 10-close "SMA50" measures nothing): the
    caller says that the trend is not measured, and why.
    Each signal contributes +-w: price above/below the long average (0.3), short above/below long (0.3),
    MACD histogram sign (0.2, when computable), rate of change over the short window (0.2).
    The sum is renormalised by the weights that could be computed; above 0.2 the trend is up, below
    -0.2 down, else sideways.
    """
    n = len(closes)
    if n < long_window or short_window >= long_window or short_window < 1:
        return None
    long_w, short_w = long_window, short_window
    s_short, s_long = sma(closes, short_w), sma(closes, long_w)
    # n >= long_w >= short_w by construction, so both averages exist
    assert s_short is not None
    assert s_long is not None
    last = closes[-1]
    signals: list[tuple[str, float]] = []
    weights = 0.0
    signals.append((f"price vs SMA{long_w}", 0.3 * _sign(last - s_long, last)))
    signals.append((f"SMA{short_w} vs SMA{long_w}", 0.3 * _sign(s_short - s_long, last)))
    weights += 0.6
    m = macd(closes)
    if m is not None:
        signals.append(("MACD histogram", 0.2 * _sign(m.histogram, last)))
        weights += 0.2
    roc = rate_of_change(closes, short_w)
    if roc is not None:
        signals.append((f"{short_w}-period momentum", 0.2 * _sign(roc)))
        weights += 0.2
    score = math.fsum(v for _, v in signals) / weights
    direction = "up" if score > 0.2 else "down" if score < -0.2 else "sideways"
    return Trend(
        direction=direction,
        score=score,
        short_window=short_w,
        long_window=long_w,
        sma_short=s_short,
        sma_long=s_long,
        signals=tuple(signals),
    )


def _sign(x: float, scale: float = 1.0) -> float:
    # A relative tolerance keeps float noise (an SMA equal to the price but for rounding) from voting.
    if abs(x) <= 1e-9 * max(1.0, abs(scale)):
        return 0.0
    return 1.0 if x > 0 else -1.0
