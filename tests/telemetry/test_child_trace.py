"""A child execution (a ``task:`` step) is a child span: its ``invoke_workflow`` hangs under the parent's
``step`` span, in the parent's trace — in one process, and after a crash and a resume in another."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from quorum.definition.model import Phase, Step
from quorum.engine.children import child_execution_id
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.steps.protocol import StepContext
from quorum.telemetry import TelemetrySettings, instrument
from quorum.telemetry.tracing import trace_context_of
from quorum.testing import ScriptedAgent, make_manager
from tests.composition.helpers import decider_answer, parent, reviewer_answer, write_tasks
from tests.telemetry.helpers import memory_provider

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "tests.telemetry.crash_composition"
FOREACH = "- task: review foreach=input.tickers input.ticker={{ item }}"


def _manager() -> Any:
    return make_manager({"reviewer": ScriptedAgent(reviewer_answer),
                         "decider": ScriptedAgent(decider_answer)})


def _attrs(span: ReadableSpan) -> Mapping[str, Any]:
    return span.attributes or {}


def _named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def _parent_span_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


@pytest.mark.parametrize("phase_options", ["parallel: true", ""], ids=["at-once", "one-after-another"])
async def test_a_parent_with_two_children_is_one_trace_with_the_children_under_its_step_span(
    tmp_path: Path, phase_options: str
) -> None:
    tasks = write_tasks(tmp_path, parent(FOREACH, phase_options=phase_options))
    provider, exporter = memory_provider()
    async with TaskExecutor(tasks_dir=tasks, agent_manager=_manager()) as ex:
        telemetry = instrument(ex, TelemetrySettings(), tracer_provider=provider)
        result = await ex.execute("book", {"tickers": ["A", "B"]})
        await telemetry.aclose()
    assert result.status is ExecutionStatus.COMPLETED
    spans = list(exporter.get_finished_spans())
    assert {s.context.trace_id for s in spans} == {trace_context_of(result.id).trace_id}  # one trace
    [workflow] = _named(spans, "invoke_workflow book")
    assert _parent_span_id(workflow) == trace_context_of(result.id).span_id
    [step] = _named(spans, "step Children/0")
    assert _parent_span_id(step) == _named(spans, "phase Children")[0].context.span_id
    assert _attrs(step)["quorum.step.type"] == "task"
    children = _named(spans, "invoke_workflow review")
    expected = {child_execution_id(result.id, "Children", 0, i, 1) for i in range(2)}
    assert {_attrs(c)["quorum.execution.id"] for c in children} == expected
    for child in children:
        assert _parent_span_id(child) == step.context.span_id
        assert _attrs(child)["quorum.parent.execution.id"] == result.id
        assert "quorum.resumed" not in _attrs(child)
        assert not child.links
        mine = [s for s in spans
                if s.name.startswith("phase ") and _parent_span_id(s) == child.context.span_id]
        assert sorted(s.name for s in mine) == ["phase Decide", "phase Look"]  # its own tree below it
    told = [(e.name, (e.attributes or {})["quorum.child.execution.id"]) for e in step.events]
    assert sorted(told) == sorted([(kind, c) for c in expected for kind in ("child:started", "child:ended")])
    assert {(e.attributes or {}).get("quorum.child.status") for e in step.events
            if e.name == "child:ended"} == {"completed"}


async def test_a_grandchild_hangs_under_its_parent_step_in_the_grandparent_trace(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent(FOREACH))
    (tasks / "top.md").write_text(parent("- task: book input.tickers={{ input.tickers }}")
                                  .replace("name: book", "name: top"), encoding="utf-8")
    provider, exporter = memory_provider()
    async with TaskExecutor(tasks_dir=tasks, agent_manager=_manager()) as ex:
        telemetry = instrument(ex, TelemetrySettings(), tracer_provider=provider)
        result = await ex.execute("top", {"tickers": ["A"]})
        await telemetry.aclose()
    assert result.status is ExecutionStatus.COMPLETED
    spans = list(exporter.get_finished_spans())
    assert {s.context.trace_id for s in spans} == {trace_context_of(result.id).trace_id}
    [top_step, book_step] = sorted(_named(spans, "step Children/0"), key=lambda s: s.start_time or 0)
    [book] = _named(spans, "invoke_workflow book")
    [review] = _named(spans, "invoke_workflow review")
    assert _parent_span_id(book) == top_step.context.span_id
    [book_phase] = [s for s in _named(spans, "phase Children") if _parent_span_id(s) == book.context.span_id]
    assert _parent_span_id(book_step) == book_phase.context.span_id
    assert _parent_span_id(review) == book_step.context.span_id
    assert _attrs(review)["quorum.parent.execution.id"] == _attrs(book)["quorum.execution.id"]


async def test_an_execution_started_from_a_step_but_not_as_its_child_is_a_trace_of_its_own(
    tmp_path: Path,
) -> None:
    tasks = write_tasks(tmp_path, parent("- spawn: review"))
    provider, exporter = memory_provider()
    started: list[str] = []
    async with TaskExecutor(tasks_dir=tasks, agent_manager=_manager()) as ex:

        async def spawn(step: Step, phase: Phase, context: StepContext) -> dict[str, Any]:
            other = await ex.execute("review", {"ticker": "Z"})  # a new execution, nobody's child
            started.append(other.id)
            return {"other": other.id}

        ex.register_step_strategy("spawn", spawn)
        telemetry = instrument(ex, TelemetrySettings(), tracer_provider=provider)
        result = await ex.execute("book", {})
        await telemetry.aclose()
    assert result.status is ExecutionStatus.COMPLETED
    spans = list(exporter.get_finished_spans())
    [other] = _named(spans, "invoke_workflow review")
    assert other.context.trace_id == trace_context_of(started[0]).trace_id
    assert other.context.trace_id != trace_context_of(result.id).trace_id
    assert _parent_span_id(other) == trace_context_of(started[0]).span_id
    assert "quorum.parent.execution.id" not in _attrs(other)


def _db_rows(db: Path, sql: str, *args: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def _killed_with_a_child_unfinished(tmp_path: Path, tasks: Path, db: Path, spans: Path) -> str:
    """Runs the parent in another process until child A has completed and child B is in its second
    phase (its first durable), then kills it; the parent's id."""
    argv = [sys.executable, "-m", PROGRAM, str(db), str(spans), str(tasks)]
    with (tmp_path / "run.err").open("w") as err, subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline().split()
            assert first[:1] == ["id"], (first, (tmp_path / "run.err").read_text())
            parent_id = first[1]
            a, b = (child_execution_id(parent_id, "Children", 0, i, 1) for i in range(2))
            assert proc.stdout.readline().strip() == "blocked B"
            deadline = time.monotonic() + 30
            b_settled = "SELECT 1 FROM events WHERE execution_id = ? AND type = 'phase:complete'"
            while (_db_rows(db, "SELECT status FROM executions WHERE id = ?", a) != [("completed",)]
                   or not _db_rows(db, b_settled, b)):
                assert time.monotonic() < deadline, "child A never completed, or child B's first phase"
                time.sleep(0.02)  # another process's progress: polled, no event can tell us
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    return parent_id


