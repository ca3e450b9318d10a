"""The dashboard's login: one-time login codes, and the session cookie a code (or the token) buys.

A browser cannot send ``Authorization: Bearer``, so ``quorum serve`` prints a link carrying a one-time
code; the first request with it gets a session cookie (HttpOnly, SameSite=Strict) and a redirect to a
URL without the code. The cookie holds no secret of its own: it is an expiry time signed with the API
token (HMAC-SHA256), so it stays valid across a restart with the same token, dies with a new token, and
the server keeps no session table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

__all__ = ("COOKIE_NAME", "SESSION_TTL_S", "Sessions")

COOKIE_NAME = "quorum_session"
SESSION_TTL_S = 12 * 3600
"""How long a browser stays logged in; then it needs a new link (or the token in the login form)."""
_VERSION = "v1"


@dataclass(slots=True)
class Sessions:
    token: str
    _codes: set[str] = field(default_factory=set)

    def new_login_code(self) -> str:
        """A code good for one login (the link printed at start); the token itself works any number of
        times, in the link or in the login form."""
        code = secrets.token_urlsafe(24)
        self._codes.add(code)
        return code

    def redeem(self, given: str) -> bool:
        """Whether ``given`` is the API token or an unused login code (which it then uses up)."""
        candidate = given.strip()
        if candidate and hmac.compare_digest(candidate.encode(), self.token.encode()):
            return True
        for code in list(self._codes):  # constant time against each code: a handful at most
            if hmac.compare_digest(candidate.encode(), code.encode()):
                self._codes.discard(code)
                return True
        return False

    def cookie_value(self, *, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + SESSION_TTL_S)
        return f"{_VERSION}.{expires}.{self._signature(expires)}"

    def valid_cookie(self, value: str | None, *, now: float | None = None) -> bool:
        if not value:
            return False
        parts = value.split(".")
        if len(parts) != 3 or parts[0] != _VERSION or not parts[1].isdigit():
            return False
        expires = int(parts[1])
        if expires < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(parts[2].encode(), self._signature(expires).encode())

    def _signature(self, expires: int) -> str:
        digest = hmac.new(self.token.encode(), f"quorum-session|{_VERSION}|{expires}".encode(),
                          hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def __repr__(self) -> str:  # neither the token nor a code reaches a log line
        return f"Sessions(codes={len(self._codes)})"
