"""``quorum list`` with versions, ``quorum run name@version``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import Cli
from tests.versioning.cli_helpers import AGENTS, ledger_cli, write_task

pytestmark = [pytest.mark.integration]

ONE_PHASE = "## Phase: A\n### Agents\n- alpha\n### Steps\n- hello from {version}\n### Outputs\n- v: it\n"


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir()
    for version in ("1.1.0", "1.2.0", "2.0.0-rc.1"):
        write_task(folder, version, ONE_PHASE.format(version=version))
    return folder


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return ledger_cli(tmp_path)


def test_list_shows_every_version_and_the_default(cli: Cli, tasks: Path) -> None:
    r = cli("list", "--tasks-dir", str(tasks))
    assert r.code == 0, r
    lines = [line.split() for line in r.out.splitlines() if line.startswith("committee")]
    assert [line[1:3] for line in lines] == [["2.0.0-rc.1", "1"], ["1.2.0", "(default)"], ["1.1.0", "1"]]
    rows = [row for row in cli("list", "--tasks-dir", str(tasks), "--json").json()
            if row["name"] == "committee"]
    assert [(row["version"], row["default"]) for row in rows] == [("2.0.0-rc.1", False), ("1.2.0", True),
                                                                  ("1.1.0", False)]
    assert "investment-committee-meeting" in r.out  # the built-in tasks are still listed


def test_list_one_task_with_its_versions(cli: Cli, tasks: Path) -> None:
    r = cli("list", "committee", "--versions", "--tasks-dir", str(tasks), env={"COLUMNS": "300"})
    assert r.code == 0, r
    assert "investment-committee-meeting" not in r.out
    assert f"1.2.0 (default)        1   {tasks / 'committee@1.2.0.md'}" in r.out
    assert str(tasks / "committee@1.1.0.md") in r.out
    missing = cli("list", "nope", "--tasks-dir", str(tasks))
    assert missing.code == 2
    assert "no task named 'nope'" in missing.err


@pytest.mark.parametrize(("selector", "version"), [("committee", "1.2.0"), ("committee@1.1", "1.1.0"),
                                                   ("committee@^1", "1.2.0"), ("committee@2", "2.0.0-rc.1")])
def test_run_a_version(cli: Cli, tasks: Path, selector: str, version: str) -> None:
    r = cli("run", selector, "--tasks-dir", str(tasks), "--agents-dir", str(AGENTS), "--json")
    assert r.code == 0, r
    assert r.json()["verdict"] == {"v": f"alpha: hello from {version}"}


def test_run_an_unknown_version_lists_the_versions(cli: Cli, tasks: Path) -> None:
    r = cli("run", "committee@1.3", "--tasks-dir", str(tasks), "--agents-dir", str(AGENTS))
    assert r.code != 0
    assert "task 'committee' has no version matching '1.3'; versions: 2.0.0-rc.1, 1.2.0 (default), 1.1.0" \
        in r.err
    assert "Traceback" not in r.err