def _hex(value: int, width: int) -> str:
    return f"0x{value:0{width}x}"


async def test_after_a_crash_the_resumed_child_hangs_under_the_resumed_parent_step_in_the_same_trace(
    tmp_path: Path,
) -> None:
    import json

    tasks = write_tasks(tmp_path, parent(FOREACH, phase_options="parallel: true"))
    db, spans_file = tmp_path / "h.db", tmp_path / "spans.jsonl"
    parent_id = _killed_with_a_child_unfinished(tmp_path, tasks, db, spans_file)
    a, b = (child_execution_id(parent_id, "Children", 0, i, 1) for i in range(2))
    trace_id = trace_context_of(parent_id).trace_id
    before = [json.loads(line) for line in spans_file.read_text().splitlines() if line.strip()]
    assert {s["context"]["trace_id"] for s in before} == {_hex(trace_id, 32)}  # the children too
    [child_a] = [s for s in before if s["name"] == "invoke_workflow review"]  # B's never ended
    assert child_a["attributes"]["quorum.execution.id"] == a
    assert child_a["attributes"]["quorum.parent.execution.id"] == parent_id
    assert child_a["parent_id"] is not None  # the dead process's step span (open when it died)

    store = SQLiteHistoryStore(db)
    await store.open()
    provider, exporter = memory_provider()
    ex = TaskExecutor(tasks_dir=tasks, agent_manager=_manager(), history_store=store)
    telemetry = instrument(ex, TelemetrySettings(), tracer_provider=provider)
    try:
        [handle] = await ex.recover()
        result = await handle.result()
    finally:
        await telemetry.aclose()
        await ex.aclose()
        await store.close()
    assert result.status is ExecutionStatus.COMPLETED
    after = list(exporter.get_finished_spans())
    assert {s.context.trace_id for s in after} == {trace_id}
    [workflow] = _named(after, "invoke_workflow book")
    assert _attrs(workflow)["quorum.resumed"] is True
    [step] = _named(after, "step Children/0")
    [child_b] = _named(after, "invoke_workflow review")  # A had completed: taken from the history
    assert _attrs(child_b)["quorum.execution.id"] == b
    assert _attrs(child_b)["quorum.resumed"] is True
    assert _attrs(child_b)["quorum.parent.execution.id"] == parent_id
    assert _parent_span_id(child_b) == step.context.span_id
    assert "phase Look" not in {s.name for s in after}  # B's first phase was done before the crash
    assert _parent_span_id(_named(after, "phase Decide")[0]) == child_b.context.span_id
