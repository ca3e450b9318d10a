"""The data steward's snapshot: the numbers every agent reads, checked on a series known by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest

from quorum.agents.builtin import get_specialist
from quorum.agents.builtin.snapshot import build_snapshot, snapshot_for
from quorum.errors import InputValidationError

from .harness import request, run_phase

pytestmark = pytest.mark.unit

# 41 closes alternating 100, 110: 40 log returns +-ln(1.1) (mean 0), 20 simple returns of +10% and 20 of
# -1/11; the largest fall is from 110 to 100, 1/11.
ZIGZAG = [
    {
        "date": f"2024-01-{i + 1:02d}" if i < 31 else f"2024-02-{i - 30:02d}",
        "close": 100.0 if i % 2 == 0 else 110.0,
    }
    for i in range(41)
]
INPUTS = {
    "ticker": "AAPL",
    "amount": 10_000,
    "timeHorizon": "30 days",
    "riskTolerance": "medium",
    "prices": ZIGZAG,
}


def test_snapshot_numbers_by_hand() -> None:
    snap = build_snapshot(INPUTS)
    m = snap["metrics"]
    assert (snap["asset_class"], snap["periods_per_year"], snap["horizon"]["trading_days"]) == (
        "equity",
        252,
        21,
    )
    assert m["annual_volatility"] == pytest.approx(math.log(1.1) * math.sqrt(40 / 39) * math.sqrt(252))
    assert m["max_drawdown"]["fraction"] == pytest.approx(1 / 11)
    assert (m["max_drawdown"]["peak_date"], m["max_drawdown"]["trough_date"]) == ("2024-01-02", "2024-01-03")
    # 40 returns -> a tail of ceil(2) = 2, both -1/11; scaled by sqrt(21) trading days
    var = m["var95"]
    assert (var["one_day"], var["tail_count"]) == (pytest.approx(1 / 11), 2)
    assert var["horizon"] == pytest.approx(math.sqrt(21) / 11)
    assert var["amount"] == pytest.approx(10_000 * math.sqrt(21) / 11)
    assert m["cvar95"]["one_day"] == pytest.approx(1 / 11)
    assert m["total_return"] == pytest.approx(0.0)
    assert m["vol_target_fraction"] == pytest.approx(min(1.0, 0.40 / m["annual_volatility"]))
    assert "sqrt(252)" in snap["sources"]["annual_volatility"]
    assert snap["prices"]["observations"] == 41


def test_without_prices_every_market_metric_is_none_and_the_gap_is_named() -> None:
    snap = build_snapshot({**INPUTS, "prices": None})
    assert snap["prices"] is None
    assert all(v is None for v in snap["metrics"].values())
    assert snap["data_gaps"][0].startswith("no price history")


def test_short_histories_do_not_report_risk() -> None:
    snap = build_snapshot({**INPUTS, "prices": ZIGZAG[:10]})
    assert snap["metrics"]["annual_volatility"] is None
    assert snap["metrics"]["var95"] is None
    assert snap["metrics"]["trend"] is not None
    assert any("only 10 closes" in g for g in snap["data_gaps"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": -5}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"ticker": ""}, "ticker"),
        ({"riskTolerance": "yolo"}, "riskTolerance"),
        ({"timeHorizon": "eventually"}, "timeHorizon"),
    ],
)
def test_bad_inputs_raise_input_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputValidationError, match=message):
        build_snapshot({**INPUTS, **change})


def test_later_agents_read_the_stewards_snapshot_not_their_own() -> None:
    phases: dict[str, Any] = {}
    run_phase(phases, "Activation", ["data-steward"], INPUTS, outputs=["snapshot"])
    from_context = snapshot_for(request("risk-officer", inputs=INPUTS, phases=phases))
    assert from_context["produced_by"] == "data-steward"
    assert "computed_by" not in from_context
    alone = snapshot_for(request("risk-officer", inputs=INPUTS))
    assert alone["computed_by"] == "risk-officer"
    assert alone["metrics"] == from_context["metrics"]  # the same numbers either way, by construction


def test_the_steward_publishes_one_snapshot_and_does_not_vote() -> None:
    answer = get_specialist("data-steward")(request("data-steward", inputs=INPUTS, outputs=("snapshot",)))
    assert answer["snapshot"]["kind"] == "market-snapshot"
    assert answer["voting"] is False
    assert answer["stance"] == "neutral"


def test_intake_reports_every_problem_without_raising() -> None:
    bad = {
        "ticker": "",
        "amount": -1,
        "timeHorizon": "whenever",
        "riskTolerance": "yolo",
        "prices": [{"date": "x", "close": "y"}],
    }
    answer = get_specialist("intake-validator")(request("intake-validator", inputs=bad))
    failed = [c["check"] for c in answer["checks"] if not c["passed"]]
    assert failed == ["ticker", "amount", "riskTolerance", "timeHorizon", "prices"]
    assert answer["valid"] is False
    good = get_specialist("intake-validator")(request("intake-validator", inputs=INPUTS))
    assert good["valid"] is True
    assert good["request"]["horizon_days"] == 30
    assert good["request"]["price_observations"] == 41
