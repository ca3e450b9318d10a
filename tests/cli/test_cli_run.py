"""``quorum run``: inputs, the JSON result, plain line output, exit codes, the shipped workflows."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from .helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli

pytestmark = pytest.mark.integration


def test_json_prints_only_the_result_with_the_api_field_names(cli: Cli) -> None:
    r = cli.run_demo("--json")
    assert r.code == 0, r
    data = r.json()  # stdout is exactly one JSON document
    assert set(data) >= {"id", "task", "status", "verdict", "phases", "error", "duration_ms", "input",
                         "usage"}
    assert data["status"] == "completed"
    assert data["input"] == {"ticker": "BTC", "amount": 10000, "riskTolerance": "medium", "extended": False}
    assert data["verdict"]["decision"] == "APPROVE_WITH_CONDITIONS"
    assert data["verdict"]["approved_amount"] == 5000
    analysis = data["phases"]["Analysis"]
    assert set(analysis) >= {"status", "outputs", "responses", "attempts", "duration_ms", "error"}
    assert analysis["status"] == "completed"
    assert analysis["attempts"] == 1
    assert sorted(analysis["responses"]) == ["analyst-a", "analyst-b"]
    assert analysis["responses"]["analyst-a"]["stance"] == "bullish"
    assert data["phases"]["Deep Dive"]["status"] == "skipped"
    assert data["usage"]["calls"] == 3
    assert r.err == ""


def test_plain_output_is_one_line_per_event_then_the_report(cli: Cli) -> None:
    r = cli.run_demo()
    assert r.code == 0, r
    lines = r.out.splitlines()
    event_lines = [ln for ln in lines if re.match(r"^\d\d:\d\d:\d\d\.\d{3}  \S+", ln)]
    kinds = [ln.split()[1] for ln in event_lines]
    assert kinds[0] == "execution:start"
    assert kinds[-1] == "execution:complete"
    assert "phase:skipped" in kinds
    assert any("agent:response" in ln and "Analysis / analyst-a" in ln for ln in event_lines)
    assert any("phase:skipped" in ln and "Deep Dive" in ln and "condition false" in ln for ln in event_lines)
    assert "\x1b[" not in r.out  # no terminal control codes in a pipe
    report = r.out[r.out.index("execution:complete"):]
    assert "Decision" in report
    assert "APPROVE_WITH_CONDITIONS" in report
    assert "stop loss at -8%" in report  # a list section of the verdict
    execution_id = cli.latest_id()
    assert f"full record: quorum show {execution_id}" in report


@pytest.mark.errors
def test_bad_input_lists_every_requirement_and_starts_nothing(cli: Cli) -> None:
    r = cli("run", str(DEMO_TASK), "ticker=BTC", "amount=lots", "riskTolerance=extreme", "--agents-dir",
            str(AGENTS))
    assert r.code == 2, r
    assert "invalid input for task cli-demo; nothing was started" in r.err
    assert "amount: expected number, got" in r.err
    assert "riskTolerance: expected one of low, medium, high" in r.err
    for name, kind in (("ticker", "string"), ("amount", "number (>= 1)"),
                       ("riskTolerance", "one of low, medium, high"), ("extended", "boolean")):
        assert re.search(rf"{name}\s+{re.escape(kind)}", r.err), (name, r.err)
    assert "no (default false)" in r.err
    assert "usage: quorum run cli-demo ticker=<string> amount=<number> riskTolerance=low|medium|high" in r.err
    assert not cli.db.exists() or cli("history", "--json").json() == []


@pytest.mark.errors
def test_missing_input_and_unknown_field_are_both_reported(cli: Cli) -> None:
    r = cli("run", str(DEMO_TASK), "ticker=BTC", "amont=5", "--agents-dir", str(AGENTS))
    assert r.code == 2, r
    assert "amount: required (number" in r.err
    assert "amont: not an input of this task" in r.err
    assert "riskTolerance: required" in r.err


def test_input_file_and_key_values_merge(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "input.json"
    data.write_text(json.dumps({"ticker": "ETH", "amount": 60000, "riskTolerance": "low", "extended": True}))
    r = cli("run", str(DEMO_TASK), "--input", str(data), "ticker=SOL", "--agents-dir", str(AGENTS), "--json")
    assert r.code == 0, r
    result = r.json()
    assert result["input"] == {"ticker": "SOL", "amount": 60000, "riskTolerance": "low", "extended": True}
    assert result["phases"]["Deep Dive"]["status"] == "completed"  # extended=true ran it
    assert result["phases"]["Analysis"]["outputs"]["stance"] == "bearish"


@pytest.mark.errors
def test_bad_input_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "input.json"
    data.write_text('{"ticker": "ETH",\n "amount": }')
    r = cli("run", str(DEMO_TASK), "--input", str(data), "--agents-dir", str(AGENTS))
    assert r.code == 2, r
    assert f"--input {data}:2: not valid JSON" in r.err


def test_timeout_ends_the_execution_with_exit_3(cli: Cli) -> None:
    r = cli.run_demo("--timeout", "300ms", "--json", env={"QUORUM_TEST_DELAY": "2"})
    assert r.code == 3, r
    result = r.json()
    assert result["status"] == "timeout"
    assert result["phases"]["Intake"]["status"] == "completed"  # partial results kept
    bad = cli.run_demo("--timeout", "soon")
    assert bad.code == 2
    assert "bad --timeout 'soon'" in bad.err


@pytest.mark.errors
def test_failed_validation_step_exits_1(cli: Cli) -> None:
    r = cli("run", str(DEMO_TASK), "ticker=BTC", "amount=5", "riskTolerance=low", "--agents-dir", str(AGENTS),
            env={"QUORUM_TEST_DELAY": "0"})
    assert r.code == 0, r  # amount=5 passes `input.amount > 0`; now make the validation fail:
    failing = DEMO_TASK.read_text().replace("input.amount > 0", "input.amount > 1000000")
    task = cli.cwd / "failing.md"
    task.write_text(failing.replace("name: cli-demo", "name: cli-failing"))
    r = cli("run", str(task), *DEMO_INPUT, "--agents-dir", str(AGENTS))
    assert r.code == 1, r
    assert "failed" in r.out
    assert "The amount must be positive" in r.out


def test_no_history_keeps_no_record(cli: Cli) -> None:
    r = cli.run_demo("--no-history", "--json")
    assert r.code == 0, r
    assert cli("history", "--json").json() == []


def test_investment_committee_runs_offline_with_prices(cli: Cli) -> None:
    prices = cli.cwd / "btc.csv"
    rows = ["date,close,volume"]
    for day in range(90):
        close = 40000 * (1 + 0.2 * math.sin(day / 9)) * (1.002 ** day)
        rows.append(f"2026-{1 + day // 28:02d}-{1 + day % 28:02d},{close:.2f},{1000 + day}")
    prices.write_text("\n".join(rows) + "\n")
    r = cli("run", "investment-committee-meeting", "ticker=BTC", "amount=10000", "timeHorizon=30 days",
            "riskTolerance=medium", "--prices", str(prices), "--json")
    assert r.code == 0, r
    result = r.json()
    assert result["status"] == "completed"
    assert len(result["input"]["prices"]) == 90
    verdict = result["verdict"]
    assert verdict["decision"] in ("APPROVE", "APPROVE_WITH_CONDITIONS", "REJECT", "DEFER")
    assert verdict["risk"]["var95"] is not None  # measured from the prices given
    assert [p["status"] for p in result["phases"].values()] == ["completed"] * 7 + ["skipped"]  # no sign-off


@pytest.mark.errors
def test_bad_prices_file_names_the_line(cli: Cli) -> None:
    prices = cli.cwd / "bad.csv"
    prices.write_text("date,close\n2026-01-01,100\n2026-01-02,abc\n")
    r = cli("run", "investment-committee-meeting", "ticker=BTC", "amount=10000", "riskTolerance=medium",
            "--prices", str(prices))
    assert r.code == 2, r
    assert f"{prices}:3" in r.err
    assert "Traceback" not in r.err


def test_daily_market_analysis_answers_with_key_points(cli: Cli) -> None:
    r = cli("run", "daily-market-analysis", "question=Is BTC overbought this week?")
    assert r.code == 0, r
    assert "Verdict" in r.out
    assert "Answer" in r.out
    result = cli("run", "daily-market-analysis", "question=What does a rate hike mean for ETH?",
                 "--json").json()
    assert result["status"] == "completed"
    assert 3 <= len(result["verdict"]["agents_used"]) <= 5


def test_model_overrides_replace_an_agents_model(cli: Cli) -> None:
    r = cli.run_demo("--model", "analyst-b=python:cli_agents:chair", "--json")
    assert r.code == 0, r
    responses = r.json()["phases"]["Analysis"]["responses"]
    assert responses["analyst-b"]["data"]["decision"] == "APPROVE_WITH_CONDITIONS"
    assert "decision" not in responses["analyst-a"]["data"]
    unknown = cli.run_demo("--model", "analyst-z=python:cli_agents:chair")
    assert unknown.code == 2, unknown
    assert "unknown agent 'analyst-z'" in unknown.err
    assert "did you mean 'analyst-" in unknown.err


def test_model_override_reaches_a_flagship_agent_end_to_end(cli: Cli) -> None:
    """`--model technical-analyst=python:...` replaces one built-in specialist of the shipped committee."""
    r = cli("run", "investment-committee-meeting", "ticker=BTC", "amount=10000", "riskTolerance=medium",
            "--model", "technical-analyst=python:cli_agents:analyst", "--json")
    assert r.code == 0, r
    result = r.json()
    assert result["status"] == "completed"
    analysis = result["phases"]["Analysis"]["responses"]
    assert analysis["technical-analyst"]["rationale"] == "technical-analyst looked at BTC"  # the fixture
    assert analysis["technical-analyst"]["data"]["score"] == 3
    assert analysis["macro-analyst"]["rationale"] != "macro-analyst looked at BTC"  # the others: built-in
