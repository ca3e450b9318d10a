"""Fixtures of the CLI tests: ``cli`` runs ``python -m quorum`` in a subprocess with an environment of its own
(a fresh working directory, its own history database, no colour, fixture agents importable); ``pty_run``
starts it on a pseudo-terminal for the live view."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from .helpers import Cli, PtyRun


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.in_folder(tmp_path)


@pytest.fixture
def pty_run(cli: Cli) -> Iterator[Callable[..., PtyRun]]:
    started: list[PtyRun] = []

    def start(*args: str, env: Mapping[str, str] | None = None) -> PtyRun:
        full_env = {**cli.env, "TERM": "xterm-256color", **(env or {})}
        full_env.pop("NO_COLOR", None)
        master, slave = pty.openpty()
        proc = subprocess.Popen(cli.argv(*args), cwd=cli.cwd, env=full_env, stdin=slave, stdout=slave,
                                stderr=slave, start_new_session=True)
        os.close(slave)
        run = PtyRun(proc=proc, fd=master)
        started.append(run)
        return run

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
