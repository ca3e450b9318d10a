"""A shipped workflow against an OpenAI-compatible server, switched over by one ``--model`` option.

The real ``quorum`` command runs in a subprocess; the server is the loopback Chat Completions server of
the agent tests, answering with JSON that matches the phase's declared outputs. The API key is a canary:
the server receives it, and it appears nowhere in what quorum prints or records.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.agents.llm_server import LLMServer, Reply

from .helpers import Cli

pytestmark = [pytest.mark.integration]

CANARY = "sk-canary-5f0c1d2e3a4b"

ANSWER = {
    "consensus": "bullish",
    "agreement": 0.8,
    "dissenting": [],
    "stance": "bullish",
    "recommendation": "accumulate on dips",
    "confidence": 0.7,
    "rationale": "higher highs and higher lows over the last month",
}


def _prices(path: Path) -> Path:
    lines = ["date,close"] + [f"2026-10-{day:02d},{100 + day * 1.5:.2f}" for day in range(1, 31)]
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_one_model_option_moves_an_agent_of_a_shipped_workflow_to_an_llm(
    cli: Cli, tmp_path: Path
) -> None:
    server = await LLMServer("openai").start()
    server.default = Reply(content=json.dumps(ANSWER))
    try:
        proc = await asyncio.create_subprocess_exec(
            *cli.argv(
                "run", "daily-market-analysis", "question=Will BTC go up this month?",
                "--prices", str(_prices(tmp_path / "btc.csv")),
                "--model", "market-technician=openai:test-model", "--json",
            ),
            cwd=cli.cwd,
            env={**cli.env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": CANARY},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        await server.close()

    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, stdout + stderr
    result = json.loads(stdout)
    assert result["status"] == "completed"

    # The LLM was asked, with the agent's persona, and its answer is the technician's answer.
    asked = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert asked, "no request reached the server"
    assert asked[0].body["model"] == "test-model"
    system = next(m["content"] for m in asked[0].body["messages"] if m["role"] == "system")
    assert "technician" in system.lower()
    responses = result["phases"]["Rapid Analysis"]["responses"]
    technician = responses["market-technician"]
    assert technician["model"] == "openai:test-model"
    assert technician["stance"] == "bullish"
    assert technician["confidence"] == pytest.approx(0.7)
    others = [r for agent, r in responses.items() if agent != "market-technician"]
    assert others
    assert all(str(r["model"]).startswith("builtin:") for r in others)

    # The server saw the key; quorum's output and history never do.
    assert asked[0].headers.get("authorization") == f"Bearer {CANARY}"
    assert CANARY not in stdout + stderr
    assert CANARY.encode() not in cli.db.read_bytes()
