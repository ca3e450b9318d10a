"""``quorum validate``, ``list`` and ``graph`` through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import AGENTS, DEMO_TASK, Cli

pytestmark = pytest.mark.integration

BAD_TASK = """\
# Bad

```yaml
name: bad-task
version: 1.0.0
retry: {maxAttempts: yes}
```

## Phase: A
dependson: [B]

### Steps
- agentt: x - y
"""

BAD_AGENT = """\
---
id: Bad Agent
model: nowhere
api_key: sk-do-not-put-keys-here
---
Persona.
"""


def test_validate_accepts_the_shipped_tasks_and_the_fixtures(cli: Cli) -> None:
    r = cli("validate", "investment-committee-meeting", "daily-market-analysis", str(DEMO_TASK), str(AGENTS),
            "--agents-dir", str(AGENTS))
    assert r.code == 0, r
    assert "6 files checked: 6 valid, 0 invalid" in r.out
    assert "task cli-demo 1.2.0, 4 phases" in r.out


@pytest.mark.errors
def test_validate_reports_every_problem_with_file_and_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(BAD_TASK)
    r = cli("validate", str(bad))
    assert r.code == 1, r
    assert f"{bad}:6: error: retry.maxAttempts" in r.out
    assert f"{bad}:10: error: unknown key 'dependson'" in r.out
    assert "did you mean 'dependsOn'" in r.out
    assert f"{bad}:13: error: " in r.out
    assert "'agentt'" in r.out
    assert "Traceback" not in r.out + r.err


@pytest.mark.errors
def test_validate_checks_agent_files_too(cli: Cli, tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "bad-agent.md").write_text(BAD_AGENT)
    r = cli("validate", str(agents), "--json")
    assert r.code == 1, r
    [checked] = r.json()
    assert checked["kind"] == "agent"
    assert checked["valid"] is False
    assert all(p["source"] == str(agents / "bad-agent.md") for p in checked["problems"])
    assert [p["line"] for p in checked["problems"]] == [2, 3, 4]  # in line order
    assert "API keys never belong in agent files" in checked["problems"][2]["message"]
    assert "sk-do-not-put-keys-here" not in r.out


@pytest.mark.errors
def test_validate_usage_errors_exit_2(cli: Cli) -> None:
    missing = cli("validate", "no-such-task")
    assert missing.code == 2, missing
    assert missing.err.startswith("error: cannot validate: no task named 'no-such-task'")
    assert "investment-committee-meeting" in missing.err  # where it looked / what exists
    no_args = cli("validate")
    assert no_args.code == 2
    assert "Missing argument" in no_args.err


def test_validate_strict_turns_warnings_into_failures(cli: Cli, tmp_path: Path) -> None:
    warned = tmp_path / "warned.md"
    warned.write_text(DEMO_TASK.read_text().replace("- agent: chair - Decide on {{ input.ticker }}",
                                                    "- custom-thing: go"))
    lenient = cli("validate", str(warned), "--agents-dir", str(AGENTS))
    assert lenient.code == 0, lenient
    assert "warning" in lenient.out
    strict = cli("validate", str(warned), "--agents-dir", str(AGENTS), "--strict")
    assert strict.code == 1, strict


def test_list_shows_builtin_and_directory_tasks(cli: Cli) -> None:
    r = cli("list", "--tasks-dir", str(DEMO_TASK.parent))
    assert r.code == 0, r
    for name in ("investment-committee-meeting", "daily-market-analysis", "cli-demo"):
        assert name in r.out
    assert "Two analysts, an optional phase" in r.out
    rows = {row["name"]: row for row in cli("list", "--tasks-dir", str(DEMO_TASK.parent), "--json").json()}
    assert rows["cli-demo"]["version"] == "1.2.0"
    assert rows["cli-demo"]["phases"] == 4
    assert rows["investment-committee-meeting"]["phases"] == 8  # seven, and the optional sign-off


def test_graph_prints_mermaid_with_the_critical_path(cli: Cli) -> None:
    r = cli("graph", "cli-demo", "--tasks-dir", str(DEMO_TASK.parent))
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    p0["Intake"]' in lines
    assert "    p0 --> p1" in lines
    # Intake -> Analysis -> Verdict (file order breaks the tie with Deep Dive)
    assert "    class p0,p1,p3 critical" in lines
    plain = cli("graph", str(DEMO_TASK), "--no-critical")
    assert "critical" not in plain.out


@pytest.mark.errors
def test_unknown_task_is_a_usage_error_without_traceback(cli: Cli) -> None:
    r = cli("graph", "investment-comittee-meeting")
    assert r.code == 2, r
    assert r.err.startswith("error: ")
    assert "did you mean 'investment-committee-meeting'" in r.err
    assert "Traceback" not in r.err


def test_list_warns_about_task_files_that_do_not_load(cli: Cli, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "bad-task.md").write_text(BAD_TASK)
    (tasks / "cli-demo.md").write_text(DEMO_TASK.read_text())
    r = cli("list", "--tasks-dir", str(tasks))
    assert r.code == 0, r
    assert "cli-demo" in r.out
    assert "bad-task" not in r.out
    assert f"warning: {tasks / 'bad-task.md'} does not load" in r.err
    assert f"quorum validate {tasks / 'bad-task.md'}" in r.err
