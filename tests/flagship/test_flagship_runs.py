"""Both shipped workflows end to end through the real engine, with the built-in specialists (offline)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
from pathlib import Path
from typing import Any

import pytest

import quorum.engine.executor as executor_module
from quorum.ids import PhaseName

pytestmark = pytest.mark.integration


def random_walk(n: int, *, seed: int = 7, drift: float = 0.002, vol: float = 0.03) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    # the history ends today: the committee does not act on stale data
    day, price, rows = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=n - 1), 100.0, []
    for i in range(n):
        if i:
            price *= math.exp(rng.gauss(drift, vol))
        rows.append({"date": (day + dt.timedelta(days=i)).isoformat(), "close": round(price, 4)})
    return rows


BASE = {"ticker": "BTC", "amount": 10_000, "timeHorizon": "30 days", "riskTolerance": "medium"}
DECISIONS = ("APPROVE", "APPROVE_WITH_CONDITIONS", "REJECT", "DEFER")


async def _run(tmp_path: Path, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    executor = executor_module.TaskExecutor(tasks_dir=tmp_path)  # the shipped tasks are found by name
    result = await executor.execute(name, inputs)
    data: dict[str, Any] = result.to_dict()
    assert data["status"] == "completed", data["error"]
    return data


def _check_verdict(data: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    verdict: dict[str, Any] = data["verdict"]
    phases = data["phases"]
    assert list(phases) == [
        "Activation",
        "Analysis",
        "Round Table",
        "Debate",
        "Validation",
        "Consensus",
        "Verdict",
        "Sign-off",
    ]
    signed = "approvalThreshold" in inputs
    assert all(p["status"] == "completed" for name, p in phases.items() if name != "Sign-off")
    assert phases["Sign-off"]["status"] == ("completed" if signed else "skipped")
    cap = phases["Validation"]["outputs"]["approved_cap"]
    outcome = phases["Consensus"]["outputs"]["outcome"]
    assert verdict["decision"] in DECISIONS
    assert 0 <= verdict["approved_amount"] <= cap <= inputs["amount"]
    assert verdict["votes"]["outcome"] == outcome
    tally = verdict["votes"]["tally"]
    if verdict["decision"].startswith("APPROVE"):
        assert outcome == "approve"
        assert tally["APPROVE"] > tally["REJECT"]
        assert sum(t["amount"] for t in verdict["tranches"]) == pytest.approx(
            verdict["approved_amount"], abs=0.011
        )
    else:
        assert verdict["approved_amount"] == 0
        assert verdict["tranches"] == []
    risk_keys = {"stop_loss", "loss_at_stop", "gap_risk", "costs", "annual_volatility", "var95", "cvar95"}
    assert risk_keys | {"key_risks"} <= set(verdict["risk"])
    for key in ("decision", "approved_amount", "risk.var95", "votes"):
        assert verdict["sources"][key]
    assert verdict["validation"]["checks"]
    assert verdict["review"]["triggers"]
    # Debate went around the table twice; the red team's challenge is recorded
    assert len(phases["Debate"]["answers"]) == 6
    assert phases["Debate"]["outputs"]["challenges"]["kind"] == "red-team-challenge"
    return verdict


async def test_investment_committee_with_prices(tmp_path: Path) -> None:
    # prices, headlines and fundamentals: three return analysts with data, a quorum, and the caps clamp
    inputs = {
        **BASE,
        "prices": random_walk(200),
        "news": ["Bitcoin ETF inflows hit a record", "Adoption grows as approval nears"],
        "fundamentals": {"active_addresses_growth": 0.12, "hash_rate_growth": 0.08},
        "portfolioValue": 200_000,
    }
    verdict = _check_verdict(await _run(tmp_path, "investment-committee-meeting", inputs), inputs)
    assert verdict["risk"]["annual_volatility"] > 0
    assert verdict["risk"]["var95"]["fraction"] > 0
    assert verdict["decision"] == "APPROVE_WITH_CONDITIONS"  # the caps clamped the request
    assert verdict["validation"]["clamps"]
    assert verdict["rating"] in ("Buy", "Overweight")
    assert verdict["trade"]["side"] == "buy"
    assert verdict["scenarios"]["expected_return"] > verdict["benchmark"]["hurdle_over_horizon"]
    assert verdict["exit_plan"]["take_profit"] > verdict["exit_plan"]["stop_loss"]
    assert verdict["bull_case"]["points"]


async def test_prices_alone_are_one_voice_and_no_quorum(tmp_path: Path) -> None:
    # Only the technical analyst has data (the quantitative risk analyst informs, it does not vote):
    # the committee does not act on one voice, and says so.
    inputs = {**BASE, "prices": random_walk(200)}
    verdict = _check_verdict(await _run(tmp_path, "investment-committee-meeting", inputs), inputs)
    assert verdict["decision"] == "DEFER"
    assert "no quorum" in verdict["summary"].lower()
    assert "quant-risk-analyst" not in {v["agent"] for v in verdict["votes"]["votes"]}
    assert "risk-officer" not in {v["agent"] for v in verdict["votes"]["votes"]}


async def test_investment_committee_without_prices(tmp_path: Path) -> None:
    verdict = _check_verdict(await _run(tmp_path, "investment-committee-meeting", BASE), BASE)
    assert verdict["decision"] == "DEFER"
    assert verdict["risk"]["annual_volatility"] is None


async def test_investment_committee_restricted_and_text_inputs(tmp_path: Path) -> None:
    # inputs as the CLI gives them (text), coerced by the task's requirements
    inputs = {
        "ticker": "ETH",
        "amount": "25000",
        "timeHorizon": "6 months",
        "riskTolerance": "high",
        "prices": random_walk(120, seed=3),
        "restricted": ["ETH"],
    }
    data = await _run(tmp_path, "investment-committee-meeting", inputs)
    verdict = _check_verdict(data, {**inputs, "amount": 25_000})
    assert verdict["decision"] == "REJECT"
    assert verdict["votes"]["outcome"] == "vetoed"


async def test_invalid_amount_stops_at_activation(tmp_path: Path) -> None:
    executor = executor_module.TaskExecutor(tasks_dir=tmp_path)
    from quorum.errors import InputValidationError

    with pytest.raises(InputValidationError):
        await executor.execute("investment-committee-meeting", {**BASE, "amount": -5})


async def test_daily_market_analysis(tmp_path: Path) -> None:
    inputs = {
        "question": "Will BTC go up this month?",
        "prices": random_walk(120),
        "news": ["Bitcoin ETF inflows hit a record"],
    }
    data = await _run(tmp_path, "daily-market-analysis", inputs)
    answer = data["verdict"]
    assert answer["question_type"] == "price-outlook"
    assert answer["tickers"] == ["BTC"]
    assert 3 <= len(answer["agents_used"]) <= 5
    assert 0 < answer["confidence"] <= 1
    assert answer["answer"]
    assert answer["key_points"]
    rapid = data["phases"]["Rapid Analysis"]
    selected = data["phases"]["Contextual Agent Selection"]["outputs"]["agents"]
    assert sorted({a["agent_id"] for a in rapid["answers"]}) == sorted(selected)


async def test_daily_market_analysis_without_data(tmp_path: Path) -> None:
    data = await _run(tmp_path, "daily-market-analysis", {"question": "Compare AAPL vs MSFT"})
    answer = data["verdict"]
    assert answer["question_type"] == "comparison"
    assert answer["confidence"] == 0.0
    assert len(answer["agents_used"]) == 4


async def test_a_bad_price_row_ends_the_meeting_at_activation(tmp_path: Path) -> None:
    executor = executor_module.TaskExecutor(tasks_dir=tmp_path)
    result = await executor.execute(
        "investment-committee-meeting", {**BASE, "prices": [{"date": "2024-01-01", "close": "abc"}]}
    )
    assert result.status.value == "failed"
    assert "The request is invalid" in str(result.error)
    assert "prices[0]: close 'abc'" in str(result.error)
    assert "Analysis" not in result.phases or result.phases[PhaseName("Analysis")].status.value != "completed"


async def test_the_workflow_guards_the_cap_whatever_agent_answers(tmp_path: Path) -> None:
    from quorum.agents.builtin import get_specialist
    from quorum.agents.defaults import default_agent_manager
    from quorum.agents.protocol import AgentRequest

    def greedy_risk_officer(request: AgentRequest) -> dict[str, Any]:
        answer = get_specialist("risk-officer")(request)
        return {**answer, "approved_cap": 1e12}

    manager = default_agent_manager()
    manager.register("risk-officer", greedy_risk_officer)
    executor = executor_module.TaskExecutor(tasks_dir=tmp_path, agent_manager=manager)
    result = await executor.execute("investment-committee-meeting", {**BASE, "prices": random_walk(200)})
    assert result.status.value == "failed"
    assert "The risk cap exceeds the requested amount" in str(result.error)


async def test_an_approval_above_the_threshold_waits_for_a_sign_off(tmp_path: Path) -> None:
    inputs = {
        **BASE,
        "prices": random_walk(200),
        "news": ["Bitcoin ETF inflows hit a record", "Adoption grows as approval nears"],
        "fundamentals": {"active_addresses_growth": 0.12, "hash_rate_growth": 0.08},
        "portfolioValue": 200_000,
        "approvalThreshold": 100,
    }
    executor = executor_module.TaskExecutor(tasks_dir=tmp_path)
    handle = await executor.start("investment-committee-meeting", inputs)
    for _ in range(3000):
        if handle.status.value == "waiting" or handle.done:
            break
        await asyncio.sleep(0.01)
    assert handle.status.value == "waiting"
    [gate] = await executor.pending_approvals(handle.id)
    assert gate.id == "Sign-off/0"
    assert "threshold 100" in gate.question
    await executor.decide(handle.id, "approve", by="cio", comment="above threshold, reviewed")
    result = (await handle.result()).to_dict()
    verdict = _check_verdict(result, inputs)
    signed = verdict["approvals"]["Sign-off/0"]
    assert signed["decision"] == "approve"
    assert [(a["by"], a["comment"]) for a in signed["approvals"]] == [("cio", "above threshold, reviewed")]
    from quorum.cli.memo import memo_markdown

    memo = "\n".join(memo_markdown(verdict) or ())
    assert "#### Sign-off: approve (Sign-off/0)" in memo
    assert "approve by cio: above threshold, reviewed" in memo


async def test_below_the_threshold_no_sign_off_is_asked(tmp_path: Path) -> None:
    inputs = {**BASE, "approvalThreshold": 1_000_000}
    data = await _run(tmp_path, "investment-committee-meeting", inputs)
    assert data["phases"]["Sign-off"]["status"] == "skipped"
    assert "approvals" not in data["verdict"]
