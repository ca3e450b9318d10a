"""Executions over HTTP against a real ``quorum serve``: start, stream to the end, reconnect with
Last-Event-ID, pause/resume/abort, fork, Ctrl-C; and the same for an execution ``quorum run`` drives
in another process."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli.helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli

from .serving import Server, SseMessage, sse_messages, start_demo, wait_status

pytestmark = pytest.mark.integration

Serve = Callable[..., Server]


def _follow(server: Server, execution_id: str, *, last_event_id: str | None = None,
            stop_after: int | None = None) -> list[SseMessage]:
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    got: list[SseMessage] = []
    with server.client() as client, client.stream("GET", f"/executions/{execution_id}/events",
                                                  headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in sse_messages(response):
            if message is None:
                continue
            got.append(message)
            if stop_after is not None and len(got) >= stop_after:
                break
    return got


def test_an_execution_started_over_http_streams_every_event_to_its_end(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        execution_id = start_demo(client)
        events = _follow(server, execution_id)
        detail = client.get(f"/executions/{execution_id}").json()
    sequences = [int(m.id) for m in events]
    assert sequences == list(range(1, len(events) + 1))  # no gap, no duplicate, in order
    assert all(m.event == m.data["type"] for m in events)  # event name = the quorum event type
    assert events[0].event == "execution:start"
    assert events[-1].event == "execution:complete"
    assert detail["status"] == "completed"
    assert detail["verdict"]["decision"] == "APPROVE_WITH_CONDITIONS"
    phases = {p["name"]: p for p in detail["phases"]}
    assert phases["Verdict"]["outputs"]["decision"] == "APPROVE_WITH_CONDITIONS"
    assert phases["Deep Dive"]["status"] == "skipped"


def test_reconnecting_with_last_event_id_gets_exactly_the_missing_events(serve: Serve) -> None:
    server = serve(delay="0.3")
    with server.client() as client:
        execution_id = start_demo(client)
        first = _follow(server, execution_id, stop_after=4)  # leaves mid-stream
        rest = _follow(server, execution_id, last_event_id=first[-1].id)
        journal = client.get(f"/executions/{execution_id}/export", params={"format": "json"}).json()
    recorded = [e["sequence"] for e in journal["events"]]
    assert [int(m.id) for m in first] == [1, 2, 3, 4]
    assert [int(m.id) for m in first + rest] == recorded
    assert rest[-1].event == "execution:complete"


def test_pause_resume_and_abort_over_http(serve: Serve) -> None:
    server = serve(delay="1")
    with server.client() as client:
        execution_id = start_demo(client)
        wait_status(client, execution_id, ("running",))
        paused = client.post(f"/executions/{execution_id}/pause", json={"reason": "lunch"})
        assert paused.status_code == 200, paused.text
        wait_status(client, execution_id, ("paused",))
        resumed = client.post(f"/executions/{execution_id}/resume")
        assert resumed.status_code == 200, resumed.text
        assert wait_status(client, execution_id, ("completed", "failed"))["status"] == "completed"
        again = client.post(f"/executions/{execution_id}/pause")
        assert again.status_code == 409
        assert f"execution {execution_id} is already completed" in again.json()["detail"]

        other = start_demo(client)
        wait_status(client, other, ("running",))
        aborted = client.post(f"/executions/{other}/abort", json={"reason": "wrong inputs"})
        assert aborted.status_code == 200, aborted.text
        assert wait_status(client, other, ("aborted", "completed"))["status"] == "aborted"
        types = [e["type"] for e in client.get(f"/executions/{execution_id}/export").json()["events"]]
    assert "execution:paused" in types
    assert "execution:resumed" in types


def test_fork_from_a_checkpoint_over_http(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        source = start_demo(client)
        wait_status(client, source, ("completed",))
        forked = client.post(f"/executions/{source}/fork", json={"checkpoint": "Analysis"})
        assert forked.status_code == 201, forked.text
        fork_id = forked.json()["id"]
        assert fork_id != source
        done = wait_status(client, fork_id, ("completed", "failed"))
        missing = client.post(f"/executions/{source}/fork", json={"checkpoint": "Nowhere"})
    assert done["status"] == "completed"
    assert done["verdict"]["decision"] == "APPROVE_WITH_CONDITIONS"
    assert missing.status_code == 400
    assert f"execution {source} has no checkpoint 'Nowhere'" in missing.json()["detail"]


def test_an_execution_run_by_another_process_is_seen_streamed_and_steered(cli: Cli, serve: Serve) -> None:
    server = serve()
    proc = cli.popen("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS),
                     env={"QUORUM_TEST_DELAY": "1"})
    try:
        with server.client() as client:
            cli.wait_for(lambda: (cli.newest_id() is not None
                                  and cli.status(cli.newest_id() or "") == "running"), what="quorum run")
            execution_id = cli.newest_id()
            assert execution_id is not None
            listed = client.get("/executions").json()["items"]
            assert [i["id"] for i in listed] == [execution_id]
            assert listed[0]["driven_here"] is False
            paused = client.post(f"/executions/{execution_id}/pause")
            assert paused.status_code == 200, paused.text
            assert "the process driving it" in paused.json()["detail"]
            wait_status(client, execution_id, ("paused",))
            resumed = client.post(f"/executions/{execution_id}/resume")
            assert resumed.status_code == 200, resumed.text
            events = _follow(server, execution_id)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, err)
    assert [int(m.id) for m in events] == list(range(1, len(events) + 1))
    assert {"execution:paused", "execution:resumed"} <= {m.event for m in events}
    assert events[-1].event == "execution:complete"


def test_ctrl_c_leaves_the_executions_it_drives_paused_and_resumable(cli: Cli, serve: Serve) -> None:
    server = serve(delay="1")
    with server.client() as client:
        execution_id = start_demo(client)
        wait_status(client, execution_id, ("running",))
    assert server.interrupt() == 0, server.output()
    assert cli.status(execution_id) == "paused"
    again = serve()  # a new server takes it over from its journal
    with again.client() as client:
        resumed = client.post(f"/executions/{execution_id}/resume")
        assert resumed.status_code == 200, resumed.text
        done = wait_status(client, execution_id, ("completed", "failed", "aborted"))
    assert done["status"] == "completed"
