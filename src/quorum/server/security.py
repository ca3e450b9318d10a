"""The gate every request passes before any route: Host allow-list, Origin, body size, credentials.

A pure ASGI middleware (not a FastAPI dependency), so that no route can be added without it: the
route-table tests in tests/server and tests/web walk every route and expect each refusal.

- Host not in the allow-list → 400 (DNS rebinding: a hostile page whose name resolves to 127.0.0.1).
- An ``Origin`` that is not one of the allowed hosts → 403, on every request (CSRF: a browser page of
  another site; non-browser clients send no Origin).
- A body longer than the limit → 413, whether declared by Content-Length or streamed.
- Credentials: ``Authorization: Bearer <token>``, or the dashboard's session cookie
  (:mod:`quorum.web.session`). Neither, or a wrong one → 401 on every route but ``/healthz`` and the
  dashboard's static files; a browser asking for a page gets the login page (still 401, no data).
- A cookie-authenticated request that changes something (not GET/HEAD) must carry an ``Origin`` equal
  to the server's own (scheme, host and port) → 403 otherwise: SameSite=Strict does not tell apart two
  ports of one host, and another local web app is same-site.

Every answer carries the dashboard's Content-Security-Policy and the usual hardening headers.
"""

from __future__ import annotations

import hmac
from typing import Literal
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quorum.server.bodies import read_body
from quorum.server.problems import problem
from quorum.server.settings import ServeSettings
from quorum.web.session import COOKIE_NAME, Sessions

__all__ = ("CONTENT_SECURITY_POLICY", "OPEN_PATHS", "OPEN_PREFIXES", "SecurityMiddleware")

OPEN_PATHS = frozenset({"/healthz", "/api/v1/healthz"})
"""Answered without a token (liveness probes); still behind the Host and Origin checks."""
OPEN_PREFIXES = ("/static/",)
"""The dashboard's scripts, styles and icons: the same for everyone, and the login page needs them."""

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_HARDENING = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on the page's own POSTs
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Credential = Literal["bearer", "cookie"]


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: ServeSettings, sessions: Sessions | None = None) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions if sessions is not None else Sessions(token=settings.token)
        self._expected = f"Bearer {settings.token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _hardened(send)
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is None:
            refusal = self._credential_refusal(request)
            if refusal is not None and refusal[0] == 401:
                from quorum.web.login import login_answer

                # a browser asking for a page, or bringing a login link or the login form
                answer = await login_answer(request, self.sessions, receive,
                                            max_body_bytes=self.settings.max_body_bytes)
                if answer is not None:
                    await answer(scope, receive, send)
                    return
        if refusal is not None:
            status, detail, headers = refusal
            await problem(status, detail, instance=request.url.path, headers=headers)(scope, receive, send)
            return
        if "content-length" not in request.headers and request.method not in ("GET", "HEAD"):
            # a streamed (chunked) body: read it here, up to the limit, so that an endless one is
            # refused before a route sees it (FastAPI would turn a failure while it reads into a 400)
            body = await read_body(receive, self.settings.max_body_bytes)
            if body is None:
                detail = f"the request body is larger than {self.settings.max_body_bytes} bytes"
                await problem(413, detail, instance=request.url.path)(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


    def _refusal(self, request: Request) -> tuple[int, str, dict[str, str] | None] | None:
        host = _host_name(request.headers.get("host", ""))
        if host not in self.settings.allowed_hosts:
            return 400, ("this server does not answer for the host named in the request's Host header; "
                         "add it to [serve] allowed_hosts in quorum.toml or QUORUM_ALLOWED_HOSTS"), None
        origin = request.headers.get("origin")
        if origin is not None and _host_name(urlsplit(origin).netloc) not in self.settings.allowed_hosts:
            return 403, "requests from another site's pages are refused (foreign Origin)", None
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.settings.max_body_bytes):
            return 413, f"the request body is larger than {self.settings.max_body_bytes} bytes", None
        return None

    def _credential(self, request: Request) -> Credential | None:
        given = request.headers.get("authorization", "").encode()
        if given and hmac.compare_digest(given, self._expected):
            return "bearer"
        if not given and self.sessions.valid_cookie(request.cookies.get(COOKIE_NAME)):
            return "cookie"
        return None

    def _credential_refusal(self, request: Request) -> tuple[int, str, dict[str, str] | None] | None:
        path = request.url.path
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return None
        credential = self._credential(request)
        if credential is None:
            what = "a wrong token" if request.headers.get("authorization") else "no token"
            return 401, (f"this API needs 'Authorization: Bearer <token>' ({what} was given); the token is "
                         "QUORUM_API_TOKEN, [serve] token in quorum.toml, or the one quorum serve printed"), \
                {"WWW-Authenticate": 'Bearer realm="quorum"'}
        if credential == "cookie" and request.method not in _SAFE_METHODS and not _same_origin(request):
            return 403, ("a change made with the dashboard's session cookie must come from the dashboard's "
                         "own page (its Origin header, scheme, host and port, must be this server's)"), None
        return None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    scheme = request.url.scheme
    return parts.scheme == scheme and parts.netloc.lower() == request.headers.get("host", "").lower()


def _hardened(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in _HARDENING:
                if name not in headers:
                    headers[name] = value
        await send(message)

    return sending


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _host_name(netloc: str) -> str:
    """``Host`` or an Origin's netloc without the port, lower case (``[::1]:8300`` → ``::1``)."""
    value = netloc.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value
