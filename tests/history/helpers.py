"""Small builders shared by the history tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from quorum.events import Event
from quorum.history.base import ExecutionRecord
from quorum.ids import ExecutionId


def record(
    eid: str, *, task: str = "demo", created_at: float | None = None, **fields: Any
) -> ExecutionRecord:
    now = time.time() if created_at is None else created_at
    return ExecutionRecord(
        id=ExecutionId(eid), task=task, status="pending", created_at=now, updated_at=now, **fields
    )


def event(
    eid: str, sequence: int, type: str = "phase:start", *, ts: float | None = None, **fields: Any
) -> Event:
    return Event(
        type=type,
        execution_id=ExecutionId(eid),
        sequence=sequence,
        timestamp=time.time() if ts is None else ts,
        **fields,
    )


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def this_host() -> str:
    import socket

    return socket.gethostname()


def live_owner() -> str:
    return f"{this_host()}:{os.getpid()}:test"
