"""The dashboard's pages: server-rendered shells (Jinja2) that the ES modules under ``static/`` fill
from the API (``fetch``) and keep live (``EventSource``). The Tasks pages are rendered whole here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from quorum.web.login import session_cookie_header
from quorum.web.render import markdown_html, render

__all__ = ("page_table", "router")

router = APIRouter(include_in_schema=False)


@router.get("/")
async def executions_page(request: Request) -> Response:
    from quorum.server.routes_web import web_executions

    if "token" in request.query_params:  # a login link opened while already logged in
        return RedirectResponse("/", status_code=303)
    # the first page of the list travels in the HTML (a JSON data block, not a script): the page is
    # usable without waiting for a second round trip
    first = await web_executions(runtime=request.app.state.runtime)
    return render(request, "executions.html", active="executions", first_page=first.model_dump(mode="json"))


@router.get("/executions/{execution_id}")
async def execution_page(request: Request, execution_id: str) -> Response:
    from quorum.server.deps import find_record

    # the id (a prefix resolved), the task and the journal's length go into the page, so that its
    # script asks for the record, the task and the event stream at once instead of one after another
    record = await find_record(request.app.state.runtime, execution_id)
    return render(request, "execution.html", active="executions", record=record)


@router.get("/start")
async def start_page(request: Request, task: str = "") -> Response:
    return render(request, "start.html", active="start", task=task)


@router.get("/compare")
async def compare_page(request: Request, a: str = "", b: str = "") -> Response:
    return render(request, "compare.html", active="compare", a=a, b=b)


@router.get("/tasks")
async def tasks_page(request: Request) -> Response:
    entries = request.app.state.runtime.scan_tasks()  # the server's loader: a parse per file version
    tasks = sorted((e.task for e in entries if e.task is not None), key=lambda t: t.name)
    return render(request, "tasks.html", active="tasks", tasks=tasks)


@router.get("/tasks/{name}")
async def task_page(request: Request, name: str) -> Response:
    from quorum.server.routes_tasks import requirements_schema

    task = request.app.state.runtime.load_task(name)  # 404/422 problems as the API's
    schema: dict[str, Any] = requirements_schema(task)
    required = set(schema.get("required", []))
    rows = [{"name": key, "required": key in required, **prop} for key, prop in schema["properties"].items()]
    return render(request, "task.html", active="tasks", task=task, requirements=rows,
                  document=markdown_html(task.document))


@router.post("/login")
async def login_again(request: Request) -> Response:
    """Reached only with valid credentials (the middleware answers every other login): back to where
    the form came from."""
    from urllib.parse import parse_qs

    from quorum.web.login import local_path

    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    return RedirectResponse(local_path(fields.get("next", ["/"])[0]), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    answer = RedirectResponse("/", status_code=303)
    answer.headers.append("set-cookie", session_cookie_header(request, "", max_age=0))
    return answer


def page_table() -> list[tuple[str, str]]:
    """Every (method, path) of the pages, path parameters as ``{name}``: for the security walk."""
    from fastapi.routing import APIRoute

    return [(method, route.path) for route in router.routes if isinstance(route, APIRoute)
            for method in sorted(route.methods or ())]
