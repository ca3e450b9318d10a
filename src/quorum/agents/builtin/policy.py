"""The committee's policy: every constant that shapes a decision, in one documented object.

Nothing that moves a decision (a threshold, a window, a volatility band, a cap) is written in the
specialists' code: they read it from the :class:`CommitteePolicy` the data steward freezes into the
snapshot (``snapshot["policy"]``), and the verdict cites it in its ``sources``.

A task overrides it with a ``policy`` input (or ``--input policy=...``): a mapping of field names to
values, and ``limits: {<tolerance>: {<field>: value}}`` for the per-tolerance caps::

    policy: {ewma_lambda: 0.97, hurdle_rate: 0.05, limits: {medium: {target_volatility: 0.5}}}

An unknown field, a value of the wrong type or out of its range is refused with a message that names the
field, what it got and what it accepts (:func:`policy_from`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from quorum.errors import InputValidationError

__all__ = ("DEFAULT_POLICY", "CommitteePolicy", "RiskLimits", "policy_from")


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    """The hard caps of one risk tolerance (applied in code by the risk officer)."""

    tolerance: str
    max_loss_fraction: float
    """Largest loss at the stop the committee accepts, as a fraction of the requested amount."""
    target_volatility: float
    """Annualised volatility at which the full amount may be invested; above it the size shrinks."""
    veto_volatility_multiple: float
    """The risk officer vetoes when the sizing volatility exceeds this multiple of the target."""
    max_stop_fraction: float
    """The widest stop loss allowed, as a fraction of the entry price."""
    default_stop_fraction: float
    """The stop loss used when no price history measures the risk."""
    unmeasured_fraction: float
    """Most of the amount that may be approved while risk cannot be measured (no price history)."""
    max_position_fraction: float
    """Largest share of the portfolio (NAV) in one position, the current holding included."""
    risk_per_trade: float
    """Largest loss at the stop as a share of the portfolio (NAV), when ``portfolioValue`` is given."""
    single_order_limit: float
    """Largest amount approved in one decision, in the amount's currency."""
    tranches: int
    """How many tranches the entry is split into."""


