"""The market snapshot: every number the committee uses, computed once from the inputs.

The data steward publishes it (``kind: market-snapshot``); every later specialist reads that one frozen
copy, so all agents argue from the same numbers. A specialist run on its own (no steward answer in the
context) computes the same snapshot from the same inputs: the result is identical, by construction.

Metrics that need a price history are ``None`` without one, and the reason is listed in ``data_gaps``:
nothing is ever estimated from nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from quorum.agents.builtin.context import find_artifact, input_of, meeting_time
from quorum.agents.builtin.holdings import current_position, provenance
from quorum.agents.builtin.indicators import (
    ema,
    log_returns,
    macd,
    rate_of_change,
    rsi,
    simple_returns,
    trend,
)
from quorum.agents.builtin.policy import DEFAULT_POLICY, CommitteePolicy, policy_from
from quorum.agents.builtin.prices import PricePoint, closes, parse_price_history
from quorum.agents.builtin.risk import is_crypto, max_drawdown, parse_horizon, vol_target_fraction
from quorum.agents.builtin.risk_methods import atr, gap_loss, horizon_tail, volatility
from quorum.agents.protocol import AgentRequest
from quorum.definition.model import thaw
from quorum.errors import InputValidationError
from quorum.market import infer_frequency, quality_flags

__all__ = ("MIN_RISK_OBSERVATIONS", "build_snapshot", "parse_amount", "price_history_for", "snapshot_for")

MIN_RISK_OBSERVATIONS = DEFAULT_POLICY.min_risk_observations
"""Closes needed before volatility, VaR and drawdown are reported (the policy's default)."""


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


def build_snapshot(inputs: Mapping[str, Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Compute the snapshot from the task input (ticker, amount, timeHorizon, riskTolerance, prices...).

    ``now`` is the meeting's time (the execution's start): the data's age is measured against it; without
    it the data is not checked for staleness (a snapshot computed outside a meeting).
    """
    ticker = str(inputs.get("ticker") or "").strip().upper()
    if not ticker:
        raise InputValidationError(["ticker: expected a symbol such as BTC or AAPL, got nothing"])
    amount = parse_amount(inputs)
    policy, overridden = policy_from(inputs.get("policy"))
    limits = policy.limits_for(inputs.get("riskTolerance", "medium"))
    history = price_history_for(inputs, ticker)
    freq = infer_frequency(history)
    periods = freq.periods_per_year or 252.0
    horizon = parse_horizon(inputs.get("timeHorizon", "30 days"), ticker)
    bars = max(1, round(horizon.calendar_days * periods / 365))
    horizon_view = {**asdict(horizon), "trading_days": bars, "bars": bars, "bar": freq.kind}
    flags = _flags(history, policy, horizon.calendar_days, now)
    gaps: list[str] = []
    quality: list[str] = [f["message"] for f in flags]
    if history and freq.periods_per_year is None:
        quality.append(f"{freq.basis}: 252 periods a year assumed")
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
            "frequency": freq.kind,
            "frequency_basis": freq.basis,
        }
        clean, dropped = _without_reverting_spikes(history, flags)
        if dropped:
            quality.append(
                f"excluded from every measure as a bad tick (a spike that reverts): {', '.join(dropped)}"
            )
        metrics, sources = _metrics(clean, policy=policy, periods=periods, horizon_bars=bars, amount=amount)
        if len(history) < policy.min_risk_observations:
            gaps.append(
                f"only {len(history)} closes: volatility, drawdown, VaR and CVaR need at least "
                f"{policy.min_risk_observations} (policy.min_risk_observations)"
            )
        elif len(history) < policy.full_confidence_observations:
            quality.append(
                f"{len(history)} closes, fewer than the {policy.full_confidence_observations} of "
                "policy.full_confidence_observations: conviction and size are scaled down by "
                f"{len(history) / policy.full_confidence_observations:.2f}"
            )
        metrics["vol_target_fraction"] = vol_target_fraction(
            metrics["annual_volatility"], limits.target_volatility
        )
    for key, what in (("fundamentals", "fundamentals"), ("news", "news"), ("macro", "macro data")):
        if not inputs.get(key):
            gaps.append(f"no {what} supplied (input.{key})")
    held, held_from = current_position(inputs, ticker, metrics["last_close"])
    source = provenance(inputs, ticker)
    if source:
        notes = source.get("quality") or source.get("notes") or ()
        quality += [str(n) for n in (notes if isinstance(notes, list | tuple) else [notes])]
    return {
        "kind": "market-snapshot",
        "ticker": ticker,
        "asset_class": _asset_class(source, freq.asset_class_hint, ticker=ticker),
        "periods_per_year": periods,
        "amount": amount,
        "portfolio_value": _optional_positive(inputs, "portfolioValue"),
        "position": {"value": held, "source": held_from},
        "risk_tolerance": limits.tolerance,
        "horizon": horizon_view,
        "limits": asdict(limits),
        "policy": policy.to_dict(),
        "policy_overrides": overridden,
        "prices": prices,
        "provenance": source,
        "data_quality": quality,
        "quality_flags": flags,
        "metrics": metrics,
        "data_gaps": gaps,
        "sources": sources,
    }


def _asset_class(source: Mapping[str, Any] | None, hint: str | None, *, ticker: str) -> str:
    """The provider's asset class; else the calendar's (weekend bars: a 24/7 market, crypto; weekdays
    only: exchange-traded); the ticker's name only when no dated history tells (the suitability check)."""
    if source and isinstance(source.get("asset_class"), str):
        return str(source["asset_class"])
    if hint == "crypto":
        return "crypto"
    if hint is not None:
        return "equity"
    return "crypto" if is_crypto(ticker) else "equity"


def _without_reverting_spikes(
    history: tuple[PricePoint, ...], flags: list[dict[str, Any]]
) -> tuple[tuple[PricePoint, ...], list[str]]:
    """The history less each flagged outlier bar that the next bar undoes (a bad print): its move from the
    bar before is at least four times the move from the bar before to the bar after. A flagged bar that
    the market does not undo (a real crash) stays in."""
    flagged = {f["date"] for f in flags if f["kind"] == "outlier" and f["date"]}
    dropped: list[str] = []
    kept: list[PricePoint] = []
    for i, point in enumerate(history):
        if point.date in flagged and 0 < i < len(history) - 1:
            before, after = history[i - 1].close, history[i + 1].close
            if abs(math.log(point.close / before)) >= 4 * abs(math.log(after / before)):
                dropped.append(point.date)
                continue
        kept.append(point)
    return tuple(kept), dropped


def _flags(
    history: tuple[PricePoint, ...], policy: CommitteePolicy, horizon_days: int, now: dt.datetime | None
) -> list[dict[str, Any]]:
    if not history:
        return []
    found = quality_flags(
        history,
        windows=(policy.sma_short_window, policy.sma_long_window),
        horizon_days=horizon_days,
        now=now,
        stale_share=policy.stale_share,
        flat_share=policy.flat_share,
        outlier_z=policy.outlier_z,
    )
    return [
        {"kind": f.kind, "message": f.message, "date": f.date}
        for f in found
        if now is not None or f.kind != "stale"  # without the meeting's time the age is not known
    ]


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
    "volatility",
    "annualised_return",
    "mean_log_return",
    "return_to_risk",
    "max_drawdown",
    "var95",
    "cvar95",
    "atr",
    "worst_bar_fall",
    "average_daily_value",
    "vol_target_fraction",
    "mean_daily_return",
)


def _metrics(
    history: tuple[PricePoint, ...],
    *,
    policy: CommitteePolicy,
    periods: float,
    horizon_bars: int,
    amount: float,
) -> tuple[dict[str, Any], dict[str, str]]:
    cs = closes(history)
    span = f"{len(cs)} closes of input.prices ({history[0].date} .. {history[-1].date})"
    m: dict[str, Any] = dict.fromkeys(_METRIC_KEYS)
    src: dict[str, str] = {}
    m["last_close"] = cs[-1]
    m["total_return"] = cs[-1] / cs[0] - 1.0
    src["total_return"] = f"last / first close - 1 over {span}"
    t = trend(cs, short_window=policy.sma_short_window, long_window=policy.sma_long_window)
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
    volumes = [p.volume * p.close for p in history[-policy.adv_window :] if p.volume is not None]
    if len(volumes) == min(policy.adv_window, len(history)) and volumes:
        m["average_daily_value"] = math.fsum(volumes) / len(volumes)
        src["average_daily_value"] = f"mean of volume x close over the last {len(volumes)} bars"
    if len(cs) < policy.min_risk_observations:
        return m, src
    logs = log_returns(cs)
    vol = volatility(logs, periods_per_year=periods, lam=policy.ewma_lambda)
    assert vol is not None  # min_risk_observations >= 1 closes give returns
    m["volatility"] = {
        "full_sample": vol.annual(vol.full_sample),
        "recent": vol.annual(vol.recent),
        "sizing": vol.annual(vol.sizing),
        "basis": vol.basis,
        "ewma_lambda": vol.ewma_lambda,
        "periods_per_year": periods,
    }
    m["annual_volatility"] = vol.annual(vol.sizing)
    m["daily_volatility"] = vol.sizing
    m["mean_log_return"] = math.fsum(logs) / len(logs)
    m["annualised_return"] = m["mean_log_return"] * periods
    if m["annual_volatility"]:
        m["return_to_risk"] = m["annualised_return"] / m["annual_volatility"]
    src["annual_volatility"] = (
        f"the larger of the full-sample stdev ({vol.annual(vol.full_sample):.2%}) and the EWMA "
        f"(lambda {vol.ewma_lambda:g}, {vol.annual(vol.recent):.2%}) of the log returns, x sqrt({periods:g} "
        f"bars a year), over {span}: {vol.basis}"
    )
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
    one_bar = horizon_tail(
        cs,
        horizon_bars=1,
        level=policy.var_level,
        sizing_vol=vol.sizing,
        min_horizons=policy.empirical_min_horizons,
        drift_weight=policy.drift_shrinkage,
    )
    tail = horizon_tail(
        cs,
        horizon_bars=horizon_bars,
        level=policy.var_level,
        sizing_vol=vol.sizing,
        min_horizons=policy.empirical_min_horizons,
        drift_weight=policy.drift_shrinkage,
    )
    if tail is not None and one_bar is not None:
        for key, frac, day in (("var95", tail.var, one_bar.var), ("cvar95", tail.cvar, one_bar.cvar)):
            m[key] = {
                "one_day": day,
                "horizon": frac,
                "horizon_days": horizon_bars,
                "amount": frac * amount,
                "method": tail.method,
                "level": tail.level,
                "windows": tail.windows,
                "tail_count": tail.tail_count,
                "observations": len(cs) - 1,
            }
        src["var95"] = f"{tail.describe()}, over {span}; one bar: {one_bar.describe()}"
        src["cvar95"] = src["var95"]
    range_ = atr(cs, policy.atr_window)
    if range_ is not None:
        m["atr"] = {"value": range_, "window": policy.atr_window, "fraction": range_ / cs[-1]}
        src["atr"] = f"Wilder ATR({policy.atr_window}) of close-to-close ranges over {span}"
    _, worst = gap_loss(0.0, cs)
    m["worst_bar_fall"] = worst
    m["mean_daily_return"] = math.fsum(simple_returns(cs)) / (len(cs) - 1)
    return m, src


def snapshot_for(request: AgentRequest) -> dict[str, Any]:
    """The steward's snapshot from the context; computed from the inputs when there is none."""
    found = find_artifact(request, "market-snapshot")
    if found is not None:
        return {k: thaw(v) for k, v in found.items()}
    snap = build_snapshot(input_of(request), now=meeting_time(request))
    snap["computed_by"] = str(request.agent_id)
    return snap
