"""An execution as the history tells it: its record, and its phases rebuilt by replaying its journal.

``quorum show`` and ``quorum export`` read an execution from another process's history, so they cannot
ask the executor: they fold the journal (one pass, in sequence order) into :class:`PhaseRow`\\ s, taking
each phase's outputs from its ``phase:complete`` event, or from the latest checkpoint's snapshot. The
child executions its ``task:`` steps started are in ``children`` (from its ``child:*`` events; a caller
with the store can put the whole tree there instead: :func:`quorum.engine.tree.execution_tree`), drawn
by :func:`children_lines`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quorum.definition.model import thaw
from quorum.engine.tree import ExecutionNode, children_from_journal, tree_lines
from quorum.events import Event, EventType
from quorum.history.base import ExecutionRecord

if TYPE_CHECKING:
    from quorum.telemetry.eta import Eta

__all__ = (
    "TIMELINE_TYPES", "ExecutionView", "PhaseRow", "build_view", "children_lines", "input_for_display",
    "series_summary",
)

_T = EventType

TIMELINE_TYPES = frozenset(
    {
        _T.EXECUTION_START, _T.EXECUTION_COMPLETE, _T.EXECUTION_ERROR, _T.EXECUTION_TIMEOUT,
        _T.EXECUTION_PAUSED, _T.EXECUTION_RESUMED, _T.EXECUTION_ABORTED, _T.PHASE_START,
        _T.PHASE_COMPLETE, _T.PHASE_FAILED, _T.PHASE_RETRY, _T.PHASE_SKIPPED, _T.CHECKPOINT_CREATED,
        _T.CHILD_STARTED, _T.CHILD_ENDED,
    }
)  # fmt: skip
"""The events ``quorum show`` lists by default (``--events`` lists every one)."""


@dataclass(slots=True)
class PhaseRow:
    name: str
    status: str = "pending"
    attempts: int = 0
    duration_ms: float | None = None
    answers: int = 0
    agent_errors: int = 0
    outputs: Mapping[str, Any] | None = None
    error: str | None = None
    skipped_reason: str | None = None
    agents: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "answers": self.answers,
            "agent_errors": self.agent_errors,
            "agents": list(self.agents),
            "outputs": thaw(self.outputs),
            "error": self.error,
            "skipped_reason": self.skipped_reason,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionView:
    record: ExecutionRecord
    phases: Mapping[str, PhaseRow]
    events: Sequence[Event]
    eta: Eta | None = None
    """When a running execution is expected to finish (``quorum show``; None when it has ended)."""
    eta_note: str | None = None
    """Why a running execution has no ETA (no history of its task version yet)."""
    children: tuple[ExecutionNode, ...] = ()
    """The child executions of its ``task:`` steps (and theirs, when read with the store)."""

    def to_dict(self, *, all_events: bool = False) -> dict[str, Any]:
        r = self.record
        return {
            "id": r.id,
            "task": r.task,
            "status": r.status,
            "verdict": thaw(r.verdict),
            "error": r.error,
            "duration_ms": r.duration_ms,
            "created_at": r.created_at,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "input": thaw(r.input),
            "owner": r.owner,
            "task_source": r.task_source,
            "task_version": r.task_version,
            "task_hash": r.task_hash,
            "parent_id": r.parent_id,
            "phases": {name: row.to_dict() for name, row in self.phases.items()},
            "events": [e.to_dict() for e in self.events if all_events or e.type in TIMELINE_TYPES],
            "children": [c.to_dict() for c in self.children],
            **({"eta": self.eta.to_dict()} if self.eta is not None else {}),
            **({"eta_note": self.eta_note} if self.eta_note is not None else {}),
        }


def build_view(record: ExecutionRecord, events: Sequence[Event], *, checkpoint: Event | None = None,
               phase_order: Sequence[str] = ()) -> ExecutionView:
    rows: dict[str, PhaseRow] = {name: PhaseRow(name=name) for name in phase_order}
    for event in events:
        if event.phase is None:
            continue
        row = rows.get(event.phase)
        if row is None:
            row = rows[event.phase] = PhaseRow(name=event.phase)
        _fold(row, event)
    if checkpoint is not None:
        _from_checkpoint(rows, checkpoint)
    if record.status in ("failed", "aborted", "timeout"):
        for row in rows.values():
            if row.status in ("running", "retrying"):
                row.status = "cancelled"
    return ExecutionView(record=record, phases=rows, events=tuple(events),
                         children=tuple(children_from_journal(events)))


def children_lines(view: ExecutionView) -> list[str]:
    """The tree of executions under this one, one a line (empty when its steps started none)."""
    if not view.children:
        return []
    r = view.record
    root = ExecutionNode(id=r.id, task=r.task, status=r.status, version=r.task_version,
                         children=view.children)
    return tree_lines(root)


def _fold(row: PhaseRow, event: Event) -> None:
    kind = event.type
    data = event.data
    if kind == _T.PHASE_START:
        row.status = "running"
        attempt = data.get("attempt")
        row.attempts = int(attempt) if isinstance(attempt, int) else row.attempts + 1
    elif kind == _T.PHASE_COMPLETE:
        row.status = "completed"
        row.duration_ms = event.duration_ms
        outputs = data.get("outputs")
        if outputs is None and isinstance(data.get("result"), Mapping):
            outputs = data["result"].get("outputs")
        if isinstance(outputs, Mapping):
            row.outputs = outputs
    elif kind == _T.PHASE_FAILED:
        row.status = "failed"
        row.duration_ms = event.duration_ms
        row.error = event.error
    elif kind == _T.PHASE_RETRY:
        row.status = "retrying"
    elif kind == _T.PHASE_SKIPPED:
        row.status = "skipped"
        row.skipped_reason = str(data.get("reason") or event.error or "") or None
    elif kind == _T.AGENT_RESPONSE:
        row.answers += 1
        if event.agent and event.agent not in row.agents:
            row.agents.append(event.agent)
    elif kind == _T.AGENT_ERROR:
        row.agent_errors += 1
        if event.agent and event.agent not in row.agents:
            row.agents.append(event.agent)


def _from_checkpoint(rows: dict[str, PhaseRow], checkpoint: Event) -> None:
    """Fill outputs the journal's phase events did not carry from the checkpoint's snapshot."""
    phases = checkpoint.data.get("phases")
    if not isinstance(phases, Mapping):
        snapshot = checkpoint.data.get("snapshot") or checkpoint.data.get("checkpoint")
        phases = snapshot.get("phases") if isinstance(snapshot, Mapping) else None
    if not isinstance(phases, Mapping):
        return
    for name, result in phases.items():
        if not isinstance(result, Mapping):
            continue
        row = rows.get(name)
        if row is None:
            row = rows[name] = PhaseRow(name=name, status=str(result.get("status", "completed")))
        if row.outputs is None and isinstance(result.get("outputs"), Mapping):
            row.outputs = result["outputs"]
        if row.skipped_reason is None and result.get("skipped_reason"):
            row.skipped_reason = str(result["skipped_reason"])


_SERIES_DEPTH = 3
"""How deep in the inputs price histories are looked for (``pricesByTicker.BTC`` is at depth 2)."""


def input_for_display(values: Mapping[str, Any], *, depth: int = 0) -> dict[str, Any]:
    """The inputs as ``quorum show`` and the Markdown export print them: every price history replaced
    by one line (``500 closes, 2024-01-01..2025-05-14``), wherever it is (``prices``, ``pricesByTicker``).
    Hundreds of rows say nothing on a screen or in a report; ``--json`` and the JSON export keep them."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        summary = series_summary(value, key=str(key))
        if summary is not None:
            out[key] = summary
        elif isinstance(value, Mapping) and depth + 1 < _SERIES_DEPTH:
            out[key] = input_for_display(value, depth=depth + 1)
        else:
            out[key] = value
    return out


def series_summary(value: Any, *, key: str = "") -> str | None:
    """``"500 closes, 2024-01-01..2025-05-14"`` when ``value`` is a price history: rows with a
    ``close`` (dated or not, oldest first as the tasks take them), or plain numbers under a key that
    names prices or closes. None for anything else."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes) or not value:
        return None
    if all(isinstance(row, Mapping) and "close" in row for row in value):
        first, last = value[0].get("date"), value[-1].get("date")
        span = f", {first}..{last}" if first is not None and last is not None else ""
        return f"{_closes(len(value))}{span}"
    lowered = key.lower()
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if numbers and ("price" in lowered or "close" in lowered):
        return _closes(len(value))
    return None


def _closes(n: int) -> str:
    return f"{n} close{'' if n == 1 else 's'}"
