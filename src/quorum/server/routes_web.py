"""``/web``: what the dashboard needs beyond the public API — the executions list with the decision
column, an id-prefix search and a time range with an end; and an execution's journal as one JSON
document without the checkpoints' snapshots (a page replays it at once, then follows the event stream
from its end). Not in the OpenAPI document: it follows the pages, not a compatibility promise (the
public routes are ``GET /executions`` and ``GET /executions/{id}/events``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from quorum.server.deps import find_record, get_runtime
from quorum.server.models import ExecutionSummary
from quorum.server.paging import Cursor, page_of
from quorum.server.problems import ApiError
from quorum.server.routes_executions import _since, summary_of
from quorum.server.runtime import Runtime

if TYPE_CHECKING:
    from quorum.history.base import ExecutionRecord

__all__ = ("router",)

router = APIRouter(tags=["web"], include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_SCAN = 1_000_000
"""A prefix search or an end time reads the whole (newest-first) listing, then pages what matched."""


class WebExecution(ExecutionSummary):
    decision: str | None = Field(default=None, description="The verdict's decision, if it has one.")


class WebExecutionPage(BaseModel):
    items: list[WebExecution]
    next_cursor: str | None


@router.get("/web/executions", response_model=WebExecutionPage)
async def web_executions(
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    task: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    prefix: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9a-zA-Z_-]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> WebExecutionPage:
    from quorum.history.base import EXECUTION_STATUSES

    if status is not None and status not in EXECUTION_STATUSES:
        raise ApiError(400, f"unknown status {status!r}; use one of {', '.join(sorted(EXECUTION_STATUSES))}")
    given = None if cursor is None else Cursor.decode(cursor)
    start, end = _since(since or None), _since(until or None)
    if not prefix and end is None:
        rows, after = await page_of(runtime.store, limit=limit, status=status, task=task, since=start,
                                    cursor=given)
    else:
        every = await runtime.store.list_executions(limit=_SCAN, status=status, task=task)
        matched = [r for r in every if (not prefix or r.id.startswith(prefix.lower()))
                   and (start is None or r.created_at >= start) and (end is None or r.created_at <= end)]
        rows, after = _page(matched, limit, given)
    return WebExecutionPage(items=[_item(r, runtime) for r in rows],
                            next_cursor=None if after is None else after.encode())


def _page(rows: list[ExecutionRecord], limit: int,
          cursor: Cursor | None) -> tuple[list[ExecutionRecord], Cursor | None]:
    first = 0
    if cursor is not None:
        ids: list[str] = [r.id for r in rows]
        if cursor.last_id not in ids:
            raise ApiError(400, "the cursor's execution no longer matches; start again from the first page")
        first = ids.index(cursor.last_id) + 1
    page = rows[first:first + limit]
    more = len(rows) > first + limit
    return page, (Cursor(first + limit - 1, page[-1].id) if more and page else None)


def _item(record: ExecutionRecord, runtime: Runtime) -> WebExecution:
    decision: Any = None if record.verdict is None else record.verdict.get("decision")
    return WebExecution(**summary_of(record, runtime).model_dump(),
                        decision=None if decision is None else str(decision))


@router.get("/web/executions/{execution_id}/journal")
async def web_journal(execution_id: str, runtime: RuntimeDep) -> Response:
    """``{"id", "status", "events": [...]}``: every event as the event stream sends it, except that a
    checkpoint's ``snapshot`` (the whole state, for resuming) is left out: the page does not need it,
    and it is most of the bytes of a long run."""
    import json

    record = await find_record(runtime, execution_id)
    events = [e.to_dict() for e in await runtime.journal(record)]
    for event in events:
        if event["type"] == "checkpoint:created" and isinstance(event.get("data"), dict):
            event["data"] = {k: v for k, v in event["data"].items() if k != "snapshot"}
    body = json.dumps({"id": record.id, "status": record.status, "events": events}, default=str,
                      separators=(",", ":"))
    return Response(body, media_type="application/json", headers={"cache-control": "no-store"})
