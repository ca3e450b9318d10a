"""The market snapshot: every number the committee uses, computed once from the inputs.

The data steward publishes it (``kind: market-snapshot``); every later specialist reads that one frozen
copy, so all agents argue from the same numbers. A specialist run on its own (no steward answer in the
context) computes the same snapshot from the same inputs: the result is identical, by construction.

Metrics that need a price history are ``None`` without one, and the reason is listed in ``data_gaps``:
nothing is ever estimated from nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from quorum.agents.builtin.context import find_artifact, input_of
from quorum.agents.builtin.indicators import (
    ema,
    log_returns,
    macd,
    rate_of_change,
    rsi,
    simple_returns,
    trend,
)
from quorum.agents.builtin.prices import PricePoint, closes, parse_price_history
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
from quorum.agents.protocol import AgentRequest
from quorum.definition.model import thaw
from quorum.errors import InputValidationError

__all__ = ("MIN_RISK_OBSERVATIONS", "build_snapshot", "parse_amount", "price_history_for", "snapshot_for")

MIN_RISK_OBSERVATIONS = 20
"""Closes needed before volatility, VaR and drawdown are reported (fewer measure nothing useful)."""


def price_history_for(inputs: Mapping[str, Any], ticker: str) -> tuple[PricePoint, ...]:
    """The price history of ``ticker``: ``input.pricesByTicker[ticker]`` (a mapping ticker -> rows) when
    it has one, else ``input.prices`` (rows for the one ticker of the request, or such a mapping too)."""
    for field in ("pricesByTicker", "prices"):
        raw = inputs.get(field)
        if isinstance(raw, Mapping):
            for key, value in raw.items():
                if str(key).strip().upper() == ticker:
                    return parse_price_history(value, source=f"{field}.{key}")
        elif field == "prices":
            return parse_price_history(raw, source="prices")
    return ()


def parse_amount(inputs: Mapping[str, Any]) -> float:
    value = inputs.get("amount")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputValidationError([f"amount: expected a positive number, got {value!r}"])
    try:
        amount = float(value)
    except ValueError:
        raise InputValidationError([f"amount: expected a positive number, got {value!r}"]) from None
    if not math.isfinite(amount) or amount <= 0:
        raise InputValidationError([f"amount: expected a positive number, got {value!r}"])
    return amount


def _optional_positive(inputs: Mapping[str, Any], key: str) -> float | None:
    value = inputs.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def build_snapshot(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Compute the snapshot from the task input (ticker, amount, timeHorizon, riskTolerance, prices...)."""
    ticker = str(inputs.get("ticker") or "").strip().upper()
    if not ticker:
        raise InputValidationError(["ticker: expected a symbol such as BTC or AAPL, got nothing"])
    amount = parse_amount(inputs)
    limits = limits_for(inputs.get("riskTolerance", "medium"))
    horizon = parse_horizon(inputs.get("timeHorizon", "30 days"), ticker)
    history = price_history_for(inputs, ticker)
    periods = periods_per_year(ticker)
    gaps: list[str] = []
    prices: dict[str, Any] | None = None
    metrics: dict[str, Any] = dict.fromkeys(_METRIC_KEYS)
    sources: dict[str, str] = {}
    if not history:
        gaps.append("no price history: trend, momentum, volatility, drawdown, VaR and CVaR are not measured")
    else:
        prices = {
            "observations": len(history),
            "first_date": history[0].date,
            "last_date": history[-1].date,
            "last_close": history[-1].close,
            "source": "input.prices",
        }
        metrics, sources = _metrics(
            history, periods=periods, horizon_days=horizon.trading_days, amount=amount
        )
        if len(history) < MIN_RISK_OBSERVATIONS:
            gaps.append(
                f"only {len(history)} closes: volatility, drawdown, VaR and CVaR need at least "
                f"{MIN_RISK_OBSERVATIONS}"
            )
        metrics["vol_target_fraction"] = vol_target_fraction(
            metrics["annual_volatility"], limits.target_volatility
        )
    for key, what in (("fundamentals", "fundamentals"), ("news", "news"), ("macro", "macro data")):
        if not inputs.get(key):
            gaps.append(f"no {what} supplied (input.{key})")
    return {
        "kind": "market-snapshot",
        "ticker": ticker,
        "asset_class": "crypto" if is_crypto(ticker) else "equity",
        "periods_per_year": periods,
        "amount": amount,
        "portfolio_value": _optional_positive(inputs, "portfolioValue"),
        "risk_tolerance": limits.tolerance,
        "horizon": asdict(horizon),
        "limits": asdict(limits),
        "prices": prices,
        "metrics": metrics,
        "data_gaps": gaps,
        "sources": sources,
    }


