"""The tree of executions: ``quorum show`` (text and --json) and ``GET /executions/{id}/children``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from quorum.agents.protocol import AgentRequest
from quorum.cli.history_view import build_view, children_lines
from quorum.engine.children import child_execution_id
from quorum.engine.executor import TaskExecutor
from quorum.engine.tree import execution_tree, tree_lines
from quorum.errors import QuorumError
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.server import routes_children
from quorum.server.problems import problem_for_exception
from quorum.testing import ScriptedAgent, make_manager

from ..cli.helpers import Cli
from .helpers import parent, reviewer_answer, ticker_of, write_tasks

GRANDPARENT = """# Desk

```yaml
name: desk
version: 2.0.0
retry: {maxAttempts: 1}
requirements:
  tickers: {type: list}
```

## Phase: Books
### Steps
- task: book input.tickers={{ input.tickers }}
"""


async def _run_family(tmp_path: Path, db: Path) -> tuple[str, str, list[str]]:
    """desk -> book -> review x2 (the second review fails); returns (desk id, book id, review ids)."""
    tasks = write_tasks(tmp_path, parent("- task: review foreach=input.tickers input.ticker={{ item }}"))
    (tasks / "desk.md").write_text(GRANDPARENT, encoding="utf-8")

    def decide(request: AgentRequest) -> dict[str, str]:
        ticker = ticker_of(request)
        if ticker == "B":
            raise RuntimeError("no view on B")
        return {"decision": "BUY", "ticker": ticker}

    store = SQLiteHistoryStore(db)
    await store.open()
    try:
        manager = make_manager(reviewer=ScriptedAgent(reviewer_answer), decider=ScriptedAgent(decide))
        async with TaskExecutor(tasks_dir=tasks, agent_manager=manager, history_store=store) as executor:
            result = await executor.execute("desk", {"tickers": ["A", "B"]})
    finally:
        await store.close()
    book = child_execution_id(result.id, "Books", 0, 0, 1)
    reviews = [str(child_execution_id(book, "Children", 0, i, 1)) for i in range(2)]
    return str(result.id), str(book), reviews


async def test_the_tree_holds_children_and_grandchildren_with_their_status(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    desk, book, reviews = await _run_family(tmp_path, db)
    store = SQLiteHistoryStore(db)
    await store.open()
    try:
        tree = await execution_tree(store, desk)
        assert tree is not None
        assert (tree.id, tree.task, tree.version, tree.status) == (desk, "desk", "2.0.0", "failed")
        (child,) = tree.children
        assert (child.id, child.task, child.status, child.phase, child.step, child.index) == (
            book, "book", "failed", "Books", 0, None)
        assert [(g.id, g.status, g.index) for g in child.children] == [
            (reviews[0], "completed", 0), (reviews[1], "failed", 1)]
        lines = tree_lines(tree)
        assert lines[0].startswith(f"{desk}  desk 2.0.0  failed  phase 'Books' failed: child execution ")
        assert lines[1].startswith(f"└── {book}  book 1.0.0  failed  (Books step 0)  phase 'Children' failed")
        assert lines[2] == f"    ├── {reviews[0]}  review 1.0.0  completed  (Children step 0, #0)"
        assert lines[3].startswith(f"    └── {reviews[1]}  review 1.0.0  failed  (Children step 0, #1)  ")
        assert "no view on B" in lines[3]
        # what the journal alone says (quorum show without the store's tree): the children, one level
        record = await store.get_execution(book)
        assert record is not None
        view = build_view(record, await store.read_journal(book))
        assert [(c.id, c.status) for c in view.children] == [
            (reviews[0], "completed"), (reviews[1], "failed")]
        assert children_lines(view)[0].startswith(f"{book}  book 1.0.0  failed")
        assert view.to_dict()["children"][1]["id"] == reviews[1]
    finally:
        await store.close()


def test_quorum_show_json_lists_the_children(tmp_path: Path) -> None:
    cli = Cli.in_folder(tmp_path)
    desk, book, reviews = asyncio.run(_run_family(tmp_path, cli.db))
    shown = cli("show", book, "--json")
    assert shown.code == 0, shown
    children = shown.json()["children"]
    assert [(c["id"], c["task"], c["status"], c["index"]) for c in children] == [
        (reviews[0], "review", "completed", 0), (reviews[1], "review", "failed", 1)]
    text = cli("show", book)
    assert text.code == 0, text
    assert "child:started" in text.out
    assert "child:ended" in text.out
    assert f"review {reviews[1]} #1 failed" in text.out  # the timeline names the child
    tree = text.out[text.out.index("Executions"):text.out.index("Verdict")]
    assert f"├── {reviews[0]}  review" in tree
    assert "completed" in tree
    assert f"└── {reviews[1]}  review" in tree
    assert "failed" in tree
    assert shown.json()["parent_id"] == desk
    child = cli("show", reviews[0], "--json")
    assert child.json()["parent_id"] == book


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, tuple[str, str, list[str]]]]:
    """The children router on a real loopback server (uvicorn), over a SQLite history."""
    db = tmp_path / "h.db"
    family = await _run_family(tmp_path, db)
    store = SQLiteHistoryStore(db)
    await store.open()
    app = FastAPI()
    app.state.runtime = SimpleNamespace(store=store)
    app.include_router(routes_children.router, prefix="/api/v1")
    for kind in (QuorumError, Exception):
        app.add_exception_handler(kind, problem_for_exception)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn says it has started only by this flag
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client, family
    finally:
        server.should_exit = True
        await serving
        await store.close()


async def test_the_api_returns_the_tree(api: tuple[httpx.AsyncClient, tuple[str, str, list[str]]]) -> None:
    client, (desk, book, reviews) = api
    answer = await client.get(f"/api/v1/executions/{desk}/children")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["id"], body["task"], body["version"], body["status"]) == (desk, "desk", "2.0.0", "failed")
    (child,) = body["children"]
    assert (child["id"], child["phase"], child["step"], child["index"]) == (book, "Books", 0, None)
    assert [(g["id"], g["status"], g["index"]) for g in child["children"]] == [
        (reviews[0], "completed", 0), (reviews[1], "failed", 1)]
    shallow = (await client.get(f"/api/v1/executions/{desk}/children", params={"depth": 1})).json()
    assert shallow["children"][0]["children"] == []
    by_prefix = await client.get(f"/api/v1/executions/{book[:8]}/children")
    assert by_prefix.status_code == 200
    assert by_prefix.json()["id"] == book


async def test_the_api_answers_an_unknown_id_and_a_bad_depth_with_problems(
    api: tuple[httpx.AsyncClient, tuple[str, str, list[str]]],
) -> None:
    client, _ = api
    missing = await client.get("/api/v1/executions/ffffffffffffffff/children")
    assert missing.status_code == 404
    assert "ffffffffffffffff" in missing.json()["detail"]
    bad = await client.get("/api/v1/executions/x/children", params={"depth": 99})
    assert bad.status_code == 422
