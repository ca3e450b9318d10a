"""Debian's Chromium driven by Playwright, and a real ``quorum serve`` for it to look at.

Locally, a missing /usr/bin/chromium skips with how to install it; in CI (``CI`` set) it fails: a
browser that is not there must turn the run red (as tests/servers.py does for PostgreSQL and Redis).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.cli.helpers import FIXTURES
from tests.cli.test_cli_approvals import GATED
from tests.server.serving import TOKEN, Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize

CHROMIUM = Path(os.environ.get("QUORUM_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic"]
ARTIFACTS = Path(__file__).parent / "artifacts"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def require_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"Chromium is not at {CHROMIUM}; install it with: apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(f"CI needs {message}", pytrace=False)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(path), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def tasks_folder(root: Path) -> Path:
    """The CLI's demo committee, the gated purchase, side by side."""
    folder = root / "tasks"
    folder.mkdir(exist_ok=True)
    shutil.copy(FIXTURES / "tasks" / "cli-demo.md", folder / "cli-demo.md")
    (folder / "gated-purchase.md").write_text(GATED, encoding="utf-8")
    return folder


class Watched:
    """A page with its console errors and failed requests kept: a CSP violation (an inline script or
    style) or a script error shows up there, and a test ends by asserting there were none."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("dialog", lambda dialog: dialog.accept())  # the confirm() of Abort

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        # an HTTP error answer (a 422 shown beside a field, a stream cut by a restart) is logged by
        # Chromium as "Failed to load resource"; what is kept: script errors and CSP refusals
        if message.type == "error" and not re.match(r"Failed to load resource|net::ERR", text):
            self.errors.append(text)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors


def logged_in(browser: Browser, server: Server, **context: Any) -> Watched:
    ctx = browser.new_context(viewport=context.pop("viewport", VIEWPORT), **context)
    page = ctx.new_page()
    watched = Watched(page)
    page.goto(f"{server.url}/?token={TOKEN}")
    page.wait_for_url(f"{server.url}/")
    return watched


def restart_on_same_port(server: Server, **options: Any) -> Server:
    """A new ``quorum serve`` on the port of ``server``, over the same history, after the first one was
    killed (SIGKILL: a crash, the harder case; a Ctrl-C with an event stream open waits out uvicorn's
    35 s graceful timeout, see the report of issue 18)."""
    from unittest.mock import patch

    server.proc.kill()
    server.proc.wait(timeout=30)
    with patch("tests.server.serving.free_port", return_value=server.port):
        return Server.start(server.cli, **options)
