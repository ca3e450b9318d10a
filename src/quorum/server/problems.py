"""Errors as RFC 9457 problem details (``application/problem+json``), worded as the CLI words them.

The text comes from :func:`quorum.errors_text.describe_error`, the module ``quorum``'s error output
uses too; here its kind picks the HTTP status. An unexpected exception is logged (type only in the
answer: its text could hold anything) and answered 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from quorum.errors_text import ErrorKind, describe_error

__all__ = ("ApiError", "problem", "problem_for_exception")

PROBLEM_TYPE = "application/problem+json"
_log = logging.getLogger("quorum.server")

_KIND_STATUS: dict[ErrorKind, int] = {
    "definition": 422,
    "task_not_found": 404,
    "not_found": 404,
    "input": 422,
    "configuration": 400,
    "conflict": 409,
    "os": 500,
    "failed": 409,
    "internal": 500,
}

_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           409: "Conflict", 413: "Request body too large", 415: "Unsupported media type",
           422: "Unprocessable content", 500: "Internal server error"}


class ApiError(Exception):
    """An answer other than success, raised by a route: its status, the headline, every detail."""

    def __init__(self, status: int, detail: str, *, errors: Sequence[str] = ()) -> None:
        self.status = status
        self.detail = detail
        self.errors = tuple(e for e in errors if e)
        super().__init__(detail)


def problem(status: int, detail: str, *, errors: Sequence[str] = (), instance: str | None = None,
            headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status,
                            "detail": detail}
    if errors:
        body["errors"] = list(errors)
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def problem_for_exception(request: Request, exc: BaseException) -> Response:
    from quorum.cli.common import CliError, ExitCode

    path = request.url.path
    if isinstance(exc, ApiError):
        return problem(exc.status, exc.detail, errors=exc.errors, instance=path)
    if isinstance(exc, CliError):
        # the CLI's own checks (an unknown or ambiguous id, a bad duration): a usage error is the
        # request's fault; the lookups fail with FAILED only for "no execution with id ..."
        status = 400 if exc.code == ExitCode.USAGE else 404
        return problem(status, str(exc), errors=exc.details, instance=path)
    text = describe_error(exc)
    status = _KIND_STATUS[text.kind]
    if text.kind == "internal":
        _log.error("internal error on %s %s: %s", request.method, path, type(exc).__name__, exc_info=exc)
        return problem(500, f"internal error: {type(exc).__name__}; the server log has the details",
                       instance=path)
    # the CLI indents its lists ("  - amount: ..."); an API lists them plainly
    errors = [line.strip().removeprefix("- ") for line in text.details]
    return problem(status, text.headline.rstrip(":"), errors=errors, instance=path)
