"""The committee on generated markets, end to end through the engine: decision properties, not strings."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import quorum.engine.executor as executor_module

pytestmark = pytest.mark.integration

BULL_NEWS = ["Adoption grows as approval nears", "Record inflows, analysts upgrade"]
BULL_FUNDAMENTALS = {"revenue_growth": 0.2, "profit_margin": 0.25}
TODAY = dt.datetime.now(dt.UTC).date()
BASE: dict[str, Any] = {
    "ticker": "XYZ",
    "amount": 10_000,
    "timeHorizon": "30 days",
    "riskTolerance": "medium",
}


def series(steps: Callable[[int, random.Random], float], n: int = 250, seed: int = 3) -> list[dict[str, Any]]:
    rng, price, rows = random.Random(seed), 100.0, []
    day = TODAY - dt.timedelta(days=n - 1)  # the history ends today: stale data is never acted on
    for i in range(n):
        if i:
            price *= math.exp(steps(i, rng))
        rows.append({"date": (day + dt.timedelta(days=i)).isoformat(), "close": round(price, 6)})
    return rows


MARKETS: dict[str, list[dict[str, Any]]] = {
    "trend": series(lambda i, r: r.gauss(0.004, 0.012)),
    "crash": series(lambda i, r: r.gauss(0.001, 0.01) if i < 200 else r.gauss(-0.03, 0.03)),
    "crash-then-bounce": series(
        lambda i, r: r.gauss(0, 0.01) if i < 200 else r.gauss(-0.04 if i < 225 else 0.03, 0.03)
    ),
    "sideways-high-vol": series(lambda i, r: r.gauss(0, 0.07)),
    "flat": [{"date": (TODAY - dt.timedelta(days=199 - i)).isoformat(), "close": 50.0} for i in range(200)],
    "bond-like": series(lambda i, r: r.gauss(0.0001, 0.002)),
    "thin": series(lambda i, r: r.gauss(0.004, 0.01), n=15),
    "outlier": [
        {**row, "close": row["close"] * (0.5 if i == 150 else 1.0)}
        for i, row in enumerate(series(lambda i, r: r.gauss(0.003, 0.01)))
    ],
}


async def committee(tmp_path: Path, market: str, **extra: Any) -> dict[str, Any]:
    inputs = {
        **BASE,
        "prices": MARKETS[market],
        "news": BULL_NEWS,
        "fundamentals": BULL_FUNDAMENTALS,
        **extra,
    }
    result = await executor_module.TaskExecutor(tasks_dir=tmp_path).execute(
        "investment-committee-meeting", inputs
    )
    data: dict[str, Any] = result.to_dict()
    assert data["status"] == "completed", data["error"]
    verdict: dict[str, Any] = data["verdict"]
    # the properties that hold in every market
    voters = {v["agent"] for v in verdict["votes"]["votes"]}
    assert not voters & {"risk-officer", "quant-risk-analyst", "compliance-officer"}
    assert verdict["approved_amount"] <= data["phases"]["Validation"]["outputs"]["approved_cap"]
    if verdict["decision"].startswith("APPROVE"):
        assert verdict["scenarios"] is None or verdict["scenarios"]["beats_hurdle"]
        assert verdict["rating"] in ("Buy", "Overweight")
    else:
        assert verdict["rating"] not in ("Buy", "Overweight")
        assert verdict["approved_amount"] == 0
    assert 0 <= verdict["conviction"] <= 100
    return verdict


async def test_a_trend_with_support_is_approved_within_the_loss_budget(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "trend")
    assert verdict["decision"].startswith("APPROVE")
    risk = verdict["risk"]
    assert risk["loss_at_stop"]["amount"] <= 0.10 * BASE["amount"] + 0.01
    assert "ATR" in risk["stop_loss"]["basis"]
    assert risk["gap_risk"]["fraction"] >= risk["stop_loss"]["fraction"]
    assert {s["scenario"] for s in verdict["scenarios"]["scenarios"]} == {"bull", "base", "bear"}
    assert sum(s["probability"] for s in verdict["scenarios"]["scenarios"]) == pytest.approx(1.0)


async def test_a_crash_is_not_bought_and_a_holding_is_cut(tmp_path: Path) -> None:
    verdict = await committee(
        tmp_path,
        "crash",
        news=["Exchange hacked, fears of default"],
        fundamentals=None,
        position={"value": 5_000},
    )
    assert not verdict["decision"].startswith("APPROVE")
    assert verdict["rating"] in ("Underweight", "Sell")
    assert verdict["trade"]["side"] == "sell"
    assert 0 < verdict["trade"]["amount"] <= 5_000


async def test_after_a_crash_and_bounce_the_size_rests_on_recent_volatility(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "crash-then-bounce")
    vol = verdict["risk"]["volatility"]
    assert vol["basis"] == "recent"
    assert vol["sizing"] == vol["recent"] > vol["full_sample"]


async def test_a_market_too_wild_for_the_mandate_is_vetoed_by_the_risk_gate(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "sideways-high-vol")
    assert verdict["decision"] == "REJECT"
    assert verdict["votes"]["outcome"] == "vetoed"
    assert "risk-officer" in verdict["summary"]


async def test_a_flat_or_calm_market_is_no_case_to_buy_on_risk_alone(tmp_path: Path) -> None:
    for market in ("flat", "bond-like"):
        verdict = await committee(tmp_path, market, news=None, fundamentals=None)
        assert not verdict["decision"].startswith("APPROVE"), market
        assert verdict["decision"] == "DEFER"


async def test_a_thin_history_measures_no_risk_and_sizes_down(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "thin")
    assert verdict["risk"]["var95"] is None
    assert verdict["approved_amount"] <= 0.25 * BASE["amount"]  # the unmeasured-risk cap
    assert any("15 closes" in g for g in verdict["data"]["gaps"])


async def test_a_bad_tick_is_named_and_kept_out_of_the_risk_measures(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "outlier")
    spike = MARKETS["outlier"][150]["date"]
    assert any(spike in q and "excluded" in q for q in verdict["data"]["quality"])
    assert verdict["risk"]["gap_risk"]["worst_bar_fall"] < 0.2
    assert verdict["decision"] != "REJECT"  # the bad print did not push volatility past the veto


async def test_a_split_vote_names_the_split(tmp_path: Path) -> None:
    verdict = await committee(
        tmp_path, "trend", news=["Exchange hacked, fears of default, probe widens"], fundamentals=None
    )
    # the trend (technical) and the news (sentiment) disagree, one vote each: a tie, named
    assert verdict["votes"]["outcome"] == "tie"
    assert verdict["decision"] == "DEFER"
    assert "1 APPROVE (technical-analyst)" in verdict["summary"]
    assert "1 REJECT (sentiment-analyst)" in verdict["summary"]


async def test_a_policy_override_changes_the_decision_and_is_cited(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "trend", policy={"hurdle_rate": 5.0})
    assert verdict["decision"] == "DEFER"
    assert "hurdle" in verdict["summary"]
    assert "policy.hurdle_rate" in verdict["sources"]["policy"]


async def test_stale_data_is_never_acted_on_and_the_reason_is_its_age(tmp_path: Path) -> None:
    old = [
        {**row, "date": (dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat()}
        for i, row in enumerate(MARKETS["trend"])
    ]
    verdict = await committee(tmp_path, "trend", prices=old)
    assert verdict["decision"] == "DEFER"
    assert "stale" in verdict["summary"] or "old" in verdict["summary"]
    assert any("old" in q for q in verdict["data"]["quality"])


async def test_a_flat_feed_is_named_and_not_acted_on(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "flat")
    assert verdict["decision"] == "DEFER"
    assert "the data cannot carry a decision" in verdict["summary"].lower()
    assert verdict["conviction"] == 0  # a deferral carries no conviction


async def test_an_outlier_tick_is_named_with_its_date_as_a_condition(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "outlier")
    spike = MARKETS["outlier"][150]["date"]
    assert any(spike in c for c in verdict["conditions"]), verdict["conditions"]


async def test_a_short_history_has_no_trend_rather_than_a_shrunken_one(tmp_path: Path) -> None:
    verdict = await committee(tmp_path, "trend", prices=MARKETS["trend"][-40:], news=None, fundamentals=None)
    assert verdict["decision"] == "DEFER"
    technical = next(v for v in verdict["votes"]["votes"] if v["agent"] == "technical-analyst")
    assert technical["abstained"]
    assert "needs at least 50" in technical["reason"]


def test_the_gates_never_vote_whatever_model_answers() -> None:
    from quorum.agents.builtin import get_specialist
    from quorum.agents.function import coerce_response
    from quorum.agents.protocol import AgentRequest
    from quorum.ids import AgentId, ExecutionId, PhaseName

    def answer(agent: str, stance: str, **data: Any) -> Any:
        return coerce_response(
            AgentId(agent),
            {"stance": stance, "confidence": 0.9, "rationale": "x", **data},
            latency_ms=0.0,
            model="openai:some-model",
        )

    responses = {
        "technical-analyst": answer("technical-analyst", "bullish", technical={"trend": "up"}),
        # an LLM risk officer and quant risk analyst, bullish, without voting: False
        "risk-officer": answer("risk-officer", "bullish", approved_cap=5_000.0),
        "quant-risk-analyst": answer("quant-risk-analyst", "bullish", quant_risk={"annual_volatility": 0.1}),
    }
    request = AgentRequest(
        agent_id=AgentId("committee-chair"),
        prompt="vote",
        execution_id=ExecutionId("e"),
        phase=PhaseName("Consensus"),
        round=0,
        context={"input": BASE, "phases": {"Analysis": {"outputs": {}, "responses": responses}}},
    )
    vote = get_specialist("committee-chair")(request)
    assert [v["agent"] for v in vote["votes"]["votes"]] == ["technical-analyst"]
    assert vote["outcome"] == "no-quorum"  # one voice, however calm the risk readings are
