"""``quorum resume <id> --upgrade-to``: unchanged phases keep their results, changed phases and all
downstream run again — counted on the agents' side (a ledger each call writes to)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.cli.helpers import Cli
from tests.versioning.cli_helpers import AGENTS, ledger_cli, write_task

pytestmark = [pytest.mark.integration, pytest.mark.slow]

V12 = """\
## Phase: Gather
### Agents
- alpha
### Steps
- gather

## Phase: Weigh
dependsOn: [Gather]
### Agents
- beta
### Steps
- weigh

## Phase: Side
### Agents
- gamma
### Steps
- side

## Phase: Decide
dependsOn: [Weigh, Side]
### Agents
- holder
### Steps
- decide
"""

V13 = V12.replace("- weigh\n", "- weigh carefully\n") + """
## Phase: Report
dependsOn: [Decide]
### Agents
- alpha
### Steps
- report
"""


def _ledger(cli: Cli) -> list[str]:
    path = Path(cli.env["QUORUM_TEST_LEDGER"])
    return path.read_text().splitlines() if path.exists() else []


def _kill_when_deciding(cli: Cli, *args: str) -> None:
    """Run ``quorum <args>`` until the Decide phase's agent is called, then kill -9 it."""
    proc = cli.popen(*args)
    cli.wait_for(lambda: "Decide/holder" in _ledger(cli), what="Decide's call", timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def test_upgrade_reruns_exactly_the_changed_phases_and_their_dependents(tmp_path: Path) -> None:
    cli = ledger_cli(tmp_path)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_task(tasks, "1.2.0", V12)
    hold = tmp_path / "hold"
    hold.touch()
    cli.env["QUORUM_TEST_HOLD"] = str(hold)
    dirs = ("--tasks-dir", str(tasks), "--agents-dir", str(AGENTS))
    _kill_when_deciding(cli, "run", "committee", *dirs)
    execution_id = cli.newest_id()
    assert execution_id is not None
    assert sorted(_ledger(cli)) == ["Decide/holder", "Gather/alpha", "Side/gamma", "Weigh/beta"]
    write_task(tasks, "1.3.0", V13)

    dry = cli("resume", execution_id, "--upgrade-to", "1.3.0", "--dry-run", *dirs)
    assert dry.code == 0, dry
    assert dry.out.splitlines() == [
        "upgrade committee 1.2.0 -> 1.3.0",
        "  keeps the results of: Gather, Side",
        "  runs again: Weigh (changed: steps)",
        "  runs (new in 1.3.0): Report",
        "  runs (not settled yet): Decide (changed: starts afresh)",
        "dry run: nothing was changed",
    ]
    as_json = cli("resume", execution_id, "--upgrade-to", "^1", "--dry-run", "--json", *dirs).json()
    assert as_json["upgrade"]["rerun"] == ["Weigh"]
    assert as_json["upgrade"]["to"] == "1.3.0"
    assert cli.status(execution_id) == "running"  # the dry run took nothing over
    missing = cli("resume", execution_id, "--upgrade-to", "1.9", *dirs)
    assert missing.code == 2, missing
    assert "task 'committee' has no version matching '1.9'; versions: 1.3.0 (default), 1.2.0" in missing.err
    other = write_task(tmp_path, "1.0.0", V12, name="other")
    wrong = cli("resume", execution_id, "--upgrade-to", str(other), *dirs)
    assert wrong.code == 1, wrong
    assert "it runs task 'committee', and 'other' is another task" in wrong.err
    assert "Traceback" not in missing.err + wrong.err

    # The upgrade itself; it is killed again while Decide runs under 1.3.0.
    Path(cli.env["QUORUM_TEST_LEDGER"]).write_text("")
    _kill_when_deciding(cli, "resume", execution_id, "--upgrade-to", "1.3.0", *dirs)
    assert sorted(_ledger(cli)) == ["Decide/holder", "Weigh/beta"]  # Gather and Side were kept

    # A plain resume goes on with 1.3.0 (recorded with the execution): only what is left runs.
    Path(cli.env["QUORUM_TEST_LEDGER"]).write_text("")
    hold.unlink()
    done = cli("resume", execution_id, "--json", *dirs)
    assert done.code == 0, done
    assert done.json()["status"] == "completed"
    assert _ledger(cli) == ["Decide/holder", "Report/alpha"]  # Decide was in flight; Weigh is kept now
    events = cli("show", execution_id, "--events", "--json").json()["events"]
    [upgrade] = [e for e in events if e["type"] == "checkpoint:created" and "upgrade" in e["data"]]
    assert upgrade["data"]["label"] == "upgrade:1.2.0->1.3.0"

    # A fork starts from the definition the execution runs now (1.3.0, which has Report).
    Path(cli.env["QUORUM_TEST_LEDGER"]).write_text("")
    forked = cli("fork", execution_id, "--rerun", "Report", "--json", *dirs)
    assert forked.code == 0, forked
    assert _ledger(cli) == ["Report/alpha"]


@pytest.mark.errors
def test_upgrade_refusals_are_clear(tmp_path: Path) -> None:
    cli = ledger_cli(tmp_path)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_task(tasks, "1.2.0", V12.replace("- holder", "- alpha"))
    dirs = ("--tasks-dir", str(tasks), "--agents-dir", str(AGENTS))
    finished = cli("run", "committee", "--json", *dirs)
    assert finished.code == 0, finished
    execution_id = finished.json()["id"]
    ended = cli("resume", execution_id, "--upgrade-to", "1.2.0", *dirs)
    assert ended.code == 1
    assert f"execution {execution_id} already ended as completed" in ended.err
    unknown = cli("resume", execution_id, "--dry-run", *dirs)
    assert unknown.code == 2
    assert "--dry-run goes with --upgrade-to" in unknown.err
    assert "Traceback" not in ended.err + unknown.err
