"""Risk measures against values computed by hand: a known volatility, a known drawdown, known tails."""

from __future__ import annotations

import math

import pytest

from quorum.agents.builtin.risk import (
    annualised_volatility,
    historical_var_cvar,
    is_crypto,
    limits_for,
    max_drawdown,
    parse_horizon,
    periods_per_year,
    scale_to_horizon,
    vol_target_fraction,
)
from quorum.errors import InputValidationError

pytestmark = pytest.mark.unit


def _closes_from_returns(returns: list[float], start: float = 100.0) -> list[float]:
    out = [start]
    for r in returns:
        out.append(out[-1] * (1 + r))
    return out


def test_known_volatility() -> None:
    # log returns +s, -s, +s, -s (s = ln 1.1): mean 0, sample variance 4 s^2 / 3
    closes = [100.0, 110.0, 100.0, 110.0, 100.0]
    step = math.log(1.1)
    expected = step * math.sqrt(4 / 3)
    assert annualised_volatility(closes, 252) == pytest.approx(expected * math.sqrt(252))
    assert annualised_volatility(closes, 365) == pytest.approx(expected * math.sqrt(365))
    assert annualised_volatility([100 * 1.01**t for t in range(30)], 252) == pytest.approx(0.0, abs=1e-12)
    assert annualised_volatility([1.0, 2.0], 252) is None


def test_crypto_uses_365_days_and_equities_252() -> None:
    assert [periods_per_year(t) for t in ("BTC", "eth", "BTC-USD", "ETH/USDT", "SOLUSD", "AAPL", "SPY")] == [
        365,
        365,
        365,
        365,
        365,
        252,
        252,
    ]
    assert is_crypto("btc")
    assert not is_crypto("BTCX")


def test_known_drawdown() -> None:
    dd = max_drawdown([100, 120, 90, 130, 65, 80])
    assert dd is not None
    assert (dd.fraction, dd.peak_index, dd.trough_index) == pytest.approx((0.5, 3, 4))
    rising = max_drawdown([1, 2, 3])
    assert rising is not None
    assert rising.fraction == 0.0
    assert max_drawdown([]) is None


def test_var_and_cvar_tails_by_hand() -> None:
    # 20 returns: the tail is ceil(20 * 5%) = 1 observation, the worst one.
    returns = [0.01] * 17 + [-0.02, -0.05, -0.03]
    tail = historical_var_cvar(_closes_from_returns(returns))
    assert tail is not None
    assert (tail.tail_count, tail.var, tail.cvar) == pytest.approx((1, 0.05, 0.05))
    # 40 returns: the two worst (-8%, -4%): VaR is the 2nd worst, CVaR their mean.
    tail = historical_var_cvar(_closes_from_returns([0.01] * 36 + [-0.04, -0.08, -0.01, -0.02]))
    assert tail is not None
    assert (tail.tail_count, tail.var, tail.cvar) == pytest.approx((2, 0.04, 0.06))
    # 100 returns: exactly 5 in the tail (100 * 0.05 is 5.000000000000001 in floating point).
    tail = historical_var_cvar(_closes_from_returns([0.001] * 95 + [-0.01, -0.02, -0.03, -0.04, -0.05]))
    assert tail is not None
    assert (tail.tail_count, tail.var, tail.cvar) == pytest.approx((5, 0.01, 0.03))


def test_a_tail_of_gains_is_a_loss_of_zero() -> None:
    tail = historical_var_cvar([100 * 1.01**t for t in range(30)])
    assert tail is not None
    assert (tail.var, tail.cvar) == (0.0, 0.0)


def test_square_root_of_time_scaling_is_capped_at_a_total_loss() -> None:
    assert scale_to_horizon(0.02, 25) == pytest.approx(0.10)
    assert scale_to_horizon(0.02, 0) == pytest.approx(0.02)
    assert scale_to_horizon(0.5, 100) == 1.0


@pytest.mark.parametrize(
    ("text", "ticker", "calendar", "trading"),
    [
        ("30 days", "AAPL", 30, 21),  # round(30 * 252 / 365) = round(20.71)
        ("30 days", "BTC", 30, 30),
        ("6 months", "AAPL", 180, 124),
        ("1 year", "AAPL", 365, 252),
        ("1 year", "ETH", 365, 365),
        ("2 weeks", "AAPL", 14, 10),
        ("90d", "BTC", 90, 90),
        ("1y", "BTC", 365, 365),
        (10, "BTC", 10, 10),
        ("1 day", "AAPL", 1, 1),
    ],
)
def test_horizons(text: object, ticker: str, calendar: int, trading: int) -> None:
    h = parse_horizon(text, ticker)
    assert (h.calendar_days, h.trading_days) == (calendar, trading)


@pytest.mark.parametrize("text", ["soon", "0 days", "-5 days", "3 fortnights", "", True, None, "1000 years"])
def test_bad_horizons_are_refused_with_a_hint(text: object) -> None:
    with pytest.raises(InputValidationError, match="timeHorizon"):
        parse_horizon(text)


def test_limits_and_volatility_targeting() -> None:
    assert limits_for("Medium").target_volatility == 0.40
    assert (
        limits_for("low").max_loss_fraction
        < limits_for("medium").max_loss_fraction
        < limits_for("high").max_loss_fraction
    )
    with pytest.raises(InputValidationError, match="riskTolerance"):
        limits_for("reckless")
    assert vol_target_fraction(0.8, 0.4) == pytest.approx(0.5)
    assert vol_target_fraction(0.2, 0.4) == 1.0
    assert vol_target_fraction(0.0, 0.4) == 1.0
    assert vol_target_fraction(None, 0.4) is None
