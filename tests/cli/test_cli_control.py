"""``quorum pause|resume|abort <id>`` acting on an execution that runs in another process."""

from __future__ import annotations

import subprocess

import pytest

from .helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli

pytestmark = pytest.mark.integration


def _start(cli: Cli, delay: str) -> tuple[subprocess.Popen[str], str]:
    proc = cli.popen("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS),
                     env={"QUORUM_TEST_DELAY": delay})
    holder: list[str] = []

    def running() -> bool:
        newest = cli.newest_id()
        if newest is not None and cli.status(newest) == "running":
            holder.append(newest)
            return True
        return False

    cli.wait_for(running, what="the execution to run")
    return proc, holder[0]


def test_pause_and_resume_from_a_second_process(cli: Cli) -> None:
    # Each call takes 3 s: the pause (a new CLI process, slow to start on a loaded machine) must land
    # before the run ends (1.5 s was seen to lose that race under a full parallel suite).
    proc, execution_id = _start(cli, "3")
    paused = cli("pause", execution_id[:8], "--wait")  # a unique prefix is enough
    assert paused.code == 0, paused
    assert f"execution {execution_id} is paused" in paused.out
    assert cli.status(execution_id) == "paused"
    assert proc.poll() is None  # the first process waits, paused

    resumed = cli("resume", execution_id)
    assert resumed.code == 0, resumed
    assert "resume requested" in resumed.out
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "execution:paused" in out
    assert "paused from elsewhere" in out
    assert "execution:resumed" in out
    assert "APPROVE_WITH_CONDITIONS" in out
    assert cli.status(execution_id) == "completed"


def test_abort_from_a_second_process(cli: Cli) -> None:
    proc, execution_id = _start(cli, "3")
    aborted = cli("abort", execution_id, "--reason", "wrong inputs", "--wait")
    assert aborted.code == 0, aborted
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, (out, err)
    assert "wrong inputs" in out
    assert cli.status(execution_id) == "aborted"


@pytest.mark.errors
def test_control_of_unknown_or_finished_executions_fails_clearly(cli: Cli) -> None:
    missing = cli("pause", "nope")
    assert missing.code == 1
    assert missing.err.startswith("error: no execution with id 'nope'")
    done = cli.run_demo("--json")
    execution_id = done.json()["id"]
    for command in ("pause", "abort", "resume"):
        r = cli(command, execution_id)
        assert r.code == 1, r
        assert "already" in r.err
        assert "completed" in r.err


def test_recover_takes_over_an_execution_whose_process_died(cli: Cli) -> None:
    import signal

    proc, execution_id = _start(cli, "1")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert cli.status(execution_id) == "running"  # left running by a dead process
    r = cli("recover", "--agents-dir", str(AGENTS), "--json", env={"QUORUM_TEST_DELAY": "0"})
    assert r.code == 0, r
    assert r.json() == [{"id": execution_id, "task": "cli-demo", "status": "completed", "error": None}]
    assert cli.status(execution_id) == "completed"
    again = cli("recover")
    assert again.code == 0
    assert "nothing to recover" in again.out


def test_recover_honours_a_pause_asked_while_the_process_was_dead(cli: Cli) -> None:
    import signal

    proc, execution_id = _start(cli, "1")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    asked = cli("pause", execution_id)
    assert asked.code == 0, asked
    # recover must return (the execution pauses and is left for a later resume), not wait for a resume
    r = cli("recover", "--agents-dir", str(AGENTS), "--json", env={"QUORUM_TEST_DELAY": "0"}, timeout=30)
    assert r.code == 0, r
    [row] = r.json()
    assert (row["id"], row["status"]) == (execution_id, "paused")
    assert cli.status(execution_id) == "paused"
    resumed = cli("resume", execution_id, "--agents-dir", str(AGENTS), env={"QUORUM_TEST_DELAY": "0"})
    assert resumed.code == 0, resumed
    assert cli.status(execution_id) == "completed"


def test_show_follow_tails_an_execution_running_elsewhere(cli: Cli) -> None:
    proc, execution_id = _start(cli, "0.5")
    followed = cli("show", execution_id, "--follow")
    assert followed.code == 0, followed
    tail = followed.out[: followed.out.index("\nexecution ")]  # the tail comes before the full view
    assert "phase:complete      Verdict" in tail
    assert tail.rstrip().splitlines()[-1].split()[1] == "execution:complete"
    assert "Verdict" in followed.out
    proc.communicate(timeout=30)
    assert proc.returncode == 0
