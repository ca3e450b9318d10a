"""Indicators against values computed by hand on small known series."""

from __future__ import annotations

import math

import pytest

from quorum.agents.builtin.indicators import (
    ema,
    ema_series,
    log_returns,
    macd,
    rate_of_change,
    rsi,
    simple_returns,
    sma,
    trend,
)

pytestmark = pytest.mark.unit


def test_returns_of_constant_growth() -> None:
    closes = [100 * 1.01**t for t in range(6)]
    assert simple_returns(closes) == pytest.approx([0.01] * 5)
    assert log_returns(closes) == pytest.approx([math.log(1.01)] * 5)
    assert simple_returns([100, 110, 99]) == pytest.approx([0.10, -0.10])


def test_sma_and_ema_by_hand() -> None:
    assert sma([1, 2, 3, 4, 5], 3) == pytest.approx(4.0)
    assert sma([1, 2], 3) is None
    # seed = mean(1, 2, 3) = 2; alpha = 2 / (3 + 1) = 0.5; then 0.5*4 + 0.5*2 = 3; 0.5*5 + 0.5*3 = 4
    assert ema_series([1, 2, 3, 4, 5], 3) == pytest.approx([2.0, 3.0, 4.0])
    assert ema([1, 2], 3) is None


def test_ema_of_a_straight_line_lags_by_half_its_window() -> None:
    # The SMA seed of a line lags by (n - 1) / 2, which is also the EMA's steady-state lag: it stays exact.
    line = [float(t) for t in range(60)]
    assert ema(line, 12) == pytest.approx(59 - 5.5)
    assert ema(line, 26) == pytest.approx(59 - 12.5)


def test_macd_of_a_line_and_of_a_constant() -> None:
    m = macd([float(t) for t in range(60)])
    assert m is not None
    assert (m.line, m.signal, m.histogram) == pytest.approx((7.0, 7.0, 0.0))
    flat = macd([5.0] * 40)
    assert flat is not None
    assert flat.histogram == pytest.approx(0.0)
    assert macd([1.0] * 33) is None  # needs 26 + 9 - 1 = 34 closes


def test_rsi_by_hand() -> None:
    # n = 2, changes +1, -1, +1: first averages 0.5 / 0.5, then gain (0.5 + 1) / 2 = 0.75, loss 0.25 -> RS 3
    assert rsi([1, 2, 1, 2], 2) == pytest.approx(75.0)
    assert rsi([float(t) for t in range(20)]) == 100.0
    assert rsi([3.0] * 20) == 50.0
    assert rsi([float(20 - t) for t in range(20)]) == pytest.approx(0.0)
    assert rsi([1.0] * 14) is None


def test_rate_of_change_and_trend() -> None:
    assert rate_of_change([100, 105, 110], 2) == pytest.approx(0.10)
    assert rate_of_change([100], 1) is None
    up = trend([100 * 1.01**t for t in range(80)])
    down = trend([100 * 0.99**t for t in range(80)])
    assert up is not None
    assert down is not None
    assert (up.direction, up.short_window, up.long_window) == ("up", 20, 50)
    assert up.score == pytest.approx(1.0)
    assert down.direction == "down"
    # Decay shrinks both EMAs, so the (negative) MACD line rises above its signal: the histogram votes up.
    # -0.3 (price < SMA50) - 0.3 (SMA20 < SMA50) + 0.2 (histogram > 0) - 0.2 (momentum) = -0.6
    assert down.score == pytest.approx(-0.6)
    flat = trend([10.0] * 60)
    assert flat is not None
    assert (flat.direction, flat.score, flat.long_window) == ("sideways", 0.0, 50)
    assert trend([10.0] * 49) is None  # the windows are never shortened to fit a short history
    assert trend([10.0] * 30, short_window=5, long_window=10) is not None
