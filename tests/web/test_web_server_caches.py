"""What the server keeps between requests so that the dashboard's reads stay cheap, and that it never
shows anything stale: task files parsed once per version (``GET /tasks``, the Tasks pages), and each
journal read once and then only its new events (``GET /executions/{id}``, the page's journal)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.helpers import FIXTURES
from tests.server.serving import Server, start_demo, wait_status

pytestmark = [pytest.mark.integration]

Serve = Callable[..., Server]

SHARED = """\
# Shared phases

## Phase: Intake
### Steps
- validation: input.amount > 0 - the amount must be positive
"""
MORE = SHARED + """
## Phase: Checks
dependsOn: [Intake]
### Steps
- validation: input.amount < 1000000 - the amount must be below a million
"""
MAIN = """\
# Committee

```yaml
name: included-committee
version: 1.0.0
requirements:
  amount: number
```

## Include: shared/common.md

## Phase: Decide
dependsOn: [Intake]
### Steps
- validation: input.amount > 1 - more than one
"""


def _touch_later(path: Path, text: str) -> None:
    """Write and move the mtime on, so that an edit within the file system's clock tick still shows."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    now = max(path.stat().st_mtime_ns, before + 1_000_000)
    os.utime(path, ns=(now, now))


def _listed(client: httpx.Client) -> dict[str, dict[str, Any]]:
    answer = client.get("/tasks")
    assert answer.status_code == 200, answer.text
    return {t["name"]: t for t in answer.json()}


def test_the_task_listing_follows_every_edit_of_a_task_file(serve: Serve, tmp_path: Path) -> None:
    tasks = tmp_path / "own-tasks"
    (tasks / "shared").mkdir(parents=True)
    demo = tasks / "cli-demo.md"
    shutil.copy(FIXTURES / "tasks" / "cli-demo.md", demo)
    (tasks / "shared" / "common.md").write_text(SHARED, encoding="utf-8")
    (tasks / "committee.md").write_text(MAIN, encoding="utf-8")
    server = serve(tasks=tasks)
    with server.client() as client:
        first = _listed(client)
        assert first["included-committee"]["phases"] == 2
        assert _listed(client) == first  # read again from the cache: the same answer

        # an edit of the file itself (the loader's cache is keyed by its mtime, size and inode)
        text = demo.read_text(encoding="utf-8")
        _touch_later(demo, text.replace("description: Two analysts", "description: Three analysts"))
        assert _listed(client)["cli-demo"]["description"].startswith("Three analysts")
        page = client.get(f"{server.url}/tasks")
        assert "Three analysts" in page.text

        # an edit of a file it includes: another phase
        _touch_later(tasks / "shared" / "common.md", MORE)
        assert _listed(client)["included-committee"]["phases"] == 3
        detail = client.get("/tasks/included-committee").json()
        assert detail["graph"]["Checks"] == ["Intake"]

        # a file added, then removed
        _touch_later(tasks / "second.md", MAIN.replace("included-committee", "second-committee"))
        assert "second-committee" in _listed(client)
        (tasks / "second.md").unlink()
        assert "second-committee" not in _listed(client)
        assert client.get("/tasks/second-committee").status_code == 404

        # a file broken by an edit is no longer listed, and listed again once mended
        _touch_later(demo, text.replace("## Phase: Intake", "## Phase: Intake\ndependsOn: [Nowhere]"))
        assert "cli-demo" not in _listed(client)
        _touch_later(demo, text)
        assert _listed(client)["cli-demo"]["description"].startswith("Two analysts")


def _phases(detail: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(p["name"], p["status"], p["answers"], p["attempts"]) for p in detail["phases"]]


@pytest.mark.concurrency
def test_an_execution_read_while_it_runs_matches_a_fresh_read_of_its_journal(serve: Serve) -> None:
    """The first server reads the execution again and again while it runs, eight requests at a time
    (so that reads race to extend the same cached journal); at the end its answers must equal those of
    a second server that reads the finished journal once, from nothing."""
    server = serve(delay="0.15")
    with server.client() as client, ThreadPoolExecutor(8) as pool:
        execution_id = start_demo(client)
        seen: list[int] = []
        while True:
            answers = list(pool.map(lambda _: client.get(f"/executions/{execution_id}"), range(8)))
            assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
            details = [a.json() for a in answers]
            seen += [d["last_sequence"] for d in details]
            if all(d["status"] == "completed" for d in details):
                break
        journal = client.get(f"/web/executions/{execution_id}/journal").json()["events"]
        live = client.get(f"/executions/{execution_id}").json()
        exported = client.get(f"/executions/{execution_id}/export").json()
    assert len(set(seen)) >= 2, "the execution was read at several points of its run"
    sequences = [e["sequence"] for e in journal]
    assert sequences == list(range(1, live["last_sequence"] + 1))  # nothing missed, nothing twice

    fresh = serve()  # another server over the same history: nothing cached
    with fresh.client() as client:
        again = wait_status(client, execution_id, ("completed",))
        assert client.get(f"/web/executions/{execution_id}/journal").json()["events"] == journal
        assert client.get(f"/executions/{execution_id}/export").json() == exported
    assert _phases(live) == _phases(again)
    assert [p["outputs"] for p in live["phases"]] == [p["outputs"] for p in again["phases"]]
    answered = sum(1 for e in journal if e["type"] == "agent:response")
    assert sum(p["answers"] for p in live["phases"]) == answered
