"""``/metrics`` scraped from a real ``quorum serve`` on a loopback port while an execution runs, and after."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import Cli
from tests.server.serving import DEMO_INPUT, TOKEN, Server, wait_status

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = Server.start(Cli.in_folder(tmp_path), delay="0.6")  # quorum serve itself
    try:
        yield started
    finally:
        started.stop()


def _scrape(server: Server) -> str:
    answer = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return answer.text


def _value(text: str, series: str) -> float:
    """The value of one series, written as in the exposition (``name{label="v",...}``)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no series {series} in:\n{text}")


def test_metrics_scraped_during_and_after_a_run(server: Server) -> None:
    assert httpx.get(f"{server.url}/metrics", timeout=30).status_code == 401  # the API's token, as everywhere
    with server.client() as client:
        answer = client.post("/executions", json={"task": "cli-demo", "input": DEMO_INPUT})
        assert answer.status_code == 201, answer.text
        execution_id = answer.json()["id"]
        deadline = time.monotonic() + 30
        during = _scrape(server)
        while "quorum_executions_active{" not in during and time.monotonic() < deadline:
            time.sleep(0.05)
            during = _scrape(server)
        assert _value(during, 'quorum_executions_started_total{task="cli-demo"}') == 1
        assert _value(during, 'quorum_executions_active{task="cli-demo"}') == 1
        assert _value(during, 'quorum_history_executions{status="running"}') == 1
        assert "quorum_executions_ended_total" not in during
        wait_status(client, execution_id, ("completed",))

    after = _scrape(server)
    assert _value(after, 'quorum_executions_ended_total{status="completed",task="cli-demo"}') == 1
    assert _value(after, 'quorum_executions_active{task="cli-demo"}') == 0
    assert _value(after, 'quorum_history_executions{status="completed"}') == 1
    analysis = 'phase="Analysis",status="completed",task="cli-demo"'
    assert _value(after, f"quorum_phase_duration_seconds_count{{{analysis}}}") == 1
    assert _value(after, f'quorum_phase_duration_seconds_bucket{{le="+Inf",{analysis}}}') == 1
    assert _value(after, f"quorum_phase_duration_seconds_sum{{{analysis}}}") >= 0.6
    calls = re.findall(r'^quorum_agent_call_duration_seconds_count\{agent="([^"]+)",model="([^"]*)",'
                       r'outcome="ok"\} (\d+)', after, re.MULTILINE)
    assert {agent for agent, _, _ in calls} == {"analyst-a", "analyst-b", "chair"}
    assert _value(after, "quorum_journal_backlog") == 0
    assert "# TYPE quorum_phase_duration_seconds histogram" in after
    assert "# TYPE quorum_executions_started_total counter" in after
