"""The machine's PostgreSQL and Redis, for the tests that need a real server.

Locally, a test whose server is not reachable is skipped with a message that says how to start it. In CI
(``CI`` set) it fails instead: a server that is down must turn the run red, never pass by skipping.
The addresses can be moved with ``QUORUM_TEST_POSTGRES`` and ``QUORUM_TEST_REDIS``.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

__all__ = ("POSTGRES_URL", "REDIS_URL", "require_postgres", "require_redis")

POSTGRES_URL = os.environ.get("QUORUM_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("QUORUM_TEST_REDIS", "redis://127.0.0.1:6379/0")

_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
}


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _require(name: str, url: str, default_port: int) -> str:
    if _reachable(url, default_port):
        return url
    parts = urlsplit(url)
    shown = parts._replace(netloc=f"{parts.hostname}:{parts.port or default_port}").geturl()  # no password
    message = f"{name} is not reachable at {shown}; start it with: {_START[name]}"
    if os.environ.get("CI"):
        pytest.fail(f"CI needs {message}", pytrace=False)
    pytest.skip(message)


def require_postgres() -> str:
    """The PostgreSQL URL, once the server answers (skip locally, fail in CI, when it does not)."""
    return _require("PostgreSQL", POSTGRES_URL, 5432)


def require_redis() -> str:
    """The Redis URL, once the server answers (skip locally, fail in CI, when it does not)."""
    return _require("Redis", REDIS_URL, 6379)
