"""``quorum history``, ``show``, ``export`` and ``prune`` over a real SQLite history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .helpers import Cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Two runs, made once for the module (four ``quorum`` processes fewer per test): the history file
    and the two execution ids, first and second."""
    cli = Cli.in_folder(tmp_path_factory.mktemp("recorded"))
    first = cli.run_demo("--json").json()["id"]
    second = cli("run", "daily-market-analysis", "question=Is BTC overbought?", "--json").json()["id"]
    return cli.db, first, second


@pytest.fixture
def two_runs(cli: Cli, recorded: tuple[Path, str, str]) -> tuple[str, str]:
    """The two runs in this test's own history (a copy: ``prune`` may delete from it)."""
    db, first, second = recorded
    for part in db.parent.glob(db.name + "*"):  # with its -wal and -shm, if SQLite left them
        shutil.copyfile(part, cli.db.with_name(cli.db.name + part.name[len(db.name):]))
    return first, second


def test_history_lists_newest_first_and_filters(cli: Cli, two_runs: tuple[str, str]) -> None:
    first, second = two_runs
    rows = cli("history", "--json").json()
    assert [r["id"] for r in rows] == [second, first]
    assert {r["status"] for r in rows} == {"completed"}
    only = cli("history", "--task", "cli-demo", "--json").json()
    assert [r["id"] for r in only] == [first]
    table = cli("history")
    assert table.code == 0
    assert first in table.out
    assert "daily-market-analysis" in table.out
    assert cli("history", "--status", "bogus").code == 2


def test_show_gives_timeline_phases_outputs_and_verdict(cli: Cli, two_runs: tuple[str, str]) -> None:
    first, _ = two_runs
    r = cli("show", first[:6])
    assert r.code == 0, r
    for heading in ("Timeline", "Phases", "Outputs of Analysis", "Verdict"):
        assert heading in r.out
    assert "phase:skipped" in r.out
    assert "Deep Dive" in r.out
    assert "condition false" in r.out
    assert "APPROVE_WITH_CONDITIONS" in r.out
    assert "riskTolerance" in r.out  # inputs keep their own names
    data = cli("show", first, "--json").json()
    assert data["status"] == "completed"
    assert data["phases"]["Analysis"]["outputs"] == {"stance": "bullish"}
    assert data["phases"]["Analysis"]["agents"] == ["analyst-a", "analyst-b"]
    assert data["phases"]["Deep Dive"]["status"] == "skipped"
    assert all(e["type"] != "agent:start" for e in data["events"])  # the timeline, not every event
    every = cli("show", first, "--events", "--json").json()["events"]
    assert [e["sequence"] for e in every] == list(range(1, len(every) + 1))


@pytest.mark.errors
def test_show_unknown_id(cli: Cli, two_runs: tuple[str, str]) -> None:
    r = cli("show", "ffffffffffff")
    assert r.code == 1
    assert "no execution with id 'ffffffffffff'" in r.err
    assert f"history: {cli.db}" in r.err


def test_export_json_and_annotated_markdown(cli: Cli, two_runs: tuple[str, str]) -> None:
    first, _ = two_runs
    exported = cli("export", first).json()
    assert exported["id"] == first
    assert any(e["type"] == "agent:response" for e in exported["events"])  # the full journal
    out = cli.cwd / "report.md"
    r = cli("export", first, "--format", "markdown", "-o", str(out))
    assert r.code == 0, r
    md = out.read_text()
    assert md.startswith("# CLI demo\n")
    assert f"- execution: `{first}`" in md
    # each phase section is followed by its run annotation, in document order
    analysis = md.index("## Phase: Analysis")
    annotation = md.index("> **Run:** **completed**", analysis)
    assert annotation < md.index("## Phase: Deep Dive")
    assert "#### Outputs of Analysis" in md
    assert "> skipped: condition false: input.extended" in md
    verdict = md[md.index("## Verdict"):]
    assert "- **Decision**: APPROVE_WITH_CONDITIONS" in verdict
    assert '"reason": "valuation"' in verdict  # nested values as JSON blocks
    assert "```yaml" in md  # the task document itself is kept


def test_prune_keeps_the_newest(cli: Cli, two_runs: tuple[str, str]) -> None:
    _, second = two_runs
    assert cli("prune").code == 2  # says what to prune
    r = cli("prune", "--keep", "1", "--json")
    assert r.code == 0, r
    assert json.loads(r.out) == {"deleted": 1}
    assert [row["id"] for row in cli("history", "--json").json()] == [second]
    assert cli("prune", "--older-than", "30d").out.startswith("deleted 0 executions")
    assert cli("prune", "--older-than", "soon").code == 2
