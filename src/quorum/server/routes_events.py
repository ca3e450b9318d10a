"""Server-Sent Events: ``/executions/{id}/events`` and ``/events`` (see :mod:`quorum.server.sse`)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse

from quorum.server.deps import find_record, get_runtime
from quorum.server.runtime import Runtime
from quorum.server.sse import all_executions_stream, execution_stream, parse_global_id

__all__ = ("router",)

router = APIRouter(tags=["events"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "A stream of events."},
}


@router.get("/executions/{execution_id}/events", response_class=StreamingResponse, responses=_SSE_DOC,
            summary="The execution's events as they are recorded; ends after its last one")
async def execution_events(
    execution_id: str,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    after: Annotated[int | None, Query(ge=0, description="Start after this sequence (as Last-Event-ID).")]
    = None,
) -> StreamingResponse:
    record = await find_record(runtime, execution_id)
    start = after or 0
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    stream = execution_stream(runtime.hub, record.id, after=start, heartbeat_s=runtime.settings.heartbeat_s)
    return StreamingResponse(stream, media_type="text/event-stream", headers=_SSE_HEADERS)


@router.get("/events", response_class=StreamingResponse, responses=_SSE_DOC,
            summary="Events of every execution, from now (or after Last-Event-ID <execution>:<sequence>)")
async def all_events(
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(max_length=200)] = None,
) -> StreamingResponse:
    stream = all_executions_stream(runtime.store, runtime.hub, resume=parse_global_id(last_event_id),
                                   now=time.time(), heartbeat_s=runtime.settings.heartbeat_s)
    return StreamingResponse(stream, media_type="text/event-stream", headers=_SSE_HEADERS)
