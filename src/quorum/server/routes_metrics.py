"""``GET /metrics``: Prometheus text of the process's metrics, plus what the history says at scrape time.

Two sources, one page:

- the OpenTelemetry instruments of :mod:`quorum.telemetry.metrics`, fed by the events of the executions
  this server drives (each executor instrumented with ``metrics=True``);
- ``quorum_history_executions{status}`` and ``quorum_history_approvals_waiting``, read from the history
  store on each scrape, so executions run by other processes on the same history count too.

Served behind the same bearer token as the API (Prometheus sends it with ``authorization:`` in its
scrape config). 503 with a reason when OpenTelemetry is not installed or metrics are turned off.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from quorum.server.deps import get_runtime
from quorum.server.problems import ApiError
from quorum.server.runtime import Runtime

__all__ = ("router",)

router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics (text exposition format)", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    from quorum.telemetry.providers import otel_available
    from quorum.telemetry.settings import settings_of

    if not settings_of(runtime.cfg).metrics:
        raise ApiError(503, "metrics are turned off ([telemetry] metrics = false in quorum.toml)")
    if not otel_available():
        raise ApiError(503, "metrics need OpenTelemetry on the server: pip install 'quorum[otel]'")
    from quorum.telemetry.metrics import default_hub
    from quorum.telemetry.prometheus import CONTENT_TYPE, Labels, gauge_lines, render

    stats = await runtime.store.stats()
    by_status: dict[Labels, float] = {(("status", status),): float(count)
                                      for status, count in sorted(stats.by_status.items())}
    extra = gauge_lines("quorum_history_executions", "executions in the history store, by status", by_status)
    extra += gauge_lines("quorum_history_approvals_waiting_executions",
                         "executions of the history waiting for an approval",
                         {(): float(stats.by_status.get("waiting", 0))})
    return Response(render(default_hub().collect(), extra), media_type=CONTENT_TYPE)
