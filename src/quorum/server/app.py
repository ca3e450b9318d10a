"""create_app: the FastAPI application of ``quorum serve``, its error answers and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from quorum.server.problems import problem, problem_for_exception
from quorum.server.routes import API_PREFIX, include_routes
from quorum.server.runtime import ConfigFlags, Runtime
from quorum.server.security import SecurityMiddleware
from quorum.server.settings import ServeSettings
from quorum.web.session import Sessions

if TYPE_CHECKING:
    from quorum.config import Config

__all__ = ("create_app",)


def create_app(cfg: Config, settings: ServeSettings, flags: ConfigFlags | None = None) -> FastAPI:
    from quorum import __version__

    sessions = Sessions(token=settings.token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from quorum.cli.run_cmd import open_history

        _print_login_link(settings, sessions)

        store = await open_history(cfg)
        runtime = Runtime(cfg=cfg, flags=flags or ConfigFlags(), settings=settings, store=store)
        app.state.runtime = runtime
        try:
            yield
        finally:
            try:
                await runtime.close()
            finally:
                await store.close()

    app = FastAPI(
        title="quorum", version=__version__, lifespan=lifespan,
        description="Start, watch and steer quorum executions. Every route but /healthz needs "
        "'Authorization: Bearer <token>' (or the dashboard's session cookie). Errors are RFC 9457 "
        "problem details. The web dashboard is at /.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
    )
    include_routes(app)
    from quorum.web import mount_dashboard

    mount_dashboard(app)
    from quorum.web.errors import for_pages

    # a browser asking for a page gets each of these answers as a page (same status and detail)
    app.add_exception_handler(RequestValidationError, for_pages(_invalid_request))
    app.add_exception_handler(HTTPException, for_pages(_http_error))
    from quorum.errors import QuorumError
    from quorum.server.problems import ApiError

    # the errors a request can cause are answered here; anything else is a 500 (and logged)
    for kind in (ApiError, QuorumError, OSError, Exception):
        app.add_exception_handler(kind, for_pages(problem_for_exception))
    app.add_middleware(SecurityMiddleware, settings=settings, sessions=sessions)
    return app


def _print_login_link(settings: ServeSettings, sessions: Sessions) -> None:
    """The dashboard's one-time login link, on stderr beside the API address (never in a log)."""
    import sys

    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    if host in ("0.0.0.0", "[::]"):
        host = "127.0.0.1"
    sys.stderr.write(f"dashboard (one-time login link): http://{host}:{settings.port}/?token="
                     f"{sessions.new_login_code()}\n")
    sys.stderr.flush()


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
              for e in exc.errors()]
    return problem(422, f"the request is not valid: {len(errors)} problem{'s' if len(errors) != 1 else ''}",
                   errors=errors, instance=request.url.path)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}; the API is under {API_PREFIX} (see {API_PREFIX}/openapi.json)"
    return problem(exc.status_code, detail, instance=request.url.path,
                   headers=None if exc.headers is None else dict(exc.headers))
