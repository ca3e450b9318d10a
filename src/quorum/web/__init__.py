"""The web dashboard of ``quorum serve``: pages at ``/``, static ES modules and CSS at ``/static/``.

Server-rendered HTML (Jinja2, autoescaped) and small hand-written ES modules that use the public API
(``/api/v1``, fetch and Server-Sent Events) — no build step, nothing fetched from elsewhere at run time.
The browser logs in with a one-time link and holds a session cookie (:mod:`quorum.web.session`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum.web.assets import STATIC_DIR

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ("STATIC_DIR", "mount_dashboard", "web_route_table")


def mount_dashboard(app: FastAPI) -> None:
    from quorum.server import routes_web
    from quorum.server.routes import API_PREFIX
    from quorum.web.assets import ImmutableStatic, asset_version
    from quorum.web.pages import router

    app.include_router(routes_web.router, prefix=API_PREFIX)
    app.include_router(router)
    app.mount(f"/static/{asset_version()}", ImmutableStatic(directory=STATIC_DIR), name="static")


def web_route_table() -> list[tuple[str, str]]:
    """Every (method, path) the dashboard adds: its pages and its API helpers (not the static files,
    which are open)."""
    from fastapi.routing import APIRoute

    from quorum.server import routes_web
    from quorum.server.routes import API_PREFIX
    from quorum.web.pages import page_table

    api = [(method, API_PREFIX + route.path) for route in routes_web.router.routes
           if isinstance(route, APIRoute) for method in sorted(route.methods or ())]
    return [*page_table(), *api]
