"""``quorum fork`` from the history, and ``quorum recover`` explaining an execution it cannot resume."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from .helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli

pytestmark = pytest.mark.integration


def _phases_started(cli: Cli, execution_id: str) -> list[str]:
    events = cli("show", execution_id, "--events", "--json").json()["events"]
    return [str(e["phase"]) for e in events if e["type"] == "phase:start"]


def test_fork_from_a_checkpoint_of_a_recorded_execution(cli: Cli) -> None:
    first = cli.run_demo("--json")
    assert first.code == 0, first
    first_id = first.json()["id"]

    forked = cli("fork", first_id[:10], "--checkpoint", "Analysis", "--agents-dir", str(AGENTS), "--json")
    assert forked.code == 0, forked
    result = forked.json()
    assert result["status"] == "completed"
    assert result["id"] != first_id
    assert _phases_started(cli, result["id"]) == ["Verdict"]  # Intake and Analysis from the checkpoint
    assert result["verdict"] == first.json()["verdict"]
    assert cli.status(first_id) == "completed"  # the source is left as it was

    everything = cli("fork", first_id, "--agents-dir", str(AGENTS), "--json")
    assert everything.code == 0, everything
    assert _phases_started(cli, everything.json()["id"]) == []

    rerun = cli("fork", first_id, "--rerun", "Analysis", "--agents-dir", str(AGENTS), "--json")
    assert rerun.code == 0, rerun
    assert _phases_started(cli, rerun.json()["id"]) == ["Analysis", "Verdict"]


@pytest.mark.errors
def test_fork_from_an_unknown_checkpoint_or_execution_fails_clearly(cli: Cli) -> None:
    first = cli.run_demo("--json")
    first_id = first.json()["id"]
    bad = cli("fork", first_id, "--checkpoint", "Nope", "--agents-dir", str(AGENTS))
    assert bad.code == 2, bad
    assert f"error: execution {first_id} has no checkpoint 'Nope'" in bad.err
    assert "Analysis (" in bad.err
    assert "Verdict (" in bad.err
    assert "Traceback" not in bad.err
    missing = cli("fork", "zzzz")
    assert missing.code == 1
    assert "no execution with id 'zzzz'" in missing.err


def test_recover_explains_an_execution_whose_task_file_changed_and_marks_it_failed(
    cli: Cli, tmp_path: Path
) -> None:
    task_file = tmp_path / "cli-demo.md"
    shutil.copy(DEMO_TASK, task_file)
    proc = cli.popen("run", str(task_file), *DEMO_INPUT, "--agents-dir", str(AGENTS),
                     env={"QUORUM_TEST_DELAY": "1.5"})
    holder: list[str] = []

    def running() -> bool:
        newest = cli.newest_id()
        if newest is not None and cli.status(newest) == "running":
            holder.append(newest)
            return True
        return False

    cli.wait_for(running, what="the execution to run")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    [execution_id] = holder
    edited = task_file.read_text().replace("- agent: chair - Decide on", "- agent: chair - Rule on")
    task_file.write_text(edited)

    r = cli("recover", "--agents-dir", str(AGENTS), env={"QUORUM_TEST_DELAY": "0"})
    assert r.code == 1, r
    assert "cannot be resumed: its task file changed" in r.out
    assert f"why: {task_file} differs from the definition it started with" in r.out
    assert "in phase(s) not completed yet:" in r.out
    assert "Verdict" in r.out
    assert "fix: restore the file to resume it, or fork" in r.out
    assert f"quorum fork {execution_id} --task {task_file}" in r.out
    assert "Traceback" not in r.out + r.err
    assert cli.status(execution_id) == "failed"  # not left running for ever
    shown = cli("show", execution_id, "--json").json()
    assert "its task file changed" in str(shown)
    assert "nothing to recover" in cli("recover").out

    # The way on it names: a fork with the edited file keeps what completed and runs the rest.
    forked = cli("fork", execution_id, "--task", str(task_file), "--agents-dir", str(AGENTS), "--json",
                 env={"QUORUM_TEST_DELAY": "0"})
    assert forked.code == 0, forked
    assert forked.json()["status"] == "completed"
    assert "Intake" not in _phases_started(cli, forked.json()["id"])
