"""``quorum run --dry-run`` and ``--fixtures`` through the real command: exit 0, the plan as text and
JSON, nothing recorded (no history file created), the same input errors as a run, a simulated run's
verdict, a missing answer named with how to add it, and the options they refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import Cli

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.in_folder(tmp_path)


def test_the_plan_as_text_and_json_records_nothing(cli: Cli) -> None:
    text = cli.run_demo("--dry-run")
    assert text.code == 0, text
    assert "dry run cli-demo 1.2.0: nothing was called or recorded" in text.out
    assert "Deep Dive: condition false: input.extended" in text.out
    assert "critical path: Intake → Analysis → Verdict" in text.out
    assert "history:       none" in text.out
    assert not cli.db.exists()  # no history file was created

    plan = cli.run_demo("--dry-run", "--json").json()
    assert plan["dry_run"] is True
    fates = {p["name"]: p["fate"] for p in plan["phases"]}
    assert fates == {"Intake": "runs", "Analysis": "runs", "Deep Dive": "skipped", "Verdict": "runs"}
    assert plan["calls"] == 3
    assert plan["wall_s"]["basis"] == "timeouts"
    assert plan["wall_s"]["upper_bound"] is True
    extended = cli.run_demo("extended=true", "--dry-run", "--json").json()
    assert {p["name"]: p["fate"] for p in extended["phases"]}["Deep Dive"] == "runs"
    assert extended["calls"] == 4
    assert not cli.db.exists()


def test_with_history_the_numbers_come_from_it_and_it_stays_as_it_was(cli: Cli) -> None:
    assert cli.run_demo("--json").code == 0
    before = cli("history", "--json").json()
    plan = cli.run_demo("--dry-run", "--json").json()
    assert plan["history"] == 1
    assert plan["wall_s"]["basis"] == "history"
    assert plan["wall_s"]["p50"] is not None
    assert cli("history", "--json").json() == before


def test_a_bad_input_is_refused_as_a_run_refuses_it(cli: Cli) -> None:
    planned = cli("run", str(Path(__file__).parents[1] / "cli" / "fixtures" / "tasks" / "cli-demo.md"),
                  "ticker=BTC", "amount=0", "riskTolerance=medium", "--dry-run")
    assert planned.code == 2, planned
    assert "invalid input for task cli-demo; nothing was started" in planned.err
    assert "amount" in planned.err


def test_dry_run_refuses_what_it_cannot_honour(cli: Cli, tmp_path: Path) -> None:
    refused = cli.run_demo("--dry-run", "--record", str(tmp_path / "x.db"))
    assert refused.code == 2
    assert "--dry-run does not combine with --record" in refused.err
    fixtures = tmp_path / "f.json"
    fixtures.write_text('{"answers": {}}')
    both = cli.run_demo("--dry-run", "--fixtures", str(fixtures))
    assert both.code == 2
    assert "--dry-run and --fixtures exclude each other" in both.err


ANSWERS = {
    "analyst-a": {"stance": "bullish", "confidence": 0.8, "recommendation": "buy", "rationale": "trend"},
    "analyst-b": {"stance": "bullish", "confidence": 0.6, "recommendation": "buy", "rationale": "flows"},
    "Verdict/chair": {"data": {"decision": "APPROVE", "approved_amount": 7000, "conditions": [],
                               "dissent": [], "risk": {}}},
}


def test_fixtures_simulate_a_whole_run(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"answers": ANSWERS}))
    done = cli.run_demo("--fixtures", str(path), "--json")
    assert done.code == 0, done
    result = done.json()
    assert result["simulated"] is True
    assert result["status"] == "completed"
    assert result["verdict"]["decision"] == "APPROVE"
    assert result["verdict"]["approved_amount"] == 7000
    assert not cli.db.exists()
    plain = cli.run_demo("--fixtures", str(path), "--plain")
    assert plain.code == 0, plain
    assert "no agent called, nothing recorded" in plain.out


def test_a_missing_answer_says_which_agent_which_phase_and_how_to_add_it(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"answers": {k: v for k, v in ANSWERS.items() if k != "Verdict/chair"}}))
    missing = cli.run_demo("--fixtures", str(path))
    assert missing.code == 2, missing
    assert "holds no answer for 1 call(s): agent 'chair' in phase 'Verdict'" in missing.err
    assert '"Verdict/chair"' in missing.err
    assert "Traceback" not in missing.err
    assert not cli.db.exists()


def test_a_record_file_serves_as_fixtures(cli: Cli, tmp_path: Path) -> None:
    recorded = cli.run_demo("--record", str(tmp_path / "exchanges.db"), "--json")
    assert recorded.code == 0, recorded
    before = cli("history", "--json").json()
    replayed = cli.run_demo("--fixtures", str(tmp_path / "exchanges.db"), "--json")
    assert replayed.code == 0, replayed
    assert replayed.json()["verdict"] == recorded.json()["verdict"]
    assert cli("history", "--json").json() == before  # the simulation is not recorded
