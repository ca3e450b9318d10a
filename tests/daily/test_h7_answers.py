"""Five differently shaped questions through the real engine, each answered on its own dimension.

Every figure is recomputed here, independently of quorum's code (numpy, pandas, the `ta` library and the
standard library's NormalDist), on generated series.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the lint extra
import pytest
from ta.momentum import RSIIndicator  # type: ignore[import-untyped]  # ta ships no type information

import quorum.engine.executor as executor_module

pytestmark = pytest.mark.integration


def series(closes: list[float], *, first: str = "2024-01-01", step_days: int = 1) -> list[dict[str, Any]]:
    day = dt.date.fromisoformat(first)
    return [
        {"date": (day + dt.timedelta(days=i * step_days)).isoformat(), "close": c}
        for i, c in enumerate(closes)
    ]


def walk(n: int, *, seed: int, drift: float, vol: float) -> list[float]:
    rng = random.Random(seed)
    price, out = 100.0, []
    for i in range(n):
        if i:
            price *= math.exp(rng.gauss(drift, vol))
        out.append(round(price, 4))
    return out


def rally(n: int) -> list[float]:
    """Up 1.5% four days in five, down 0.5% on the fifth: a steady climb, RSI well above 70."""
    price, out = 100.0, []
    for i in range(n):
        if i:
            price *= 0.995 if i % 5 == 0 else 1.015
        out.append(round(price, 4))
    return out


async def ask(tmp_path: Path, question: str, **inputs: Any) -> dict[str, Any]:
    executor = executor_module.TaskExecutor(tasks_dir=tmp_path)
    result = await executor.execute("daily-market-analysis", {"question": question, **inputs})
    data: dict[str, Any] = result.to_dict()
    assert data["status"] == "completed", data["error"]
    return data


def annual_vol(closes: list[float], bars_per_year: float) -> float:
    return float(np.std(np.diff(np.log(np.array(closes))), ddof=1) * math.sqrt(bars_per_year))


def max_dd(closes: list[float]) -> float:
    c = np.array(closes)
    return float(1.0 - np.min(c / np.maximum.accumulate(c)))


def empirical_var_cvar(closes: list[float], bars: int, level: float) -> tuple[float, float, int]:
    c = np.array(closes)
    windows = np.sort(c[bars:] / c[:-bars] - 1.0)
    k = max(1, math.ceil(round(len(windows) * (1.0 - level), 9)))
    losses = np.maximum(0.0, -windows[:k])
    return float(losses[-1]), float(losses.mean()), len(windows)


def wilder_rsi(closes: list[float], n: int = 14) -> float:
    changes = np.diff(np.array(closes))
    gains, losses = np.maximum(changes, 0.0), np.maximum(-changes, 0.0)
    avg_gain, avg_loss = gains[:n].mean(), losses[:n].mean()
    for g, lo in zip(gains[n:], losses[n:], strict=True):
        avg_gain = (avg_gain * (n - 1) + g) / n
        avg_loss = (avg_loss * (n - 1) + lo) / n
    return float(100.0 - 100.0 / (1.0 + avg_gain / avg_loss))


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


async def test_a_risk_comparison_ranks_by_risk_with_the_figures(tmp_path: Path) -> None:
    calm, wild = walk(200, seed=2, drift=0.001, vol=0.015), walk(200, seed=1, drift=0.001, vol=0.045)
    data = await ask(
        tmp_path, "Which is riskier, BTC or ETH?", pricesByTicker={"BTC": series(calm), "ETH": series(wild)}
    )
    answer = data["verdict"]
    assert answer["dimension"] == "risk"
    assert answer["stance"] == "neutral"  # risk is not a direction
    figures = answer["figures"]
    assert figures["ranking"] == ["ETH", "BTC"]  # the wilder series first, whatever its name
    for ticker, closes in (("BTC", calm), ("ETH", wild)):
        row = figures[ticker]
        assert row["bars_per_year"] == 365  # daily bars with weekends
        assert row["annual_volatility"] == pytest.approx(annual_vol(closes, 365), rel=1e-9)
        assert row["max_drawdown"] == pytest.approx(max_dd(closes), rel=1e-9)
        var, cvar, _ = empirical_var_cvar(closes, 1, 0.95)
        assert (row["var"], row["cvar"]) == (pytest.approx(var, rel=1e-9), pytest.approx(cvar, rel=1e-9))
        assert row["method"] == "empirical"
        assert row["horizon_bars"] == 1
        assert _pct(annual_vol(closes, 365)) in answer["answer"]
        assert _pct(var) in answer["answer"]
    assert answer["answer"].index("ETH") < answer["answer"].index("BTC")


async def test_downside_in_money_over_the_horizon_asked(tmp_path: Path) -> None:
    closes = walk(240, seed=5, drift=0.0, vol=0.03)
    data = await ask(tmp_path, "What's my downside on $10k in SOL over a week?", prices=series(closes))
    answer = data["verdict"]
    assert answer["dimension"] == "downside"
    row = answer["figures"]["SOL"]
    assert row["horizon_bars"] == 7  # a week of 24/7 daily bars
    var, cvar, windows = empirical_var_cvar(closes, 7, 0.95)
    assert row["method"] == "empirical"
    assert row["loss_at_var"] == pytest.approx(10_000 * var, rel=1e-9)
    assert row["loss_at_cvar"] == pytest.approx(10_000 * cvar, rel=1e-9)
    text = answer["answer"]
    assert f"{10_000 * var:,.2f} USD" in text
    assert f"{10_000 * cvar:,.2f} USD" in text
    assert "95% VaR" in text
    assert f"empirical, from {windows} overlapping 7-bar returns" in text


async def test_downside_too_long_for_the_sample_is_parametric_at_the_level_asked(tmp_path: Path) -> None:
    closes = walk(120, seed=9, drift=0.0005, vol=0.02)
    # weekday-only bars: 252 a year, so 30 calendar days are round(30 * 252 / 365) = 21 bars
    weekdays = list(pd.bdate_range("2024-01-01", periods=120))
    prices = [{"date": d.date().isoformat(), "close": c} for d, c in zip(weekdays, closes, strict=True)]
    data = await ask(
        tmp_path, "At 99%, how much could I lose on 2.5M EUR of AAPL over 30 days?", prices=prices
    )
    row = data["verdict"]["figures"]["AAPL"]
    assert row["bars_per_year"] == 252
    assert row["horizon_bars"] == 21
    assert row["level"] == pytest.approx(0.99)
    assert row["method"] == "parametric"  # 119 returns < 10 x 21
    logs = np.diff(np.log(np.array(closes)))
    m, s = 21 * logs.mean(), logs.std(ddof=1) * math.sqrt(21)
    z = statistics.NormalDist().inv_cdf(0.01)
    var = 1.0 - math.exp(m + z * s)
    cvar = 1.0 - math.exp(m + s * s / 2) * statistics.NormalDist().cdf(z - s) / 0.01
    assert row["loss_at_var"] == pytest.approx(2_500_000 * var, rel=1e-9)
    assert row["loss_at_cvar"] == pytest.approx(2_500_000 * cvar, rel=1e-9)
    assert cvar > var > 0
    assert "parametric" in data["verdict"]["answer"]
    assert "99% VaR" in data["verdict"]["answer"]


async def test_overbought_quotes_wilder_rsi_and_its_levels(tmp_path: Path) -> None:
    closes = rally(200)
    data = await ask(tmp_path, "Is BTC overbought?", prices=series(closes))
    answer = data["verdict"]
    assert answer["dimension"] == "momentum"
    expected = wilder_rsi(closes)
    # an independent library agrees once its different seed has worn off (200 bars)
    assert RSIIndicator(pd.Series(closes), window=14).rsi().iloc[-1] == pytest.approx(expected, abs=1e-6)
    row = answer["figures"]["BTC"]
    assert row["rsi_14"] == pytest.approx(expected, rel=1e-9)
    assert expected > 70
    assert row["rsi_reading"] == "overbought"
    assert f"{expected:.1f}" in answer["answer"]
    assert "70" in answer["answer"]
    assert "30" in answer["answer"]
    assert "overbought" in answer["answer"]


async def test_oversold_is_read_the_other_way(tmp_path: Path) -> None:
    closes = [round(1e4 / c, 6) for c in rally(200)]  # the mirror image: a steady fall
    data = await ask(tmp_path, "Is ETH oversold?", prices=series(closes))
    row = data["verdict"]["figures"]["ETH"]
    assert row["rsi_14"] == pytest.approx(wilder_rsi(closes), rel=1e-9)
    assert row["rsi_reading"] == "oversold"


async def test_a_macro_question_without_macro_data_says_so(tmp_path: Path) -> None:
    data = await ask(
        tmp_path,
        "What does the Fed's rate hike mean for ETH?",
        prices=series(walk(200, seed=3, drift=0.002, vol=0.01)),
    )
    answer = data["verdict"]
    assert answer["dimension"] == "macro"
    assert answer["confidence"] == 0.0
    assert answer["stance"] == "neutral"
    assert "input.macro" in answer["answer"]
    assert "cannot be answered" in answer["answer"]
    assert "volatility" not in answer["answer"].split("No view")[0]  # no figures stand in for a view
    # with macro data it answers from it
    data = await ask(
        tmp_path,
        "What does the Fed's rate hike mean for ETH?",
        macro={"rate_trend": "hiking", "inflation": 5.0},
    )
    answer = data["verdict"]
    assert answer["stance"] == "bearish"
    assert answer["confidence"] > 0
    assert answer["answer"].startswith("The macro backdrop for ETH reads bearish")


async def test_a_sentiment_question_without_news_says_so(tmp_path: Path) -> None:
    data = await ask(tmp_path, "What is the news sentiment on NVDA?", prices=series(rally(100)))
    answer = data["verdict"]
    assert answer["dimension"] == "sentiment"
    assert (answer["confidence"], answer["stance"]) == (0.0, "neutral")
    assert "input.news" in answer["answer"]


async def test_a_direction_question_is_not_voted_by_volatility(tmp_path: Path) -> None:
    closes = rally(150)
    data = await ask(tmp_path, "Will ETH go up next month?", prices=series(closes))
    answer = data["verdict"]
    assert answer["dimension"] == "direction"
    assert answer["stance"] == "bullish"
    selected = data["phases"]["Contextual Agent Selection"]["outputs"]["agents"]
    assert selected[0] == "market-technician"
    assert "macro-strategist" in selected  # a month or more: the macro strategist joins
    risk = next(a for a in data["phases"]["Rapid Analysis"]["answers"] if a["agent_id"] == "risk-monitor")
    assert risk["stance"] == "neutral"
    assert f"return {_pct(closes[-1] / closes[0] - 1)}" in answer["answer"]


async def test_only_the_tickers_asked_about_are_answered(tmp_path: Path) -> None:
    by_ticker = {
        "BTC": series(walk(100, seed=1, drift=0.0, vol=0.04)),
        "ETH": series(walk(100, seed=2, drift=0.0, vol=0.02)),
    }
    data = await ask(tmp_path, "How volatile is ETH?", pricesByTicker=by_ticker)
    assert data["verdict"]["figures"]["ranking"] == ["ETH"]
    assert "BTC" not in data["verdict"]["answer"]


async def test_without_prices_the_answer_says_how_to_get_them(tmp_path: Path) -> None:
    data = await ask(tmp_path, "Which is riskier, BTC or ETH?")
    answer = data["verdict"]
    assert answer["confidence"] == 0.0
    assert "tickers=BTC,ETH" in answer["answer"]
    assert "--prices" in answer["answer"]


async def test_the_answer_carries_the_data_quality_notes(tmp_path: Path) -> None:
    closes = walk(120, seed=4, drift=0.0, vol=0.01)
    closes[60] = closes[60] * 3  # a bad tick, undone on the next bar
    data = await ask(tmp_path, "How volatile is BTC?", prices=series(closes, first="2020-01-01"))
    answer = data["verdict"]["answer"]
    assert "stale" in answer  # 2020's bars, answered today
    assert "outlier" in answer
    assert "2020-03-01" in answer  # the outlier's date, named (bar 60 of a daily series from 2020-01-01)


async def test_bad_price_rows_stop_the_run_at_the_first_phase_naming_each_place(tmp_path: Path) -> None:
    executor = executor_module.TaskExecutor(tasks_dir=tmp_path)
    result = await executor.execute(
        "daily-market-analysis",
        {
            "question": "Which is riskier, BTC or ETH?",
            "pricesByTicker": {"BTC": [{"date": "2024-01-01", "close": "abc"}], "ETH": 5},
        },
    )
    assert result.status.value == "failed"
    error = str(result.error)
    assert "pricesByTicker.BTC[0]: close 'abc'" in error
    assert "pricesByTicker.ETH: expected a list" in error
    assert "Rapid Analysis" not in {
        str(name) for name in result.phases if result.phases[name].status.value == "completed"
    }
