"""``quorum run`` budgets (``--max-cost`` priced by the model table for a ``--model`` agent, ``--max-calls``)
and ``--record``/``--replay`` of every agent exchange, against the loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.agents.llm_server import LLMServer, Reply

from .helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli

pytestmark = [pytest.mark.integration]

KEY = "sk-test-h3-budget"
VERDICT = {
    "decision": "APPROVE", "approved_amount": 5000, "conditions": [], "dissent": [], "risk": {},
    "stance": "bullish", "recommendation": "buy half", "confidence": 0.7, "rationale": "agreement",
}


async def _run(cli: Cli, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *cli.argv("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS), *args),
        cwd=cli.cwd, env={**cli.env, "OPENAI_API_KEY": KEY, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _server() -> LLMServer:
    server = await LLMServer("openai").start()
    server.default = Reply(content=json.dumps(VERDICT), tokens_in=1000, tokens_out=500)
    return server


async def test_max_cost_holds_for_an_agent_moved_to_a_priced_model(cli: Cli, tmp_path: Path) -> None:
    server = await _server()
    try:
        llm = ("--model", "chair=openai:gpt-4.1-mini", "--json")
        env = {"OPENAI_BASE_URL": server.base_url}
        # 1000 in + 500 out at 0.40/1.60 USD per million: 0.0012 USD, over a 0.001 budget.
        code, out, err = await _run(cli, *llm, "--max-cost", "0.001", env=env)
        assert code == 1, out + err
        failed = json.loads(out)
        assert failed["status"] == "failed"
        assert "budget exceeded: cost 0.0012 > 0.001" in failed["error"]
        # Within a larger budget it completes.
        code, out, err = await _run(cli, *llm, "--max-cost", "0.01", env=env)
        assert code == 0, out + err
        # A price file replaces the table's entry: free now, so the small budget holds.
        prices = tmp_path / "prices.json"
        prices.write_text(json.dumps({"openai:gpt-4.1-mini": {"input": 0, "output": 0}}))
        code, out, err = await _run(cli, *llm, "--max-cost", "0.001", "--model-prices", str(prices), env=env)
        assert code == 0, out + err
    finally:
        await server.close()


async def test_max_calls_and_max_tokens_from_the_command_line(cli: Cli) -> None:
    code, out, err = await _run(cli, "--max-calls", "1", "--json")
    assert code == 1, out + err
    assert "budget exceeded: calls 2 > 1" in json.loads(out)["error"]
    server = await _server()
    try:
        code, out, err = await _run(cli, "--model", "chair=openai:test-model", "--max-tokens", "1200",
                                    "--json", env={"OPENAI_BASE_URL": server.base_url})
    finally:
        await server.close()
    assert code == 1, out + err
    assert "budget exceeded: tokens 1500 > 1200" in json.loads(out)["error"]


@pytest.mark.errors
async def test_a_bad_price_file_or_record_with_replay_is_a_clear_usage_error(
    cli: Cli, tmp_path: Path
) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text('{"openai:gpt-4.1-mini": {"input": "cheap"}}')
    code, out, err = await _run(cli, "--model-prices", str(bad))
    assert code == 2, out + err
    assert f"{bad}: 'openai:gpt-4.1-mini' input must be a number >= 0" in err
    assert "Traceback" not in err
    recorded = tmp_path / "x.db"
    recorded.write_bytes(b"")
    code, out, err = await _run(cli, "--record", str(tmp_path / "r.db"), "--replay", str(recorded))
    assert code == 2, out + err
    assert "--record and --replay exclude each other" in err


async def test_a_recorded_run_replays_without_the_network(cli: Cli, tmp_path: Path) -> None:
    tape = tmp_path / "exchanges.db"
    server = await _server()
    try:
        code, out, err = await _run(cli, "--model", "chair=openai:model-a", "--record", str(tape), "--json",
                                    env={"OPENAI_BASE_URL": server.base_url})
    finally:
        await server.close()
    assert code == 0, out + err
    recorded = json.loads(out)
    assert len(server.requests) == 1
    # The server is gone: every answer comes from the file.
    code, out, err = await _run(cli, "--model", "chair=openai:model-a", "--replay", str(tape), "--json",
                                env={"OPENAI_BASE_URL": server.base_url})
    assert code == 0, out + err
    replayed = json.loads(out)
    assert replayed["status"] == "completed"
    assert replayed["verdict"] == recorded["verdict"]
    assert replayed["phases"]["Verdict"]["responses"]["chair"]["recommendation"] == "buy half"
    assert KEY.encode() not in tape.read_bytes()
    # A call the file does not hold fails, naming the way out.
    code, out, err = await _run(cli, "ticker=ETH", "--model", "chair=openai:model-a", "--replay", str(tape),
                                "--json", env={"OPENAI_BASE_URL": server.base_url})
    assert code == 1, out + err
    assert "replay mode: no recorded answer for this call" in out
