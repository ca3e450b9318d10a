"""A resume or a recovery builds the agents the execution started with (its ``--model`` and base URL),
not the ones of its agent files: an LLM run finished by the built-in agents would mix two models.

The real ``quorum`` runs in subprocesses against the loopback OpenAI-compatible server of the agent
tests. The first process is killed while the chair's request is held by the server; the second resumes
without ``--model`` and without ``OPENAI_BASE_URL``: the chair must still be asked, as ``model-a``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Mapping
from typing import Any

import pytest

from tests.agents.llm_server import LLMServer, Reply

from .helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli

pytestmark = [pytest.mark.integration]

CANARY = "sk-canary-h3-77aa01"

VERDICT = {
    "decision": "APPROVE",
    "approved_amount": 5000,
    "conditions": ["review in a week"],
    "dissent": [],
    "risk": {"var95": 0.04},
    "stance": "bullish",
    "recommendation": "buy half",
    "confidence": 0.7,
    "rationale": "both analysts agree",
}


async def _quorum(cli: Cli, *args: str, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *cli.argv(*args), cwd=cli.cwd, env={**cli.env, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _output(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def _until(predicate: Any, what: str, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _crashed_llm_run(cli: Cli, server: LLMServer) -> str:
    """A run whose chair is ``openai:model-a`` on ``server``, killed while the chair's answer is held."""
    server.push(Reply(content=json.dumps(VERDICT), delay_s=300))  # never answered: the process dies first
    server.default = Reply(content=json.dumps(VERDICT))
    proc = await _quorum(
        cli, "run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS),
        "--model", "chair=openai:model-a", "--plain",
        env={"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": CANARY},
    )
    await _until(lambda: len(server.requests) >= 1, "the chair's request")
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    execution_id = cli.newest_id()
    assert execution_id is not None
    assert cli.status(execution_id) == "running"  # left running by a dead process
    return execution_id


def _chair(result: Mapping[str, Any]) -> Mapping[str, Any]:
    responses: Mapping[str, Any] = result["phases"]["Verdict"]["responses"]
    chair: Mapping[str, Any] = responses["chair"]
    return chair


async def test_resume_without_model_goes_on_with_the_recorded_model_and_server(cli: Cli) -> None:
    server = await LLMServer("openai").start()
    try:
        execution_id = await _crashed_llm_run(cli, server)
        # No --model and no OPENAI_BASE_URL here: both come from the history. The key does not.
        code, out = await _output(await _quorum(
            cli, "resume", execution_id, "--agents-dir", str(AGENTS), "--json",
            env={"OPENAI_API_KEY": CANARY},
        ))
    finally:
        await server.close()
    assert code == 0, out
    result = json.loads(out)
    assert result["status"] == "completed"
    assert _chair(result)["model"] == "openai:model-a"
    assert _chair(result)["recommendation"] == "buy half"
    asked = [r.body["model"] for r in server.requests if r.path.endswith("/chat/completions")]
    assert asked == ["model-a", "model-a"]  # the held request, then the resumed phase's
    assert CANARY.encode() not in cli.db.read_bytes()


async def test_recover_goes_on_with_the_recorded_model(cli: Cli) -> None:
    server = await LLMServer("openai").start()
    try:
        execution_id = await _crashed_llm_run(cli, server)
        code, out = await _output(await _quorum(
            cli, "recover", "--agents-dir", str(AGENTS), "--json", env={"OPENAI_API_KEY": CANARY},
        ))
    finally:
        await server.close()
    assert code == 0, out
    assert json.loads(out) == [
        {"id": execution_id, "task": "cli-demo", "status": "completed", "error": None}
    ]
    asked = [r.body["model"] for r in server.requests if r.path.endswith("/chat/completions")]
    assert asked == ["model-a", "model-a"]


async def test_another_model_on_resume_is_recorded_and_shown(cli: Cli) -> None:
    server = await LLMServer("openai").start()
    try:
        execution_id = await _crashed_llm_run(cli, server)
        code, out = await _output(await _quorum(
            cli, "resume", execution_id, "--agents-dir", str(AGENTS), "--json",
            "--model", "chair=openai:model-b", env={"OPENAI_API_KEY": CANARY},
        ))
    finally:
        await server.close()
    assert code == 0, out
    assert _chair(json.loads(out))["model"] == "openai:model-b"
    asked = [r.body["model"] for r in server.requests if r.path.endswith("/chat/completions")]
    assert asked == ["model-a", "model-b"]  # the recorded server, the newly chosen model
    shown = cli("show", execution_id)
    assert shown.code == 0, shown
    [line] = [ln for ln in shown.out.splitlines() if "agents changed on resume" in ln]
    assert "chair=openai:model-b" in line
    events = cli("show", execution_id, "--events", "--json").json()["events"]
    changed = [e for e in events if e["type"] == "execution:resumed" and "agent_choices" in e["data"]]
    assert [e["data"]["agent_choices"]["models"] for e in changed] == [["chair=openai:model-b"]]
    assert changed[0]["data"]["previous_agent_choices"]["models"] == ["chair=openai:model-a"]
    assert "(before: chair=openai:model-a)" in changed[0]["data"]["reason"]
    assert CANARY.encode() not in cli.db.read_bytes()
