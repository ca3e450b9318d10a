"""``POST /api/v1/dry-runs``: the plan over HTTP (the app of ``quorum serve`` with the router, its
security middleware in front), 422 for a bad input as ``POST /executions`` answers, nothing recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from quorum.config import load_config
from quorum.server.app import create_app
from quorum.server.routes import API_PREFIX
from quorum.server.routes_dryrun import router
from quorum.server.runtime import ConfigFlags
from quorum.server.settings import ServeSettings
from tests.cli.helpers import AGENTS, FIXTURES

pytestmark = pytest.mark.integration

TOKEN = "test-token-0123456789abcdef"
INPUT: dict[str, Any] = {"ticker": "BTC", "amount": 10000, "riskTolerance": "medium"}
BODY: dict[str, Any] = {"task": "cli-demo", "input": INPUT}


async def test_a_dry_run_over_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))  # the demo's python:cli_agents agents
    db = tmp_path / "history.db"
    cfg = load_config(db=str(db), tasks_dirs=[FIXTURES / "tasks"], agents_dirs=[AGENTS])
    settings = ServeSettings(token=TOKEN, token_source="QUORUM_API_TOKEN")
    app = create_app(cfg, settings, ConfigFlags(db=str(db)))
    app.include_router(router, prefix=API_PREFIX)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8300") as client:
        refused = await client.post(f"{API_PREFIX}/dry-runs", json=BODY)
        assert refused.status_code == 401
        answer = await client.post(f"{API_PREFIX}/dry-runs", json=BODY, headers=headers)
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        assert plan["dry_run"] is True
        assert plan["task"] == "cli-demo"
        assert [p["fate"] for p in plan["phases"]] == ["runs", "runs", "skipped", "runs"]
        assert plan["critical_path"] == ["Intake", "Analysis", "Verdict"]
        bad = await client.post(f"{API_PREFIX}/dry-runs", headers=headers,
                                json={**BODY, "input": {**INPUT, "amount": 0}})
        started = await client.post(f"{API_PREFIX}/executions", headers=headers,
                                    json={**BODY, "input": {**INPUT, "amount": 0}})
        assert bad.status_code == started.status_code == 422
        assert bad.json()["errors"] == started.json()["errors"]
        listed = await client.get(f"{API_PREFIX}/executions", headers=headers)
        assert listed.json()["items"] == []
