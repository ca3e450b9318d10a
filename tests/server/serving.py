"""A real ``quorum serve`` in a subprocess on a free loopback port, and an SSE reader for httpx.

The server shares its history (a SQLite file) with the ``quorum`` commands of the same :class:`Cli`
(tests/cli/helpers.py), so a test can start an execution with ``quorum run`` in another process and
watch or steer it through the API.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.cli.helpers import AGENTS, FIXTURES, Cli

TASKS = FIXTURES / "tasks"
TOKEN = "test-token-0123456789abcdef"
DEMO_INPUT: dict[str, Any] = {"ticker": "BTC", "amount": 10000, "riskTolerance": "medium"}
_START_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    cli: Cli
    proc: subprocess.Popen[str]
    port: int
    token: str | None
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, cli: Cli, *, delay: str = "0", token: str | None = TOKEN,
              extra_env: dict[str, str] | None = None, tasks: Path = TASKS) -> Server:
        port = free_port()
        env = {**cli.env, "QUORUM_TEST_DELAY": delay, **(extra_env or {})}
        if token is not None:
            env["QUORUM_API_TOKEN"] = token
        log = cli.cwd / f"serve-{port}.log"
        with log.open("w") as out:
            argv = cli.argv("serve", "--port", str(port), "--tasks-dir", str(tasks),
                            "--agents-dir", str(AGENTS))
            proc = subprocess.Popen(
                argv,
                cwd=cli.cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
            )
        server = cls(cli=cli, proc=proc, port=port, token=token, log=log)
        server._wait_up()
        return server

    def _wait_up(self) -> None:
        deadline = time.monotonic() + _START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"quorum serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"quorum serve did not come up in {_START_S}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self, *, token: str | None = None, timeout: float = 60.0) -> httpx.Client:
        given = token if token is not None else self.token
        headers = {"Authorization": f"Bearer {given}"} if given else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=timeout)

    def interrupt(self, timeout: float = 90.0) -> int:
        """Ctrl-C, as a terminal sends it; returns the exit status."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class SseMessage:
    event: str
    id: str
    data: dict[str, Any] = field(default_factory=dict)


def sse_messages(response: httpx.Response) -> Iterator[SseMessage | None]:
    """The messages of an event stream, in order; ``None`` for each comment line (a heartbeat)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            yield None
            continue
        if line == "":
            if "event" in fields:
                yield SseMessage(event=fields["event"], id=fields.get("id", ""),
                                 data=json.loads(fields.get("data", "{}")))
            fields = {}
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")


def wait_status(client: httpx.Client, execution_id: str, wanted: tuple[str, ...], *,
                timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = client.get(f"/executions/{execution_id}")
        assert answer.status_code == 200, answer.text
        last = answer.json()
        if last["status"] in wanted:
            return last
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not reach {wanted}: {last.get('status')}")


def start_demo(client: httpx.Client, **input: Any) -> str:
    answer = client.post("/executions", json={"task": "cli-demo", "input": {**DEMO_INPUT, **input}})
    assert answer.status_code == 201, answer.text
    execution_id: str = answer.json()["id"]
    return execution_id
