"""The CLI closes the agent manager it builds for an execution (LLM clients, the response cache)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import quorum.agents.manager as manager_module
from quorum.agents.manager import AgentManager
from quorum.cli.run_cmd import build_executor, close_executor
from quorum.config import load_config
from quorum.engine.status import ExecutionStatus

from .helpers import AGENTS, DEMO_TASK, FIXTURES

pytestmark = pytest.mark.unit


async def test_close_executor_closes_the_manager_built_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))  # the fixture agents: python:cli_agents:...
    monkeypatch.delitem(sys.modules, "cli_agents", raising=False)
    closed: list[AgentManager] = []
    real = AgentManager.aclose

    async def spy(self: AgentManager) -> None:
        closed.append(self)
        await real(self)

    monkeypatch.setattr(manager_module.AgentManager, "aclose", spy)
    cfg = load_config(db=tmp_path / "h.db", agents_dirs=[AGENTS], cwd=tmp_path,
                      env={"XDG_DATA_HOME": str(tmp_path)})
    executor = build_executor(cfg, None)
    result = await executor.execute(DEMO_TASK, {"ticker": "BTC", "amount": 10000, "riskTolerance": "medium"})
    assert result.status is ExecutionStatus.COMPLETED, result.error
    manager = executor.agent_manager
    await close_executor(executor)
    assert closed == [manager]
