"""Fixtures of the API tests: a ``Cli`` (its own folder and history) and servers started on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import Cli

from .serving import Server


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.in_folder(tmp_path)


@pytest.fixture
def serve(cli: Cli) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(**options: Any) -> Server:
        server = Server.start(cli, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
