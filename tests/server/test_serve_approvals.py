"""Approval gates over HTTP against a real ``quorum serve``: the waiting execution shows its pending
approvals, a decision is posted, counted by the server that drives it, and the execution goes on; a
decision the gate cannot count is a 409; an execution left waiting by ``quorum run`` in another process
is taken over by the server when the decision arrives."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.helpers import AGENTS
from tests.cli.test_cli_approvals import GATED

from .serving import Server, wait_status

pytestmark = pytest.mark.integration

Serve = Callable[..., Server]


def _tasks(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "gated-purchase.md").write_text(GATED, encoding="utf-8")
    return folder


def test_a_gate_waits_and_a_posted_decision_lets_it_go_on(serve: Serve, tmp_path: Path) -> None:
    server = serve(tasks=_tasks(tmp_path))
    with server.client() as client:
        started = client.post("/executions", json={"task": "gated-purchase",
                                                   "input": {"ticker": "BTC", "amount": 10}})
        assert started.status_code == 201, started.text
        execution_id = started.json()["id"]
        detail = wait_status(client, execution_id, ("waiting",))
        assert [a["gate"] for a in detail["pending_approvals"]] == ["Sign-off/0"]
        assert detail["pending_approvals"][0]["question"] == "Buy 10 of BTC?"
        listed = client.get(f"/executions/{execution_id}/approvals").json()
        assert [a["choices"] for a in listed] == [["approve", "reject"]]
        bad = client.post(f"/executions/{execution_id}/approvals/Sign-off/0",
                          json={"decision": "maybe", "by": "alice"})
        assert bad.status_code == 409, bad.text
        assert "not a choice" in bad.json()["detail"]
        decided = client.post(f"/executions/{execution_id}/approvals/Sign-off/0",
                              json={"decision": "approve", "by": "alice", "comment": "ok"})
        assert decided.status_code == 200, decided.text
        done = wait_status(client, execution_id, ("completed", "failed"))
    phases = {p["name"]: p for p in done["phases"]}
    assert done["status"] == "completed"
    assert phases["Sign-off"]["outputs"]["approvals"][0]["by"] == "alice"
    assert phases["Order"]["status"] == "completed"
    assert done["pending_approvals"] == []


def test_an_execution_left_waiting_by_quorum_run_is_taken_over_by_the_decision(
    serve: Serve, tmp_path: Path,
) -> None:
    tasks = _tasks(tmp_path)
    server = serve(tasks=tasks)
    run = server.cli("run", str(tasks / "gated-purchase.md"), "ticker=ETH", "amount=5", "--agents-dir",
                     str(AGENTS), "--json")
    assert run.code == 6, run
    execution_id = json.loads(run.out)["id"]
    with server.client() as client:
        decided = client.post(f"/executions/{execution_id}/approvals/Sign-off/0",
                              json={"decision": "reject", "by": "bob"})
        assert decided.status_code == 200, decided.text
        assert "taken over here" in decided.json()["detail"]
        done = wait_status(client, execution_id, ("completed", "failed"))
    phases = {p["name"]: p for p in done["phases"]}
    assert phases["Sign-off"]["outputs"]["decision"] == "reject"
    assert phases["Order"]["status"] == "skipped"
