"""The risk officer's caps: each clamp logged before/after, the caps never exceeded; tranches exact."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorum.agents.builtin.risk import limits_for
from quorum.agents.builtin.sizing import risk_caps, tranche_schedule

pytestmark = pytest.mark.unit


def snapshot(
    *,
    amount: float = 10_000.0,
    tolerance: str = "medium",
    vol: float | None = 0.8,
    var_h: float = 0.25,
    cvar_h: float = 0.3,
    portfolio: float | None = None,
) -> dict[str, Any]:
    limits = limits_for(tolerance)
    measured = vol is not None
    return {
        "amount": amount,
        "portfolio_value": portfolio,
        "limits": {f: getattr(limits, f) for f in limits.__dataclass_fields__},
        "horizon": {"trading_days": 30, "calendar_days": 30},
        "metrics": {
            "annual_volatility": vol,
            "var95": {"horizon": var_h} if measured else None,
            "cvar95": {"horizon": cvar_h} if measured else None,
            "vol_target_fraction": min(1.0, limits.target_volatility / vol) if vol else None,
            "last_close": 100.0 if measured else None,
            # an ATR of a third of the horizon VaR: the 3-ATR stop lands where these cases want it
            "atr": {"fraction": var_h / 3, "window": 14, "value": var_h / 3 * 100} if measured else None,
        },
    }


def test_volatility_target_clamps_and_is_logged_before_and_after() -> None:
    # target 40% / realised 80% -> half the amount; stop = 3 ATR (25%) bounded to the 20% widest stop;
    # loss budget 10% * 10,000 / 20% = 5,000: equal to the cap already, so no second clamp.
    caps = risk_caps(snapshot(), 10_000.0)
    assert caps["approved_cap"] == 5_000.0
    assert [(c["rule"], c["before"], c["after"]) for c in caps["clamps"]] == [
        ("volatility target", 10_000.0, 5_000.0)
    ]
    assert caps["stop_loss"]["fraction"] == pytest.approx(0.20)
    assert caps["stop_loss"]["price"] == pytest.approx(80.0)
    assert caps["loss_at_stop"]["amount"] == pytest.approx(1_000.0)
    assert caps["var95"]["amount"] == pytest.approx(1_250.0)
    assert all(c["agent"] == "risk-officer" for c in caps["checks"])


def test_loss_budget_clamps_with_a_narrow_stop_budget() -> None:
    # low tolerance: widest stop 10%, loss budget 5% -> 10,000 * 5% / 10% = 5,000; vol target 20%/20% = all
    caps = risk_caps(snapshot(tolerance="low", vol=0.2, var_h=0.15), 10_000.0)
    assert [(c["rule"], c["after"]) for c in caps["clamps"]] == [("loss budget", 5_000.0)]


def test_without_prices_the_unmeasured_cap_and_the_policy_stop_apply() -> None:
    caps = risk_caps(snapshot(vol=None), 10_000.0)
    assert caps["measured"] is False
    assert caps["approved_cap"] == 2_500.0  # 25% of the amount for a medium tolerance
    assert caps["stop_loss"] == {"fraction": 0.08, "price": None, "basis": caps["stop_loss"]["basis"]}
    assert caps["var95"] is None


def test_single_order_and_concentration_limits() -> None:
    caps = risk_caps(snapshot(amount=400_000.0, vol=0.1, var_h=0.05), 400_000.0)
    assert caps["clamps"][0]["rule"] == "single-order limit"
    assert caps["clamps"][0]["after"] == 100_000.0
    caps = risk_caps(snapshot(vol=0.1, var_h=0.05, portfolio=20_000.0), 10_000.0)
    assert [(c["rule"], c["after"]) for c in caps["clamps"]] == [("concentration", 2_000.0)]


def test_a_request_above_the_amount_is_clamped_to_it() -> None:
    caps = risk_caps(snapshot(vol=0.1, var_h=0.05), 12_000.0)
    assert caps["clamps"][0]["rule"] == "requested amount"
    assert caps["approved_cap"] == 10_000.0


@given(
    amount=st.floats(1, 1e7),
    proposed_share=st.floats(0, 1.5),
    vol=st.none() | st.floats(0.01, 3.0),
    var_h=st.floats(0.0, 1.0),
    tolerance=st.sampled_from(["low", "medium", "high"]),
    portfolio=st.none() | st.floats(1, 1e8),
)
def test_caps_invariants(
    amount: float,
    proposed_share: float,
    vol: float | None,
    var_h: float,
    tolerance: str,
    portfolio: float | None,
) -> None:
    snap = snapshot(
        amount=amount, tolerance=tolerance, vol=vol, var_h=var_h, cvar_h=var_h, portfolio=portfolio
    )
    caps = risk_caps(snap, amount * proposed_share)
    cap = caps["approved_cap"]
    limits = snap["limits"]
    assert 0.0 <= cap <= amount + 1e-9
    assert cap <= caps["proposed_amount"]
    assert cap <= limits["single_order_limit"]
    if portfolio:
        assert cap <= limits["max_position_fraction"] * portfolio + 0.01
    # the stop never exceeds the widest allowed, and the loss at the stop stays within the budget
    assert caps["stop_loss"]["fraction"] <= limits["max_stop_fraction"]
    if vol is not None:
        assert cap * caps["stop_loss"]["fraction"] <= limits["max_loss_fraction"] * amount + 0.01
    # each clamp starts where the previous one ended
    chain = [caps["proposed_amount"]]
    for c in caps["clamps"]:
        assert c["before"] == chain[-1]
        assert c["after"] < c["before"]
        chain.append(c["after"])
    assert chain[-1] == cap


def test_tranches_sum_exactly_and_are_spaced_over_a_third_of_the_horizon() -> None:
    plan = tranche_schedule(1_000.0, 3, 30)
    assert [t["amount"] for t in plan] == [333.33, 333.33, 333.34]
    assert [t["day"] for t in plan] == [0, 3, 6]
    assert tranche_schedule(0.0, 3, 30) == []
    assert [t["day"] for t in tranche_schedule(100.0, 4, 2)] == [0, 1, 2, 3]


@given(total=st.floats(0.01, 1e9), count=st.integers(1, 6), days=st.integers(1, 3650))
def test_tranches_always_sum_to_the_total(total: float, count: int, days: int) -> None:
    plan = tranche_schedule(total, count, days)
    in_cents = math.floor(total * 100 + 1e-6) / 100  # amounts are rounded down to cents
    assert sum(t["amount"] for t in plan) == pytest.approx(in_cents, abs=1e-6)
    assert all(t["amount"] > 0 for t in plan)
