"""Reading a request body with a size limit (the security middleware's, and the login form's)."""

from __future__ import annotations

from starlette.types import Receive

__all__ = ("read_body",)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """A request's whole body, read up to ``limit`` bytes; None when it is larger (declared or streamed)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)
