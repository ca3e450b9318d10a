"""``quorum show`` of a running execution: no ETA on a task's first run, an ETA on the second."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli

pytestmark = pytest.mark.integration


def _running_after_analysis(cli: Cli) -> tuple[str, subprocess.Popen[str], dict[str, Any]]:
    """Start a slow run in the background; its id and ``show --json`` once its Analysis phase ended."""
    before = cli.newest_id()
    proc = cli.popen("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS), "--plain",
                     env={"QUORUM_TEST_DELAY": "4"})
    cli.wait_for(lambda: cli.newest_id() not in (None, before), what="the run to be recorded")
    execution_id = cli.newest_id()
    assert execution_id is not None

    seen: dict[str, Any] = {}

    def analysis_done() -> bool:
        shown = cli("show", execution_id, "--json")
        if shown.code != 0:
            return False
        seen.update(shown.json())
        return bool(seen["phases"].get("Analysis", {}).get("status") == "completed")

    try:
        cli.wait_for(analysis_done, timeout=30, what="phase Analysis to end")
    except BaseException:
        _finish(proc, kill=True)
        raise
    return execution_id, proc, seen


def _finish(proc: subprocess.Popen[str], *, kill: bool = False) -> int:
    if kill:
        proc.kill()
    proc.communicate(timeout=60)
    return proc.returncode


def test_show_says_there_is_no_history_then_shows_an_eta_on_the_second_run(tmp_path: Path) -> None:
    cli = Cli.in_folder(tmp_path)
    first, proc, as_json = _running_after_analysis(cli)
    assert as_json["status"] == "running"
    assert "eta" not in as_json
    assert "no completed run" in as_json["eta_note"]
    try:
        shown = cli("show", first)
    finally:
        assert _finish(proc) == 0
    assert shown.code == 0, shown
    assert "no ETA: no completed run of this task version" in shown.out

    second, proc, as_json = _running_after_analysis(cli)
    try:
        shown = cli("show", second)
    finally:
        assert _finish(proc) == 0
    assert shown.code == 0, shown
    line = next(line for line in shown.out.splitlines() if line.startswith("eta"))
    assert "ETA " in line
    assert "(p95 " in line
    assert "after Analysis, from 1 past run" in line
    assert as_json["status"] == "running"
    assert as_json["eta"]["basis"] == 1
    assert as_json["eta"]["boundary"] == "Analysis"
    assert as_json["eta"]["finish_at"] > as_json["started_at"]
    done = cli("show", second, "--json").json()
    assert "eta" not in done  # it has ended: nothing to predict
