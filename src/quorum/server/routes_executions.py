"""``/executions``: start, list, look at, export, control and fork executions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from quorum.server.deps import find_record, get_runtime
from quorum.server.models import (
    ApprovalOut,
    ControlAnswer,
    ControlBody,
    ExecutionCreate,
    ExecutionDetail,
    ExecutionPage,
    ExecutionSummary,
    ForkBody,
    ProblemDetails,
)
from quorum.server.paging import Cursor, page_of
from quorum.server.problems import ApiError
from quorum.server.routes_approvals import approvals_of
from quorum.server.runtime import Action, Runtime

if TYPE_CHECKING:
    from quorum.events import Event
    from quorum.history.base import ExecutionRecord

__all__ = ("router", "summary_of")

router = APIRouter(tags=["executions"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetails, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 422)
}


def summary_of(record: ExecutionRecord, runtime: Runtime) -> ExecutionSummary:
    return ExecutionSummary(
        id=record.id, task=record.task, status=record.status, created_at=record.created_at,
        updated_at=record.updated_at, started_at=record.started_at, ended_at=record.ended_at,
        duration_ms=record.duration_ms, error=record.error, last_sequence=record.last_sequence,
        driven_here=runtime.drives(record.id) is not None, task_version=record.task_version,
        task_hash=record.task_hash, parent_id=record.parent_id,
    )


@router.post("/executions", status_code=201, response_model=ExecutionSummary, responses=_ERRORS,
             summary="Start an execution of a task; 422 lists every problem of its input")
async def start_execution(body: ExecutionCreate, runtime: RuntimeDep) -> ExecutionSummary:
    handle = await runtime.start(body.task, body.input, body.model)
    record = await runtime.store.get_execution(handle.id)
    if record is None:  # not durable yet: answer from the handle
        ctx = handle.context
        return ExecutionSummary(id=handle.id, task=ctx.task.name, status=handle.status.value,
                                created_at=ctx.created_at, updated_at=ctx.created_at, driven_here=True,
                                task_version=ctx.task.version, task_hash=ctx.task.content_hash,
                                parent_id=ctx.parent_id)
    return summary_of(record, runtime)


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    import time

    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    from quorum.cli.common import parse_duration

    return time.time() - parse_duration(text, what="since")  # "bad since ..." is a 400, as in the CLI


@router.get("/executions", response_model=ExecutionPage, responses=_ERRORS,
            summary="Executions, newest first, with filters and cursor paging")
async def list_executions(
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(max_length=20, description="Only this status.")] = None,
    task: Annotated[str | None, Query(max_length=200, description="Only executions of this task; "
                                      "NAME@VERSION selects versions (committee@1.1, committee@^1).")] = None,
    since: Annotated[str | None, Query(max_length=40, description="Only those created since: an ISO 8601 "
                                       "time, or a duration ago (30m, 2 days).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page.")]
    = None,
) -> ExecutionPage:
    from quorum.history.base import EXECUTION_STATUSES

    if status is not None and status not in EXECUTION_STATUSES:
        raise ApiError(400, f"unknown status {status!r}; use one of {', '.join(sorted(EXECUTION_STATUSES))}")
    from quorum.definition.versions import VersionSyntaxError

    given = None if cursor is None else Cursor.decode(cursor)
    try:
        rows, next_cursor = await page_of(runtime.store, limit=limit, status=status, task=task,
                                          since=_since(since), cursor=given)
    except VersionSyntaxError as exc:
        raise ApiError(400, f"task: {exc}") from None
    return ExecutionPage(items=[summary_of(r, runtime) for r in rows],
                         next_cursor=None if next_cursor is None else next_cursor.encode())


async def _view(runtime: Runtime, record: ExecutionRecord,
                events: Sequence[Event] | None = None) -> Any:
    from quorum.cli.history_view import build_view

    if events is None:
        events = await runtime.journal(record)
    order = [str(p) for p in record.phase_hashes]
    return build_view(record, events, checkpoint=_latest_checkpoint(events), phase_order=order)


def _latest_checkpoint(events: Sequence[Event]) -> Event | None:
    """What ``HistoryStore.latest_checkpoint`` answers (the record points at its last checkpoint), taken
    from the journal in hand instead of a second read of its snapshot."""
    from quorum.events import EventType

    return next((e for e in reversed(events) if e.type == EventType.CHECKPOINT_CREATED), None)


@router.get("/executions/{execution_id}", response_model=ExecutionDetail, responses=_ERRORS,
            summary="One execution: its record, phases with outputs, verdict, pending approvals")
async def get_execution(execution_id: str, runtime: RuntimeDep) -> ExecutionDetail:
    from quorum.definition.model import thaw

    record = await runtime.store.get_execution(execution_id) or await find_record(runtime, execution_id)
    # one read of the journal (its new events only, see Runtime.journal) serves the phases, the gates
    # and the ETA: a dashboard page asks for this at every phase boundary
    events = await runtime.journal(record)
    view = await _view(runtime, record, events)
    eta = await runtime.eta(record, events)
    return ExecutionDetail(
        **summary_of(record, runtime).model_dump(),
        input=_jsonable(thaw(record.input)),
        verdict=None if record.verdict is None else _jsonable(thaw(record.verdict)),
        phases=[_jsonable(row.to_dict()) for row in view.phases.values()],
        pending_approvals=await _pending(runtime, record, events),
        eta=None if eta is None else _jsonable(eta.to_dict()),
        eta_note=None if eta is not None else _no_eta(record.status),
    )


async def _pending(runtime: Runtime, record: ExecutionRecord, events: Sequence[Event]) -> list[ApprovalOut]:
    """The gates waiting: asked of the executor when this server drives the execution; otherwise none
    unless the journal shows a gate opened (then ``approvals_of`` folds the gates' events)."""
    from quorum.events import EventType

    if runtime.drives(record.id) is None and not any(e.type == EventType.APPROVAL_REQUESTED for e in events):
        return []
    return await approvals_of(runtime, record.id)


def _no_eta(status: str) -> str:
    if status in ("completed", "failed", "aborted", "timeout"):
        return "the execution has ended"
    return "no completed execution of this task version to learn from yet"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@router.get("/executions/{execution_id}/export", responses={
    **_ERRORS, 200: {"content": {"application/json": {}, "text/markdown": {}}}},
    summary="The execution as JSON (record and journal) or as the annotated Markdown report")
async def export_execution(execution_id: str, runtime: RuntimeDep,
                           format: Literal["json", "markdown"] = "json") -> Response:
    record = await find_record(runtime, execution_id)
    record = await runtime.store.get_execution(record.id) or record
    view = await _view(runtime, record)
    if format == "json":
        return JSONResponse(_jsonable(view.to_dict(all_events=True)))
    from quorum.cli.export import markdown_report
    from quorum.cli.history_cmd import _document

    document, changed = _document(runtime.cfg, record)
    return PlainTextResponse(markdown_report(view, document, changed=changed),
                             media_type="text/markdown; charset=utf-8")


async def _control(runtime: Runtime, execution_id: str, action: Action,
                   body: ControlBody | None) -> ControlAnswer:
    record = await find_record(runtime, execution_id)
    detail = await runtime.control(record, action, "" if body is None else body.reason)
    now = await runtime.store.get_execution(record.id) or record
    return ControlAnswer(id=record.id, action=action, status=now.status, detail=detail)


OptionalControl = Annotated[ControlBody | None, Body()]


@router.post("/executions/{execution_id}/pause", response_model=ControlAnswer, responses=_ERRORS,
             summary="Pause at the next step boundary (in this or another process)")
async def pause_execution(execution_id: str, runtime: RuntimeDep,
                          body: OptionalControl = None) -> ControlAnswer:
    return await _control(runtime, execution_id, "pause", body)


@router.post("/executions/{execution_id}/resume", response_model=ControlAnswer, responses=_ERRORS,
             summary="Resume a paused execution, or take over one whose process died")
async def resume_execution(execution_id: str, runtime: RuntimeDep,
                          body: OptionalControl = None) -> ControlAnswer:
    return await _control(runtime, execution_id, "resume", body)


@router.post("/executions/{execution_id}/abort", response_model=ControlAnswer, responses=_ERRORS,
             summary="Abort: calls in flight are cancelled, completed outputs kept")
async def abort_execution(execution_id: str, runtime: RuntimeDep,
                          body: OptionalControl = None) -> ControlAnswer:
    return await _control(runtime, execution_id, "abort", body)


@router.post("/executions/{execution_id}/fork", status_code=201, response_model=ExecutionSummary,
             responses=_ERRORS, summary="A new execution from a recorded one's checkpoint")
async def fork_execution(execution_id: str, runtime: RuntimeDep,
                         body: Annotated[ForkBody | None, Body()] = None) -> ExecutionSummary:
    record = await find_record(runtime, execution_id)
    record = await runtime.store.get_execution(record.id) or record
    handle = await runtime.fork(record, None if body is None else body.checkpoint)
    new = await runtime.store.get_execution(handle.id)
    if new is None:
        ctx = handle.context
        return ExecutionSummary(id=handle.id, task=ctx.task.name, status=handle.status.value,
                                created_at=ctx.created_at, updated_at=ctx.created_at, driven_here=True,
                                task_version=ctx.task.version, task_hash=ctx.task.content_hash,
                                parent_id=ctx.parent_id)
    return summary_of(new, runtime)
