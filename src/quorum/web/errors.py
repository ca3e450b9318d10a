"""Errors of a page a browser asked for, as a page: the API's problem (same status, same detail) in
the dashboard's layout, instead of a JSON document in the browser window."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from quorum.web.login import wants_page
from quorum.web.render import render

__all__ = ("for_pages",)

Handler = Callable[[Request, Any], "Response | Awaitable[Response]"]


def for_pages(handler: Handler) -> Callable[[Request, Any], Awaitable[Response]]:
    async def answer(request: Request, exc: Any) -> Response:
        response = handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        assert isinstance(response, Response)
        if not wants_page(request):
            return response
        try:
            detail = str(json.loads(bytes(response.body)).get("detail", ""))
        except (ValueError, AttributeError):
            detail = ""
        return render(request, "error.html", status=response.status_code, code=response.status_code,
                      detail=detail)

    return answer
