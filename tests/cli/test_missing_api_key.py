"""An LLM agent without an API key stops the run before it starts: a usage error (exit 2) naming every
such agent and the variables to set, with nothing recorded (it used to start, then fail in its first LLM
phase and leave a failed execution behind)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .helpers import Cli


def test_a_model_without_a_key_is_a_usage_error_before_the_run(cli: Cli) -> None:
    result = cli("run", "daily-market-analysis", "question=Is BTC overbought?",
                 "--model", "anthropic:claude-3-5-haiku-latest")
    assert result.code == 2, result.err
    assert "no API key for Anthropic: set QUORUM_ANTHROPIC_API_KEY or ANTHROPIC_API_KEY" in result.err
    assert "question-classifier" in result.err
    assert "answer-synthesizer" in result.err
    assert "Traceback" not in result.err
    if cli.db.exists():
        with sqlite3.connect(cli.db) as db:
            tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
            if "executions" in tables:
                assert db.execute("select count(*) from executions").fetchone() == (0,)


def test_a_key_in_the_environment_lets_the_run_start(cli: Cli) -> None:
    # The key is set, the server is unreachable (a closed loopback port): the run starts and fails there.
    result = cli("run", "daily-market-analysis", "question=Is BTC overbought?",
                 "--model", "openai:gpt-4.1-mini",
                 env={"OPENAI_API_KEY": "sk-test-not-a-real-key", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert result.code == 1, result.err
    assert "no API key" not in result.err
    assert "sk-test-not-a-real-key" not in result.out + result.err


def test_a_missing_sdk_is_a_usage_error_before_the_run(cli: Cli, tmp_path: Path) -> None:
    # A package shadowing the SDK that fails to import, as an environment without the extra would.
    shim = tmp_path / "no_sdk" / "anthropic"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('No module named anthropic')\n", encoding="utf-8")
    path = os.pathsep.join([str(shim.parent), cli.env.get("PYTHONPATH", "")])
    result = cli("run", "daily-market-analysis", "question=Is BTC overbought?",
                 "--model", "anthropic:claude-3-5-haiku-latest",
                 env={"PYTHONPATH": path, "ANTHROPIC_API_KEY": "sk-ant-test"})
    assert result.code == 2, result.err
    assert "pip install 'quorum[anthropic]'" in result.err
    assert "Traceback" not in result.err