_METRIC_KEYS = (
    "last_close",
    "total_return",
    "sma_short",
    "sma_long",
    "sma_windows",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd",
    "trend",
    "momentum",
    "momentum_window",
    "daily_volatility",
    "annual_volatility",
    "annualised_return",
    "return_to_risk",
    "max_drawdown",
    "var95",
    "cvar95",
    "vol_target_fraction",
    "mean_daily_return",
)


def _metrics(
    history: tuple[PricePoint, ...], *, periods: int, horizon_days: int, amount: float
) -> tuple[dict[str, Any], dict[str, str]]:
    cs = closes(history)
    span = f"{len(cs)} closes of input.prices ({history[0].date} .. {history[-1].date})"
    m: dict[str, Any] = dict.fromkeys(_METRIC_KEYS)
    src: dict[str, str] = {}
    m["last_close"] = cs[-1]
    m["total_return"] = cs[-1] / cs[0] - 1.0
    src["total_return"] = f"last / first close - 1 over {span}"
    t = trend(cs)
    if t is not None:
        m["sma_short"], m["sma_long"] = t.sma_short, t.sma_long
        m["sma_windows"] = [t.short_window, t.long_window]
        m["trend"] = {
            "direction": t.direction,
            "score": t.score,
            "signals": [{"name": n, "contribution": c} for n, c in t.signals],
        }
        m["momentum"] = rate_of_change(cs, t.short_window)
        m["momentum_window"] = t.short_window
        src["trend"] = f"SMA{t.short_window}/SMA{t.long_window}, MACD and momentum over {span}"
    m["ema_12"], m["ema_26"] = ema(cs, 12), ema(cs, 26)
    m["rsi_14"] = rsi(cs, 14)
    if m["rsi_14"] is not None:
        src["rsi_14"] = f"Wilder RSI(14) over {span}"
    md = macd(cs)
    if md is not None:
        m["macd"] = {"line": md.line, "signal": md.signal, "histogram": md.histogram}
        src["macd"] = f"MACD(12,26,9) over {span}"
    if len(cs) >= MIN_RISK_OBSERVATIONS:
        vol = annualised_volatility(cs, periods)
        logs = log_returns(cs)
        m["annual_volatility"] = vol
        m["daily_volatility"] = None if vol is None else vol / math.sqrt(periods)
        m["annualised_return"] = math.fsum(logs) / len(logs) * periods
        if vol:
            m["return_to_risk"] = m["annualised_return"] / vol
        src["annual_volatility"] = f"sample stdev of daily log returns x sqrt({periods}) over {span}"
        dd = max_drawdown(cs)
        if dd is not None:
            m["max_drawdown"] = {
                "fraction": dd.fraction,
                "peak_date": history[dd.peak_index].date,
                "trough_date": history[dd.trough_index].date,
                "peak_close": cs[dd.peak_index],
                "trough_close": cs[dd.trough_index],
            }
            src["max_drawdown"] = f"largest peak-to-trough fall of the closes over {span}"
        tail = historical_var_cvar(cs, 0.95)
        if tail is not None:
            for key, one_day in (("var95", tail.var), ("cvar95", tail.cvar)):
                frac = scale_to_horizon(one_day, horizon_days)
                m[key] = {
                    "one_day": one_day,
                    "horizon": frac,
                    "horizon_days": horizon_days,
                    "amount": frac * amount,
                    "tail_count": tail.tail_count,
                    "observations": tail.observations,
                }
            src["var95"] = (
                f"historical 1-day VaR95 ({tail.tail_count} worst of {tail.observations} simple returns) "
                f"x sqrt({horizon_days} trading days) x amount"
            )
            src["cvar95"] = src["var95"].replace("VaR95", "CVaR95 (mean of the tail)")
        m["mean_daily_return"] = math.fsum(simple_returns(cs)) / (len(cs) - 1)
    return m, src


def snapshot_for(request: AgentRequest) -> dict[str, Any]:
    """The steward's snapshot from the context; computed from the inputs when there is none."""
    found = find_artifact(request, "market-snapshot")
    if found is not None:
        return {k: thaw(v) for k, v in found.items()}
    snap = build_snapshot(input_of(request))
    snap["computed_by"] = str(request.agent_id)
    return snap
