"""The gate every request passes before any route: Host allow-list, Origin, body size, bearer token.

A pure ASGI middleware (not a FastAPI dependency), so that no route can be added without it: the
route-table test in tests/server walks every route and expects each refusal.

- Host not in the allow-list → 400 (DNS rebinding: a hostile page whose name resolves to 127.0.0.1).
- An ``Origin`` that is not one of the allowed hosts → 403, on every request (CSRF: a browser page of
  another site; non-browser clients send no Origin).
- A body longer than the limit → 413, whether declared by Content-Length or streamed.
- No ``Authorization: Bearer <token>``, or a wrong one → 401, on every route but ``/healthz``.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quorum.server.problems import problem
from quorum.server.settings import ServeSettings

__all__ = ("OPEN_PATHS", "SecurityMiddleware")

OPEN_PATHS = frozenset({"/healthz", "/api/v1/healthz"})
"""Answered without a token (liveness probes); still behind the Host and Origin checks."""


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: ServeSettings) -> None:
        self.app = app
        self.settings = settings
        self._expected = f"Bearer {settings.token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            status, detail, headers = refusal
            await problem(status, detail, instance=request.url.path, headers=headers)(scope, receive, send)
            return
        if "content-length" not in request.headers and request.method not in ("GET", "HEAD"):
            # a streamed (chunked) body: read it here, up to the limit, so that an endless one is
            # refused before a route sees it (FastAPI would turn a failure while it reads into a 400)
            body = await self._read_limited(receive)
            if body is None:
                detail = f"the request body is larger than {self.settings.max_body_bytes} bytes"
                await problem(413, detail, instance=request.url.path)(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_limited(self, receive: Receive) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(parts)

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
        if request.url.path in OPEN_PATHS:
            return None
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, self._expected):
            what = "a wrong token" if given else "no token"
            return 401, (f"this API needs 'Authorization: Bearer <token>' ({what} was given); the token is "
                         "QUORUM_API_TOKEN, [serve] token in quorum.toml, or the one quorum serve printed"), \
                {"WWW-Authenticate": 'Bearer realm="quorum"'}
        return None


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
