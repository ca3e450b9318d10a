"""kill -9 of the process that holds a waiting execution: a decision from a new process takes it over
(its owner is dead) and finishes it; nothing before the gate runs again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import PhaseName
from quorum.testing import ScriptedAgent, make_manager

pytestmark = [pytest.mark.integration, pytest.mark.errors]

CHILD = [sys.executable, "-m", "tests.engine.approval_child"]
ROOT = Path(__file__).resolve().parents[2]


def _killed_while_waiting(db: Path) -> str:
    """Run the child until its execution waits for approval, then SIGKILL it; the execution's id."""
    with subprocess.Popen([*CHILD, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}) as child:
        try:
            assert child.stdout is not None
            execution_id = child.stdout.readline().strip()
            assert execution_id, "the child never reached the gate"
        finally:
            child.kill()  # SIGKILL: the lease is left held by a dead process
            child.wait(timeout=30)
    return execution_id


async def test_a_decision_after_kill_9_finishes_the_waiting_execution(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    execution_id = _killed_while_waiting(db)
    store = SQLiteHistoryStore(db)
    await store.open()
    try:
        record = await store.get_execution(execution_id)
        assert record is not None
        assert record.status == "waiting"
        analyst, trader = ScriptedAgent({"v": "buy"}), ScriptedAgent({"v": "bought"})
        ex = TaskExecutor(agent_manager=make_manager({"analyst": analyst, "trader": trader}),
                          history_store=store)
        handle = await ex.decide(execution_id, "approve", by="erin")
        assert handle is not None  # its owner is dead: taken over here
        result = await handle.result()
        assert result.status is ExecutionStatus.COMPLETED
        assert result.phases[PhaseName("Sign-off")].outputs["approvals"][0]["by"] == "erin"
        assert analyst.requests == []
        assert len(trader.requests) == 1
        journal = await store.read_journal(execution_id)
        assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
        await ex.aclose()
    finally:
        await store.close()
