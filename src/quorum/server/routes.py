"""The route table: every router of the API, under ``/api/v1``.

A new resource is added here (and nowhere else); the security middleware stands in front of all of
them, and tests/server walks this table to check that each route refuses what it must.
"""

from __future__ import annotations

from fastapi import FastAPI

from quorum.server import (
    routes_approvals,
    routes_children,
    routes_dryrun,
    routes_events,
    routes_executions,
    routes_health,
    routes_metrics,
    routes_tasks,
)

__all__ = ("API_PREFIX", "ROOT_ROUTES", "include_routes", "route_table")

API_PREFIX = "/api/v1"

ROUTERS = (routes_tasks.router, routes_executions.router, routes_children.router, routes_dryrun.router,
           routes_approvals.router, routes_events.router, routes_health.router)
ROOT_ROUTES = (("GET", "/healthz"),)
"""Served outside /api/v1 and outside the OpenAPI document."""
SCRAPE_ROUTES = (("GET", "/metrics"),)
"""Prometheus scrapes the root too (with the token: metrics name tasks and agents)."""


def route_table() -> list[tuple[str, str]]:
    """Every (method, path) the API serves, path parameters as ``{name}``: what the security test walks."""
    from fastapi.routing import APIRoute

    table = [(method, API_PREFIX + route.path) for router in ROUTERS for route in router.routes
             if isinstance(route, APIRoute) for method in sorted(route.methods or ())]
    # the dashboard's pages and routes: quorum.web.web_route_table, walked by tests/web/test_web_security.py
    return [*table, ("GET", f"{API_PREFIX}/openapi.json"), *ROOT_ROUTES, *SCRAPE_ROUTES]


def include_routes(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    # the probe also at the root, where load balancers look by default
    for method, path in ROOT_ROUTES:
        app.add_api_route(path, routes_health.health, methods=[method], include_in_schema=False)
    app.include_router(routes_metrics.router)
