"""kill -9 in the middle of an execution, then a resume in another process: one trace across both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.trace import StatusCode

from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.telemetry import TelemetrySettings, instrument
from quorum.telemetry.tracing import trace_context_of
from quorum.testing import ScriptedAgent, make_manager
from tests.telemetry.helpers import memory_provider

pytestmark = [pytest.mark.integration, pytest.mark.errors]

ROOT = Path(__file__).resolve().parents[2]


def _killed_in_phase_b(db: Path, spans: Path) -> str:
    argv = [sys.executable, "-m", "tests.telemetry.crash_child", str(db), str(spans)]
    with subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}) as child:
        try:
            assert child.stdout is not None
            execution_id = child.stdout.readline().strip()
            assert execution_id, "the child never reached phase B"
        finally:
            child.kill()
            child.wait(timeout=30)
    return execution_id


def _hex(value: int, width: int) -> str:
    return f"0x{value:0{width}x}"


async def test_a_resumed_execution_continues_the_trace_of_the_process_that_died(tmp_path: Path) -> None:
    db, spans_file = tmp_path / "h.db", tmp_path / "spans.jsonl"
    execution_id = _killed_in_phase_b(db, spans_file)
    root = trace_context_of(execution_id)
    before = [json.loads(line) for line in spans_file.read_text().splitlines() if line.strip()]
    names = {s["name"] for s in before}
    assert {"phase A", "invoke_agent a"} <= names
    assert "invoke_workflow two" not in names  # it never ended: the process died with it
    assert {s["context"]["trace_id"] for s in before} == {_hex(root.trace_id, 32)}

    store = SQLiteHistoryStore(db)
    await store.open()
    provider, exporter = memory_provider()
    b = ScriptedAgent({"v": 2})
    ex = TaskExecutor(agent_manager=make_manager({"a": ScriptedAgent({"v": 1}), "b": b}), history_store=store)
    telemetry = instrument(ex, TelemetrySettings(), tracer_provider=provider)
    try:
        [handle] = await ex.recover(only=[execution_id])
        result = await handle.result()
    finally:
        await telemetry.aclose()
        await ex.aclose()
        await store.close()
    assert result.status is ExecutionStatus.COMPLETED
    after = list(exporter.get_finished_spans())
    assert {s.context.trace_id for s in after} == {root.trace_id}
    [workflow] = [s for s in after if s.name.startswith("invoke_workflow")]
    assert (workflow.attributes or {})["quorum.resumed"] is True
    assert workflow.parent is not None
    assert workflow.parent.span_id == root.span_id
    assert [link.context.span_id for link in workflow.links] == [root.span_id]
    assert workflow.status.status_code is StatusCode.OK
    assert "phase A" not in {s.name for s in after}  # done before the crash: not run (nor traced) again
    assert {"phase B", "invoke_agent b"} <= {s.name for s in after}
    # the dead process's phase A and the resumed phase B hang under the same root context
    dead_workflow_parent = {s["parent_id"] for s in before if s["name"] == "phase A"}
    assert len(dead_workflow_parent) == 1
    assert None not in dead_workflow_parent
