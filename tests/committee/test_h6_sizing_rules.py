"""The caps on a NAV, a holding and volume, the costs, and the rating -> trade mapping, by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest

from quorum.agents.builtin.memo import rating_for
from quorum.agents.builtin.policy import DEFAULT_POLICY
from quorum.agents.builtin.sizing import risk_caps
from quorum.agents.builtin.verdict import _trade

pytestmark = pytest.mark.unit

POLICY = DEFAULT_POLICY.to_dict()


def snap(
    *,
    portfolio: float | None = None,
    held: float = 0.0,
    adv: float | None = None,
    n: int = 200,
    atr_fraction: float = 0.02,
) -> dict[str, Any]:
    return {
        "amount": 10_000.0,
        "portfolio_value": portfolio,
        "position": {"value": held, "source": "input.position"},
        "limits": POLICY["limits"]["medium"],
        "policy": POLICY,
        "periods_per_year": 365,
        "prices": {"observations": n},
        "horizon": {"trading_days": 30, "calendar_days": 30, "bars": 30},
        "metrics": {
            "annual_volatility": 0.2,
            "daily_volatility": 0.2 / math.sqrt(365),
            "var95": {"horizon": 0.1, "method": "empirical"},
            "cvar95": {"horizon": 0.15, "method": "empirical"},
            "vol_target_fraction": 1.0,
            "last_close": 100.0,
            "atr": {"value": 2.0, "window": 14, "fraction": atr_fraction},
            "worst_bar_fall": 0.1,
            "average_daily_value": adv,
            "volatility": None,
        },
    }


def rules(caps: dict[str, Any]) -> list[tuple[str, float]]:
    return [(c["rule"], c["after"]) for c in caps["clamps"]]


def test_the_stop_is_three_atrs_and_the_loss_at_the_stop_follows() -> None:
    caps = risk_caps(snap(), 10_000.0)
    assert caps["stop_loss"]["fraction"] == pytest.approx(0.06)  # 3 x 2% ATR
    assert caps["stop_loss"]["price"] == pytest.approx(94.0)
    assert caps["loss_at_stop"]["amount"] == pytest.approx(600.0)
    assert caps["gap_risk"]["fraction"] == pytest.approx(1 - 0.94 * 0.9)
    assert "max_loss" not in caps


def test_concentration_counts_the_holding_and_risk_per_trade_the_nav() -> None:
    # NAV 50,000: 10% = 5,000 less 2,000 held = 3,000; risk per trade 1% x 50,000 / 6% = 8,333 (not binding)
    assert rules(risk_caps(snap(portfolio=50_000.0, held=2_000.0), 10_000.0)) == [("concentration", 3_000.0)]
    # NAV 40,000 and a 20% stop (3 x a 6.67% ATR): concentration 10% x 40,000 = 4,000 binds first, then
    # risk per trade 1% x 40,000 / 20% = 2,000
    caps = risk_caps(snap(portfolio=40_000.0, atr_fraction=0.2 / 3), 10_000.0)
    assert rules(caps) == [("concentration", 4_000.0), ("risk per trade", 2_000.0)]


def test_liquidity_caps_at_a_share_of_the_daily_traded_value_and_costs_include_impact() -> None:
    caps = risk_caps(snap(adv=100_000.0), 10_000.0)
    assert rules(caps) == [("liquidity", 5_000.0)]  # 5% of 100,000
    impact = 1.0 * (0.2 / math.sqrt(365)) * math.sqrt(5_000 / 100_000)
    assert caps["costs"]["fraction"] == pytest.approx(10 / 10_000 + impact)
    assert caps["costs"]["amount"] == pytest.approx(round((10 / 10_000 + impact) * 5_000, 2))
    without_volume = risk_caps(snap(), 10_000.0)
    assert without_volume["costs"]["fraction"] == pytest.approx(0.001)
    assert "not estimated" in without_volume["costs"]["basis"]


def test_a_short_history_sizes_down_by_its_share_of_the_closes_wanted() -> None:
    assert rules(risk_caps(snap(n=60), 10_000.0)) == [("data sufficiency", 5_000.0)]  # 60 / 120


@pytest.mark.parametrize(
    ("score", "approved", "rating"),
    [
        (0.6, True, "Buy"),
        (0.3, True, "Overweight"),
        (0.6, False, "Hold"),
        (0.0, True, "Hold"),
        (-0.3, False, "Underweight"),
        (-0.7, False, "Sell"),
    ],
)
def test_ratings_on_the_return_score(score: float, approved: bool, rating: str) -> None:
    assert rating_for(score, POLICY, approved=approved) == rating


def test_ratings_map_to_trades_and_a_holding_can_be_reduced_or_sold() -> None:
    assert _trade("Buy", 3_000.0, 0.0, POLICY)["side"] == "buy"
    assert _trade("Underweight", 0.0, 8_000.0, POLICY) == {
        "side": "sell",
        "amount": 4_000.0,
        "basis": _trade("Underweight", 0.0, 8_000.0, POLICY)["basis"],
    }
    assert _trade("Sell", 0.0, 8_000.0, POLICY)["amount"] == 8_000.0
    assert _trade("Sell", 0.0, 0.0, POLICY)["side"] == "none"  # nothing held, nothing to sell
    assert _trade("Hold", 0.0, 8_000.0, POLICY)["side"] == "none"


def test_compliance_counts_the_holding_in_the_concentration_check() -> None:
    from quorum.agents.builtin.governance import compliance_review

    base = {**snap(portfolio=100_000.0), "ticker": "XYZ", "asset_class": "equity", "prices": None}
    # 10,000 of 100,000 is within 10% alone, and over it with the 5,000 already held
    alone = compliance_review(base, {}, agent="compliance-officer")["conditions"]
    assert all("position limited" not in c for c in alone)
    held = {**base, "position": {"value": 5_000.0, "source": "input.position"}}
    conditions = compliance_review(held, {}, agent="compliance-officer")["conditions"]
    assert any("position limited to 10%" in c for c in conditions)
