"""The committee's risk figures and indicators, recomputed independently (numpy, pandas, the ta library)."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the lint extra
import pytest
from ta.momentum import RSIIndicator  # type: ignore[import-untyped]  # ta ships no type information
from ta.trend import EMAIndicator  # type: ignore[import-untyped]  # ta ships no type information
from ta.volatility import AverageTrueRange  # type: ignore[import-untyped]  # ta ships no type information

from quorum.agents.builtin.indicators import ema, log_returns, rsi
from quorum.agents.builtin.policy import DEFAULT_POLICY, policy_from
from quorum.agents.builtin.risk_methods import atr, ewma_volatility, gap_loss, horizon_tail, volatility
from quorum.errors import InputValidationError

pytestmark = pytest.mark.unit


def walk(n: int, seed: int = 11, vol: float = 0.02) -> list[float]:
    rng = random.Random(seed)
    price, out = 100.0, []
    for _ in range(n):
        out.append(price)
        price *= math.exp(rng.gauss(0.0005, vol))
    return out


def test_ewma_volatility_matches_pandas_ewm() -> None:
    rets = log_returns(walk(300))
    expected = math.sqrt((pd.Series(rets) ** 2).ewm(alpha=1 - 0.94, adjust=True).mean().iloc[-1])
    assert ewma_volatility(rets, 0.94) == pytest.approx(expected, rel=1e-12)


def test_sizing_volatility_is_the_larger_so_a_regime_change_is_not_averaged_away() -> None:
    calm_then_wild = walk(200, vol=0.005) + [c * 3 for c in walk(20, seed=5, vol=0.06)][1:]
    v = volatility(log_returns(calm_then_wild), periods_per_year=365, lam=0.94)
    assert v is not None
    assert v.full_sample == pytest.approx(float(np.std(np.diff(np.log(calm_then_wild)), ddof=1)), rel=1e-12)
    assert v.recent > v.full_sample
    assert (v.sizing, v.basis) == (v.recent, "recent")
    assert v.annual(v.sizing) == pytest.approx(v.recent * math.sqrt(365))


def test_empirical_horizon_var_cvar_from_overlapping_returns_by_numpy() -> None:
    closes = walk(400)
    tail = horizon_tail(closes, horizon_bars=10, level=0.95, sizing_vol=0.02, min_horizons=8)
    assert tail is not None
    assert tail.method == "empirical"
    c = np.array(closes)
    rets = np.sort(c[10:] / c[:-10] - 1.0)
    k = math.ceil(len(rets) * 0.05)
    assert (tail.windows, tail.tail_count) == (len(rets), k)
    assert tail.var == pytest.approx(max(0.0, -rets[k - 1]), rel=1e-12)
    assert tail.cvar == pytest.approx(float(np.mean(np.maximum(0.0, -rets[:k]))), rel=1e-12)


def test_empirical_horizon_returns_carry_only_the_policy_share_of_the_drift() -> None:
    closes = walk(400)
    tail = horizon_tail(
        closes, horizon_bars=10, level=0.95, sizing_vol=0.02, min_horizons=8, drift_weight=0.5
    )
    assert tail is not None
    logs = np.diff(np.log(closes))
    c = np.array(closes)
    shifted = np.log(c[10:] / c[:-10]) - 0.5 * logs.mean() * 10
    rets = np.sort(np.exp(shifted) - 1.0)
    k = math.ceil(len(rets) * 0.05)
    assert tail.var == pytest.approx(max(0.0, -rets[k - 1]), rel=1e-9)


def test_parametric_horizon_var_with_drift_when_the_sample_is_short_by_hand() -> None:
    closes = walk(100)
    sigma, h = 0.02, 30  # 99 returns / 30 bars = 3.3 independent horizons < 8: parametric
    tail = horizon_tail(
        closes, horizon_bars=h, level=0.95, sizing_vol=sigma, min_horizons=8, drift_weight=0.5
    )
    assert tail is not None
    assert tail.method == "parametric"
    mu_h = 0.5 * float(np.mean(np.diff(np.log(closes)))) * h
    s_h = sigma * math.sqrt(h)
    z = statistics.NormalDist().inv_cdf(0.95)
    assert tail.var == pytest.approx(1 - math.exp(mu_h - z * s_h), rel=1e-12)
    # CVaR of a log-normal by simulation (numpy), within sampling error
    draws = np.random.default_rng(1).normal(mu_h, s_h, 2_000_000)
    losses = 1 - np.exp(draws)
    assert tail.cvar == pytest.approx(float(losses[losses >= np.quantile(losses, 0.95)].mean()), rel=5e-3)
    assert tail.cvar > tail.var


def test_atr_matches_ta_and_the_stop_is_not_var() -> None:
    closes = walk(120)
    c = pd.Series(closes)
    # ta's true range with high/low spanning each close-to-close move equals |c_t - c_{t-1}|
    high = pd.concat([c, c.shift(1)], axis=1).max(axis=1).iloc[1:].reset_index(drop=True)
    low = pd.concat([c, c.shift(1)], axis=1).min(axis=1).iloc[1:].reset_index(drop=True)
    close = c.iloc[1:].reset_index(drop=True)
    expected = AverageTrueRange(high, low, close, window=14).average_true_range().iloc[-1]
    assert atr(closes, 14) == pytest.approx(float(expected), rel=1e-12)
    stop = 3 * (atr(closes, 14) or 0.0) / closes[-1]
    tail = horizon_tail(closes, horizon_bars=30, level=0.95, sizing_vol=0.02, min_horizons=8)
    assert tail is not None
    assert abs(stop - tail.var) > 1e-6


def test_gap_risk_through_the_stop_by_hand() -> None:
    loss, worst = gap_loss(0.10, [100.0, 90.0, 95.0, 57.0, 60.0])  # worst bar 95 -> 57: -40%
    assert worst == pytest.approx(0.40)
    assert loss == pytest.approx(1 - 0.9 * 0.6)


def test_wilder_rsi_and_ema_converge_on_ta() -> None:
    closes = walk(600)
    # ta seeds with the first value, quorum with an SMA (documented); after 600 bars the seed is gone
    assert rsi(closes, 14) == pytest.approx(RSIIndicator(pd.Series(closes), 14).rsi().iloc[-1], abs=1e-8)
    ta_ema = EMAIndicator(pd.Series(closes), 12).ema_indicator().iloc[-1]
    assert ema(closes, 12) == pytest.approx(ta_ema, rel=1e-9)


def test_policy_overrides_are_validated_and_named() -> None:
    policy, overridden = policy_from({"ewma_lambda": 0.97, "limits": {"medium": {"target_volatility": 0.5}}})
    assert policy.ewma_lambda == 0.97
    assert policy.limits_for("medium").target_volatility == 0.5
    assert DEFAULT_POLICY.limits_for("medium").target_volatility == 0.40  # the default is untouched
    assert overridden == ["policy.ewma_lambda", "policy.limits.medium.target_volatility"]
    with pytest.raises(InputValidationError) as err:
        policy_from({"ewma_lambda": 1.5, "windoww": 3, "limits": {"reckless": {}}, "atr_window": 2.5})
    text = "; ".join(err.value.problems)
    assert "policy.ewma_lambda: expected a fraction" in text
    assert "policy.windoww: unknown policy field; known:" in text
    assert "policy.limits.reckless: unknown risk tolerance" in text
    assert "policy.atr_window: expected a whole number" in text
    with pytest.raises(InputValidationError, match="rating scores"):
        policy_from({"buy_score": 0.1})
