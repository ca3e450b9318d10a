"""The data steward's snapshot: the numbers every agent reads, checked on a series known by hand."""

from __future__ import annotations

import math
import statistics
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
    # consecutive calendar days, weekends included: a 24/7 calendar, 365 bars a year, 30 bars of horizon
    # (whatever the ticker is called)
    assert (snap["asset_class"], snap["periods_per_year"], snap["horizon"]["trading_days"]) == (
        "crypto",
        365,
        30,
    )
    # the EWMA of r^2 = ln(1.1)^2 exactly, below the full-sample n-1 variance: sizing on the full sample
    full = math.log(1.1) * math.sqrt(40 / 39)
    assert m["volatility"]["recent"] == pytest.approx(math.log(1.1) * math.sqrt(365))
    assert m["annual_volatility"] == pytest.approx(full * math.sqrt(365))
    assert m["volatility"]["basis"] == "full-sample"
    assert m["max_drawdown"]["fraction"] == pytest.approx(1 / 11)
    assert (m["max_drawdown"]["peak_date"], m["max_drawdown"]["trough_date"]) == ("2024-01-02", "2024-01-03")
    # one bar: 40 returns -> an empirical tail of ceil(2) = 2, both -1/11
    var = m["var95"]
    assert var["one_day"] == pytest.approx(1 / 11)
    assert m["cvar95"]["one_day"] == pytest.approx(1 / 11)
    # 30 bars: 40 / 30 < 8 independent horizons -> parametric, zero drift: 1 - exp(-z s sqrt(30))
    z = statistics.NormalDist().inv_cdf(0.95)
    assert var["method"] == "parametric"
    assert var["horizon"] == pytest.approx(1 - math.exp(-z * full * math.sqrt(30)))
    assert var["amount"] == pytest.approx(10_000 * var["horizon"])
    assert m["total_return"] == pytest.approx(0.0)
    assert m["vol_target_fraction"] == pytest.approx(min(1.0, 0.40 / m["annual_volatility"]))
    assert "sqrt(365" in snap["sources"]["annual_volatility"]
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
    assert snap["metrics"]["trend"] is None  # SMA20/50 need 50 closes: no shrunken windows
    assert any("only 10 closes" in g for g in snap["data_gaps"])
    assert any(f["kind"] == "too-few-observations" for f in snap["quality_flags"])


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
