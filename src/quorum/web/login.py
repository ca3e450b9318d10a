"""What a request without credentials gets from the dashboard: the login link's exchange, the login
form's, or the login page. Called by :class:`quorum.server.security.SecurityMiddleware` only for a
request that has no valid credentials; ``None`` means "not a browser's page request": the API's 401."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive

from quorum.server.bodies import read_body
from quorum.web.render import render
from quorum.web.session import COOKIE_NAME, SESSION_TTL_S, Sessions

__all__ = ("local_path", "login_answer", "session_cookie_header", "wants_page")

_WRONG = ("that login link or token is not valid: a link works once, and a token must be the server's "
          "whole API token. Ask quorum serve for a new link (restart it), or paste the token below.")


def wants_page(request: Request) -> bool:
    """A browser navigating to a dashboard page (not the API, which answers problem+json)."""
    return (request.method in ("GET", "HEAD") and not request.url.path.startswith("/api/")
            and _browser(request))


def _browser(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def login_answer(request: Request, sessions: Sessions, receive: Receive, *,
                       max_body_bytes: int) -> Response | None:
    path = request.url.path
    if path == "/" and request.method == "GET" and "token" in request.query_params:
        return _exchange(request, sessions, request.query_params["token"], then="/")
    if path == "/login" and request.method == "POST" and _browser(request):
        fields = await _form(receive, max_body_bytes)
        if fields is None:
            return None
        given = fields.get("token", "")
        if not given:
            return render(request, "login.html", status=401, error="paste the API token to log in")
        return _exchange(request, sessions, given, then=local_path(fields.get("next", "/")))
    if wants_page(request):
        return render(request, "login.html", status=401, error=None, next_path=local_path(request.url.path))
    return None


def session_cookie_header(request: Request, value: str, *, max_age: int = SESSION_TTL_S) -> str:
    secure = "; Secure" if request.url.scheme == "https" else ""
    return f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"


def _exchange(request: Request, sessions: Sessions, given: str, *, then: str) -> Response:
    if not sessions.redeem(given):
        return render(request, "login.html", status=401, error=_WRONG, next_path=then)
    # 303 to a URL without the code: it leaves the address bar, and a reload does not reuse it
    answer = RedirectResponse(then, status_code=303)
    answer.headers.append("set-cookie", session_cookie_header(request, sessions.cookie_value()))
    answer.headers["cache-control"] = "no-store"
    return answer


async def _form(receive: Receive, limit: int) -> dict[str, str] | None:
    """An urlencoded body's fields (the login form's), read up to ``limit`` bytes; None when over it."""
    body = await read_body(receive, limit)
    if body is None:
        return None
    try:
        parsed = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in parsed.items() if v}


def local_path(path: str) -> str:
    """Only a path of this server to go to after login (an open redirect is a phishing tool)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