_LIMITS: dict[str, RiskLimits] = {
    "low": RiskLimits(
        tolerance="low", max_loss_fraction=0.05, target_volatility=0.20, veto_volatility_multiple=2.0,
        max_stop_fraction=0.10, default_stop_fraction=0.05, unmeasured_fraction=0.10,
        max_position_fraction=0.05, risk_per_trade=0.005, single_order_limit=25_000.0, tranches=4,
    ),
    "medium": RiskLimits(
        tolerance="medium", max_loss_fraction=0.10, target_volatility=0.40, veto_volatility_multiple=2.0,
        max_stop_fraction=0.20, default_stop_fraction=0.08, unmeasured_fraction=0.25,
        max_position_fraction=0.10, risk_per_trade=0.01, single_order_limit=100_000.0, tranches=3,
    ),
    "high": RiskLimits(
        tolerance="high", max_loss_fraction=0.20, target_volatility=0.80, veto_volatility_multiple=2.0,
        max_stop_fraction=0.30, default_stop_fraction=0.12, unmeasured_fraction=0.50,
        max_position_fraction=0.20, risk_per_trade=0.02, single_order_limit=500_000.0, tranches=2,
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitteePolicy:
    """Every decision-shaping constant, with its default and why (docs/committee.md explains each)."""

    # -- data sufficiency
    min_risk_observations: int = 20
    """Closes needed before volatility, VaR and drawdown are reported at all."""
    sma_short_window: int = 20
    sma_long_window: int = 50
    """The trend's moving averages; a history shorter than the long window has no trend (windows are
    never shortened to fit)."""
    stale_share: float = 0.1
    """The last bar may be this share of the horizon old (and a frequency's grace) before the data is
    stale; stale data is never approved on."""
    flat_share: float = 0.5
    """More than this share of zero returns is a flat series (a feed repeating its last price)."""
    outlier_z: float = 8.0
    """Robust z-score of a return beyond which its bar is named an outlier (a condition to verify)."""
    full_confidence_observations: int = 120
    """Closes at which data sufficiency is 1; below it conviction and the size scale by n / this."""
    # -- volatility
    ewma_lambda: float = 0.94
    """Decay of the recent (EWMA) volatility: RiskMetrics' daily 0.94 (half-life about 11 bars)."""
    # -- tail risk
    var_level: float = 0.95
    """Confidence level of VaR and CVaR."""
    empirical_min_horizons: int = 8
    """Independent horizons (observations / horizon bars) needed for empirical horizon VaR; else
    parametric (log-normal with drift)."""
    # -- stop loss
    atr_window: int = 14
    """Wilder ATR window of the stop loss."""
    stop_atr_multiple: float = 3.0
    """Stop distance in ATRs below the entry (a chandelier-style stop)."""
    min_stop_fraction: float = 0.02
    """The tightest stop allowed (closer stops are hit by noise)."""
    # -- evidence and direction
    stance_threshold: float = 0.2
    """|net evidence score| above which an analyst takes a side."""
    rsi_overbought: float = 70.0
    rsi_oversold: float = 30.0
    min_expected_return_score: float = 0.2
    """Net score of the return analysts' evidence (technical, fundamental, sentiment, macro) that APPROVE
    needs: risk analysis alone never makes a case to buy."""
    request_base_fraction: float = 0.5
    """The execution strategist requests amount x min(1, this + net conviction) when the analysts lean
    bullish (conviction requests; the risk officer's caps dispose)."""
    # -- ratings (on the return analysts' net score)
    buy_score: float = 0.5
    overweight_score: float = 0.2
    underweight_score: float = -0.2
    sell_score: float = -0.5
    underweight_reduce_fraction: float = 0.5
    """Share of a current holding an Underweight rating sells."""
    # -- expected return and scenarios
    drift_shrinkage: float = 0.5
    """Share of the sample's mean log return carried into the expected return (the rest is noise)."""
    scenario_tilt: float = 0.15
    """How far the evidence score moves the bull/bear probabilities from 25% each."""
    hurdle_rate: float = 0.04
    """Annual return the position must beat (cash or the benchmark), pro rata over the horizon."""
    benchmark: str = "cash at the hurdle rate"
    # -- liquidity and costs
    adv_window: int = 20
    """Bars of the average daily volume."""
    max_adv_fraction: float = 0.05
    """Largest order as a share of the average daily traded value."""
    cost_bps: float = 10.0
    """Commission and half-spread, in basis points of the order."""
    impact_coefficient: float = 1.0
    """Square-root market impact: cost = k x daily volatility x sqrt(order / ADV)."""
    limits: Mapping[str, RiskLimits] = field(default_factory=lambda: dict(_LIMITS))

    def limits_for(self, tolerance: object) -> RiskLimits:
        key = str(tolerance).strip().lower()
        try:
            return self.limits[key]
        except KeyError:
            raise InputValidationError(
                [f"riskTolerance: expected one of {', '.join(self.limits)}, got {tolerance!r}"]
            ) from None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["limits"] = {k: asdict(v) for k, v in self.limits.items()}
        return data


DEFAULT_POLICY = CommitteePolicy()

# Fractions that must lie in [0, 1]; everything else numeric must be positive (or, for scores, in [-1, 1]).
_UNIT = frozenset(
    {
        "ewma_lambda", "var_level", "min_stop_fraction", "stale_share", "flat_share", "stance_threshold",
        "min_expected_return_score", "underweight_reduce_fraction", "request_base_fraction",
        "drift_shrinkage", "scenario_tilt", "max_adv_fraction",
        "max_loss_fraction", "max_stop_fraction", "default_stop_fraction", "unmeasured_fraction",
        "max_position_fraction", "risk_per_trade",
    }
)  # fmt: skip
_SCORES = frozenset({"buy_score", "overweight_score", "underweight_score", "sell_score"})


def _coerce(where: str, name: str, current: Any, value: Any, problems: list[str]) -> Any:
    if isinstance(current, str):
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: expected text, got {value!r}")
        return value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(current, int) and not isinstance(current, bool):
        if not is_number or value != int(value) or value < 1:
            problems.append(f"{where}: expected a whole number of at least 1, got {value!r}")
            return current
        return int(value)
    if not is_number or not math.isfinite(value):
        problems.append(f"{where}: expected a number, got {value!r}")
        return current
    open_top = name in ("ewma_lambda", "var_level")  # 1.0 would mean no decay, or no tail at all
    if name in _UNIT and not (0.0 < value < 1.0 if open_top else 0.0 < value <= 1.0):
        problems.append(f"{where}: expected a fraction between 0 and 1 (0.05 = 5%), got {value!r}")
    elif name in _SCORES and not -1.0 <= value <= 1.0:
        problems.append(f"{where}: expected a score between -1 and 1, got {value!r}")
    elif name not in _UNIT and name not in _SCORES and value <= 0:
        problems.append(f"{where}: expected a positive number, got {value!r}")
    return float(value)


def _override(obj: Any, values: Mapping[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    known = {f.name: f for f in fields(obj) if f.name not in ("limits", "tolerance")}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key)
        if name not in known:
            problems.append(f"{where}.{name}: unknown policy field; known: {', '.join(sorted(known))}")
            continue
        changes[name] = _coerce(f"{where}.{name}", name, getattr(obj, name), value, problems)
    return changes


def policy_from(raw: object, *, base: CommitteePolicy = DEFAULT_POLICY) -> tuple[CommitteePolicy, list[str]]:
    """``base`` with the overrides of ``raw`` (``input.policy``) and the list of fields overridden."""
    if raw is None:
        return base, []
    if not isinstance(raw, Mapping):
        raise InputValidationError(
            [f"policy: expected a mapping of policy fields (e.g. {{ewma_lambda: 0.97}}), got {raw!r}"]
        )
    problems: list[str] = []
    top = {k: v for k, v in raw.items() if k != "limits"}
    changes = _override(base, top, "policy", problems)
    overridden = [f"policy.{k}" for k in changes]
    limits = dict(base.limits)
    raw_limits = raw.get("limits")
    if raw_limits is not None and not isinstance(raw_limits, Mapping):
        problems.append(f"policy.limits: expected {{low|medium|high: {{field: value}}}}, got {raw_limits!r}")
    elif isinstance(raw_limits, Mapping):
        for tol, values in raw_limits.items():
            where = f"policy.limits.{tol}"
            if str(tol) not in limits:
                problems.append(f"{where}: unknown risk tolerance; known: {', '.join(limits)}")
            elif not isinstance(values, Mapping):
                problems.append(f"{where}: expected a mapping of limit fields, got {values!r}")
            else:
                tol_changes = _override(limits[str(tol)], values, where, problems)
                limits[str(tol)] = replace(limits[str(tol)], **tol_changes)
                overridden += [f"{where}.{k}" for k in tol_changes]
    if not problems:
        scores = {k: changes.get(k, getattr(base, k)) for k in ("sell_score", "underweight_score")}
        scores |= {k: changes.get(k, getattr(base, k)) for k in ("overweight_score", "buy_score")}
        if (
            not scores["sell_score"]
            <= scores["underweight_score"]
            < scores["overweight_score"]
            <= scores["buy_score"]
        ):
            problems.append(
                "policy: the rating scores must satisfy sell_score <= underweight_score < overweight_score "
                f"<= buy_score, got {scores}"
            )
    if problems:
        raise InputValidationError(problems)
    return replace(base, **changes, limits=limits), overridden
