"""The route table: every router of the API, under ``/api/v1``.

A new resource is added here (and nowhere else); the security middleware stands in front of all of
them, and tests/server walks this table to check that each route refuses what it must.
"""

from __future__ import annotations

from fastapi import FastAPI

from quorum.server import routes_events, routes_executions, routes_health, routes_tasks

__all__ = ("API_PREFIX", "include_routes")

API_PREFIX = "/api/v1"

ROUTERS = (routes_tasks.router, routes_executions.router, routes_events.router, routes_health.router)


def include_routes(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    # the probe also at the root, where load balancers look by default
    app.add_api_route("/healthz", routes_health.health, methods=["GET"], include_in_schema=False)
