"""A Redis server of a test's own (``redis-server --port <free> --save ''``), to stop, freeze or kill in
the middle of a run: the machine's shared server must never be the one that goes away."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest

from tests.servers import require_redis

__all__ = ("RedisProcess", "free_port", "unique_prefix")


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_prefix(kind: str) -> str:
    """A key prefix no other test (nor a real cache) uses."""
    return f"quorum:test:{uuid.uuid4().hex[:12]}:{kind}:"


class RedisProcess:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            require_redis()  # skips (or fails in CI) with how to get Redis
            pytest.skip("redis-server is not on PATH")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.kill()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    def freeze(self) -> None:
        """It stops answering (connections stay open): a timeout, not a refusal."""
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)
            self._proc.kill()
        self._proc.wait(timeout=10)
