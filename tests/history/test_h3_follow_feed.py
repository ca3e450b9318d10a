"""``quorum show --follow`` is woken by the store's change feed (PostgreSQL LISTEN/NOTIFY): each event
another process commits is printed within a fraction of the fallback poll, and the tail ends with the
execution. Over SQLite (no feed) it polls, and prints the same lines."""

from __future__ import annotations

import asyncio
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

from quorum.events import EventType
from quorum.history.base import HistoryStore
from quorum.history.postgres import PostgresHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from tests.cli.helpers import Cli

from .helpers import event, record
from .pg import fresh_schema

pytestmark = pytest.mark.integration

PHASES = ("Alpha", "Beta", "Gamma", "Delta", "Epsilon")
FEED_LATENCY_S = 0.5
"""Each line must come this soon after its commit: half the fallback poll of a store with a feed (1 s),
so a tail that only polled fails, whatever the machine's load (the next write waits for the line)."""


class _Lines:
    """The follower's stdout, line by line, each with the time it arrived."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join(timeout=10)

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._queue.put((time.monotonic(), line.rstrip("\n")))
        self._queue.put((time.monotonic(), None))

    def until(self, needle: str, timeout: float = 20.0) -> float:
        """The time the first line containing ``needle`` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            at, line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"the follower ended before printing {needle!r}"
            if needle in line:
                return at


def _follower(cli: Cli, db: str, errors: Path) -> subprocess.Popen[str]:
    """``quorum show fol-1 --follow`` in a process of its own; its stderr goes to ``errors``."""
    with errors.open("w") as err:
        return subprocess.Popen([*cli.argv("show", "fol-1", "--follow", "--db", db)], cwd=cli.cwd,
                                env=cli.env, stdout=subprocess.PIPE, stderr=err, text=True)


async def _follow_while_writing(cli: Cli, store: HistoryStore, db: str) -> list[float]:
    """Start ``quorum show --follow``; then, one at a time, commit a phase:start and wait for its line.
    Returns each line's delay after the append was asked for (its commit included)."""
    await store.create_execution(record("fol-1", task="demo"))
    await store.append([event("fol-1", 1, EventType.EXECUTION_START, task="demo")])
    errors = cli.cwd / "follow.err"
    proc = _follower(cli, db, errors)
    lines = _Lines(proc)
    try:
        await asyncio.to_thread(lines.until, "execution:start")
        await asyncio.sleep(0.3)  # past the follower's first, early read: it waits for the feed now
        delays = []
        for i, name in enumerate(PHASES, start=2):
            asked = time.monotonic()  # the commit ends after this, and may end after the line arrives
            await store.append([event("fol-1", i, EventType.PHASE_START, phase=name)])
            delays.append(await asyncio.to_thread(lines.until, name) - asked)
        await store.append([event("fol-1", len(PHASES) + 2, EventType.EXECUTION_COMPLETE, task="demo")])
        await asyncio.to_thread(lines.until, "execution:complete")
        await asyncio.to_thread(lines.until, "Verdict")  # then it shows the ended execution
        assert await asyncio.to_thread(proc.wait, 30) == 0, errors.read_text()
        return delays
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        lines.join()
        assert proc.stdout is not None
        proc.stdout.close()


async def test_follow_reacts_to_notifications_from_another_process(tmp_path: Path) -> None:
    cli = Cli.in_folder(tmp_path)
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        delays = await _follow_while_writing(cli, store, url)
    print("follow delays (PostgreSQL feed):", [f"{d * 1000:.0f} ms" for d in delays])
    assert max(delays) < FEED_LATENCY_S, [f"{d * 1000:.0f} ms" for d in delays]


async def test_follow_polls_a_store_without_a_feed(tmp_path: Path) -> None:
    cli = Cli.in_folder(tmp_path)
    async with SQLiteHistoryStore(cli.db) as store:
        delays = await _follow_while_writing(cli, store, str(cli.db))
    print("follow delays (SQLite poll):", [f"{d * 1000:.0f} ms" for d in delays])
    assert len(delays) == len(PHASES)
