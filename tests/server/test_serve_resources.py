"""Tasks, listing with filters and cursor paging, errors worded as the CLI words them, and the stream of
every execution's events."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli.helpers import DEMO_TASK, Cli

from .serving import Server, SseMessage, sse_messages, start_demo, wait_status

pytestmark = pytest.mark.integration

Serve = Callable[..., Server]

BAD_TASK = """# Broken

```yaml
name: broken
requirements:
  ticker: strung
```

## Phase: One
dependsOn: [Nowhere]

### Steps
- agent: nobody - hello
"""


def test_tasks_listed_and_described_with_a_json_schema_graph_and_critical_path(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        names = [t["name"] for t in client.get("/tasks").json()]
        demo = client.get("/tasks/cli-demo").json()
        missing = client.get("/tasks/no-such-task")
        path = client.get("/tasks/..%2F..%2Fetc%2Fpasswd")
    assert "cli-demo" in names
    schema = demo["requirements"]
    assert schema["type"] == "object"
    assert schema["required"] == ["ticker", "amount", "riskTolerance"]
    assert schema["properties"]["amount"] == {"type": "number", "description": "Amount in USD", "minimum": 1}
    assert schema["properties"]["riskTolerance"]["enum"] == ["low", "medium", "high"]
    assert schema["properties"]["extended"] == {"type": "boolean", "default": False}
    assert demo["graph"] == {"Intake": [], "Analysis": ["Intake"], "Deep Dive": ["Intake"],
                             "Verdict": ["Analysis", "Deep Dive"]}
    assert demo["critical_path"][0] == "Intake"
    assert demo["critical_path"][-1] == "Verdict"
    assert "source" not in demo["definition"]
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "no-such-task" in missing.json()["detail"]
    assert path.status_code in (404, 422)


def test_validate_lists_every_problem_with_its_line(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        bad = client.post("/tasks/validate", json={"markdown": BAD_TASK, "source": "broken.md"}).json()
        good = client.post("/tasks/validate", json={"markdown": DEMO_TASK.read_text()}).json()
    assert bad["valid"] is False
    errors = [p for p in bad["problems"] if p["severity"] == "error"]
    assert len(errors) >= 2
    assert all(p["line"] is not None and p["text"].startswith(f"broken.md:{p['line']}: ") for p in errors)
    assert any("Nowhere" in p["message"] for p in errors)
    assert good == {"valid": True, "task": "cli-demo", "problems": good["problems"]}


def test_a_bad_start_is_refused_with_every_problem_and_the_clis_words(serve: Serve, cli: Cli) -> None:
    server = serve()
    with server.client() as client:
        bad = client.post("/executions", json={"task": "cli-demo",
                                               "input": {"ticker": "BTC", "amount": 0, "riskTolerance": "x"}})
        unknown = client.post("/executions", json={"task": "no-such-task", "input": {}})
        as_path = client.post("/executions", json={"task": "/etc/passwd", "input": {}})
        shape = client.post("/executions", json={"task": 3, "surprise": True})
        no_such = client.get("/executions/ffffffffffff")
        status = client.get("/executions", params={"status": "sleeping"})
        cursor = client.get("/executions", params={"cursor": "not-a-cursor"})
        since = client.get("/executions", params={"since": "yesterday-ish"})
        listed = client.get("/executions").json()
    assert bad.status_code == 422
    body = bad.json()
    assert body["detail"] == "invalid input for task 'cli-demo'"
    assert len(body["errors"]) == 2
    assert any(e.startswith("amount:") for e in body["errors"])
    assert any(e.startswith("riskTolerance:") for e in body["errors"])
    assert listed["items"] == []  # nothing was started
    cli_run = cli("run", str(DEMO_TASK), "ticker=BTC", "amount=0", "riskTolerance=x")
    assert cli_run.code == 2, cli_run
    for problem in body["errors"]:  # the same words as the terminal's
        assert f"- {problem}" in cli_run.err
    assert unknown.status_code == 404
    assert "no-such-task" in unknown.json()["detail"]
    assert as_path.status_code == 422
    assert "give a task name" in as_path.json()["detail"]
    assert shape.status_code == 422
    assert len(shape.json()["errors"]) == 2
    assert no_such.status_code == 404
    assert no_such.json()["detail"] == "no execution with id 'ffffffffffff'"
    assert status.status_code == 400
    assert "unknown status 'sleeping'" in status.json()["detail"]
    assert cursor.status_code == 400
    assert since.status_code == 400
    assert "bad since 'yesterday-ish'" in since.json()["detail"]


def test_listing_pages_newest_first_by_cursor_with_filters(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        started = [start_demo(client) for _ in range(7)]
        for execution_id in started:
            wait_status(client, execution_id, ("completed",))
        seen: list[str] = []
        pages = 0
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 3}
            if cursor is not None:
                params["cursor"] = cursor
            page = client.get("/executions", params=params).json()
            seen.extend(i["id"] for i in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        by_status = client.get("/executions", params={"status": "failed"}).json()
        by_task = client.get("/executions", params={"task": "cli-demo", "since": "1h"}).json()
        future = client.get("/executions", params={"since": "2999-01-01T00:00:00+00:00"}).json()
        demo_version = client.get("/tasks/cli-demo").json()["version"]
        by_version = client.get("/executions", params={"task": f"cli-demo@{demo_version}"}).json()
        other_major = int(demo_version.split(".")[0]) + 1
        by_other_version = client.get("/executions", params={"task": f"cli-demo@^{other_major}"}).json()
        bad_selector = client.get("/executions", params={"task": "cli-demo@one.two"})
    assert seen == list(reversed(started))
    assert len(by_version["items"]) == 7
    assert all(i["task_version"] == demo_version and len(i["task_hash"]) >= 12 and i["parent_id"] is None
               for i in by_version["items"])
    assert by_other_version["items"] == []
    assert bad_selector.status_code == 400
    assert bad_selector.json()["detail"].startswith("task: ")
    assert pages == 3
    assert by_status["items"] == []
    assert len(by_task["items"]) == 7
    assert future["items"] == []


def test_the_stream_of_all_executions_carries_each_ones_events(serve: Serve) -> None:
    server = serve(delay="0.2")
    got: list[SseMessage] = []
    with server.client() as client, client.stream("GET", "/events") as response:
        assert response.status_code == 200
        first = start_demo(client)
        second = start_demo(client)
        ended: set[str] = set()
        for message in sse_messages(response):
            if message is None:
                continue
            got.append(message)
            if message.event == "execution:complete":
                ended.add(message.data["execution_id"])
            if ended == {first, second}:
                break
    for execution_id in (first, second):
        mine = [m for m in got if m.data["execution_id"] == execution_id]
        assert [m.id for m in mine] == [f"{execution_id}:{i}" for i in range(1, len(mine) + 1)]
