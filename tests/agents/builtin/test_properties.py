"""Property tests: any sound request gives a verdict that keeps the committee's invariants."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .harness import run_committee

pytestmark = pytest.mark.unit


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.sampled_from([0, 1, 5, 19, 20, 35, 120]))
    returns = draw(
        st.lists(st.floats(-0.25, 0.25, allow_nan=False), min_size=max(n - 1, 0), max_size=max(n - 1, 0))
    )
    price, rows = draw(st.floats(0.01, 1e5)), []
    for i in range(n):
        if i:
            price = max(price * (1 + returns[i - 1]), 1e-6)
        rows.append({"date": f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}", "close": price})
    request: dict[str, Any] = {
        "ticker": draw(st.sampled_from(["BTC", "eth", "AAPL", "BRK.B", "SOL-USD"])),
        "amount": draw(st.floats(1, 1e9)),
        "timeHorizon": draw(st.sampled_from(["1 day", "30 days", "2 weeks", "6 months", "3 years"])),
        "riskTolerance": draw(st.sampled_from(["low", "medium", "high"])),
    }
    if rows:
        request["prices"] = rows
    if draw(st.booleans()):
        request["portfolioValue"] = draw(st.floats(1, 1e10))
    return request


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs=requests())
def test_verdict_invariants_hold_for_any_sound_request(inputs: dict[str, Any]) -> None:
    verdict, phases = run_committee(inputs)
    cap = phases["Validation"]["outputs"]["approved_cap"]
    approved = verdict["approved_amount"]
    assert 0 <= approved <= cap <= inputs["amount"] + 0.01
    assert verdict["decision"] in ("APPROVE", "APPROVE_WITH_CONDITIONS", "REJECT", "DEFER")
    assert verdict["decision"].startswith("APPROVE") == (approved > 0)
    if approved:
        assert verdict["votes"]["outcome"] == "approve"
        assert sum(t["amount"] for t in verdict["tranches"]) == pytest.approx(approved, abs=0.011)
    assert 0 <= verdict["conviction"] <= 100
    risk = verdict["risk"]
    for key in ("annual_volatility",):
        value = risk[key]
        assert value is None or (math.isfinite(value) and value >= 0)
    for key in ("var95", "cvar95"):
        assert risk[key] is None or 0 <= risk[key]["fraction"] <= 1
    for phase in phases.values():
        for response in phase["responses"].values():
            data = response["data"]
            assert data["stance"] in ("bullish", "bearish", "neutral")
            assert 0 <= data["confidence"] <= 1
