"""The live view on a terminal (a pseudo-terminal), and Ctrl-C: first pauses, second aborts."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from .helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli, PtyRun

pytestmark = pytest.mark.integration

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def _owner(cli: Cli, execution_id: str) -> str | None:
    import sqlite3

    conn = sqlite3.connect(f"{cli.db.as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT owner FROM executions WHERE id = ?", (execution_id,)).fetchone()
    finally:
        conn.close()
    assert row is not None
    return None if row[0] is None else str(row[0])


def _demo(pty_run: Callable[..., PtyRun], delay: str) -> PtyRun:
    return pty_run("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS),
                   env={"QUORUM_TEST_DELAY": delay})


def test_live_view_shows_phases_agents_and_the_verdict(cli: Cli, pty_run: Callable[..., PtyRun]) -> None:
    run = _demo(pty_run, "0.4")
    run.wait_text("agents in flight")  # agents listed while they run, with elapsed time
    code = run.wait()
    assert code == 0, run.text
    text = _plain(run.text)
    assert "\x1b[" in run.text  # it really drew in place, with colours
    assert re.search(r"Analysis / analyst-a\s+\d+\.\ds", text)
    assert re.search(r"↷ Deep Dive\s+.*condition false: input\.extended", text)
    assert re.search(r"✔ Verdict", text)
    assert "completed" in text
    assert "APPROVE_WITH_CONDITIONS" in text
    assert f"full record: quorum show {cli.latest_id()}" in text


def test_ctrl_c_pauses_then_resume_finishes_without_rerunning_calls(
    cli: Cli, pty_run: Callable[..., PtyRun]
) -> None:
    run = _demo(pty_run, "1.0")
    run.wait_text("agents in flight")
    run.ctrl_c()
    code = run.wait()
    text = _plain(run.text)
    assert code == 5, text
    execution_id = cli.latest_id()
    assert f"paused execution {execution_id}" in text
    assert f"quorum resume {execution_id}" in text
    assert cli.status(execution_id) == "paused"
    # It detached cleanly (not a hard exit): the lease is released, so nobody has to wait for it.
    assert _owner(cli, execution_id) is None

    resumed = cli("resume", execution_id, "--agents-dir", str(AGENTS), "--json",
                  env={"QUORUM_TEST_DELAY": "0"})
    assert resumed.code == 0, resumed
    result = resumed.json()
    assert result["status"] == "completed"
    assert result["verdict"]["decision"] == "APPROVE_WITH_CONDITIONS"
    journal = cli("show", execution_id, "--events", "--json").json()["events"]
    starts = [(e["phase"], e["agent"]) for e in journal if e["type"] == "agent:start"]
    # the analysts' calls were in flight at the pause: they finished and were recorded, not re-run
    assert starts.count(("Analysis", "analyst-a")) == 1
    assert starts.count(("Analysis", "analyst-b")) == 1
    assert [e["type"] for e in journal if e["type"].startswith("execution:")] == [
        "execution:start", "execution:paused", "execution:resumed", "execution:complete"]


def test_second_ctrl_c_aborts(cli: Cli, pty_run: Callable[..., PtyRun]) -> None:
    run = _demo(pty_run, "3")
    run.wait_text("agents in flight")
    run.ctrl_c()
    run.wait_text("Ctrl-C again to abort")
    run.ctrl_c()
    code = run.wait()
    text = _plain(run.text)
    assert code == 4, text
    assert "aborted" in text
    execution_id = cli.latest_id()
    assert cli.status(execution_id) == "aborted"
    shown = cli("show", execution_id, "--json").json()
    assert shown["phases"]["Intake"]["status"] == "completed"  # partial results kept
    assert shown["error"]


def test_without_history_ctrl_c_aborts_at_once(cli: Cli, pty_run: Callable[..., PtyRun]) -> None:
    run = pty_run("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS), "--no-history",
                  env={"QUORUM_TEST_DELAY": "3"})
    run.wait_text("agents in flight")
    run.ctrl_c()
    code = run.wait()
    text = _plain(run.text)
    assert code == 4, text
    assert "no history to resume from" in text
    assert not cli.db.exists()
