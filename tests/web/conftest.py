"""Fixtures of the dashboard tests: one Chromium per module, a ``quorum serve`` per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.cli.helpers import Cli
from tests.server.serving import Server

from .browser import chromium, tasks_folder

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def dashboard_browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.in_folder(tmp_path)


@pytest.fixture
def serve(cli: Cli, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(**options: Any) -> Server:
        options.setdefault("tasks", tasks_folder(tmp_path))
        server = Server.start(cli, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
