"""Helpers for the CLI tests: the real ``quorum`` command in a subprocess, with or without a terminal.

Every run gets its own environment: a fresh working directory (so no quorum.toml of the repository is
found), its own history database, no colour, a fixed width, and ``tests/cli/fixtures`` on PYTHONPATH so
that the fixture agents (``python:cli_agents:...``) import.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
DEMO_TASK = FIXTURES / "tasks" / "cli-demo.md"
AGENTS = FIXTURES / "agents"
DEMO_INPUT = ("ticker=BTC", "amount=10000", "riskTolerance=medium")


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"quorum {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Cli:
    """``cli("validate", path)`` runs ``python -m quorum validate path`` and returns a :class:`Result`."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self.db = Path(env["QUORUM_DB"])

    @classmethod
    def in_folder(cls, root: Path) -> Cli:
        """A ``quorum`` whose working directory, history, data and home all lie under ``root``."""
        work = root / "work"
        work.mkdir()
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("QUORUM_", "OPENAI_", "ANTHROPIC_")) and k not in ("NO_COLOR", "FORCE_COLOR")
        }
        env.update(
            {
                "QUORUM_DB": str(root / "history.db"),
                # no run reaches a market data provider: a test that wants data gives --prices or --data
                "QUORUM_DATA": "none",
                "XDG_DATA_HOME": str(root / "xdg"),
                "HOME": str(root / "home"),
                "PYTHONPATH": os.pathsep.join([str(FIXTURES), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                "NO_COLOR": "1",
                "COLUMNS": "120",
                "TERM": "dumb",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return cls(work, env)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "quorum", *args]

    def __call__(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60,
                 input: str | None = None) -> Result:
        proc = subprocess.run(
            self.argv(*args), cwd=self.cwd, env={**self.env, **(env or {})}, capture_output=True, text=True,
            timeout=timeout, input=input,
        )
        return Result(args=args, code=proc.returncode, out=proc.stdout, err=proc.stderr)

    def popen(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args), cwd=self.cwd, env={**self.env, **(env or {})}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )

    def run_demo(self, *extra: str, env: Mapping[str, str] | None = None) -> Result:
        return self("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS), *extra, env=env)

    def latest_id(self) -> str:
        rows = self("history", "--json", "-n", "1").json()
        assert rows, "no execution recorded"
        return str(rows[0]["id"])

    def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 20.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what or predicate}")

    def status(self, execution_id: str) -> str | None:
        """The recorded status, read straight from the SQLite file (cheaper than a subprocess)."""
        import sqlite3

        if not self.db.exists():
            return None
        conn = sqlite3.connect(f"{self.db.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT status FROM executions WHERE id = ?", (execution_id,)).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()
        return None if row is None else str(row[0])

    def newest_id(self) -> str | None:
        import sqlite3

        if not self.db.exists():
            return None
        conn = sqlite3.connect(f"{self.db.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT id FROM executions ORDER BY created_at DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()
        return None if row is None else str(row[0])


@dataclass
class PtyRun:
    """A ``quorum`` process whose output is a pseudo-terminal; ``output`` is everything it wrote so far.

    ``ctrl_c`` delivers SIGINT to the process, as the terminal does when Ctrl-C is pressed (the
    process is not given the terminal as its controlling one, which would need a fork in this
    multi-threaded test process)."""

    proc: subprocess.Popen[bytes]
    fd: int
    output: bytes = b""

    def read(self, timeout: float = 0.05) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            self.output += chunk

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def wait_text(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if time.monotonic() > deadline or (self.proc.poll() is not None and needle not in self.text):
                self.read()
                if needle in self.text:
                    return
                raise AssertionError(f"{needle!r} never appeared; output:\n{self.text[-3000:]}")
            self.read()

    def ctrl_c(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"quorum did not exit; output:\n{self.text[-3000:]}")
            self.read()
        for _ in range(20):  # drain what is left on the terminal
            before = len(self.output)
            self.read(0.02)
            if len(self.output) == before:
                break
        os.close(self.fd)
        return self.proc.returncode
