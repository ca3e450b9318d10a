"""Live events between processes: ``quorum run`` with ``QUORUM_EVENTS`` publishes, another process
receives every event in order; a server's FeedHub following them loses nothing when its connection
is killed mid-run or when messages go missing (it reads the journal by sequence)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from quorum.events import Event
from quorum.fanout import RedisLiveSource
from quorum.history.base import HistoryStore
from quorum.history.stores import open_store
from quorum.server.feeds import Feed, FeedHub
from tests.cli.helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli
from tests.fanout.redis_process import RedisProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    proc = RedisProcess()
    yield proc
    proc.kill()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.in_folder(tmp_path)


def journal(cli: Cli, execution_id: str) -> list[Event]:
    async def read() -> list[Event]:
        store = open_store(cli.db)
        await store.open()
        try:
            return await store.read_journal(execution_id)
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_second_process_receives_every_event_of_a_run_in_order(cli: Cli, redis_proc: RedisProcess) -> None:
    follower = subprocess.Popen([sys.executable, "-m", "tests.fanout.follow_child", redis_proc.url], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    received: list[dict[str, Any]] = []
    with follower:
        try:
            assert follower.stdout is not None
            assert follower.stdout.readline().strip() == "ready"
            run = cli.run_demo("--json", env={"QUORUM_EVENTS": redis_proc.url, "QUORUM_TEST_DELAY": "0.01"})
            assert run.code == 0, run
            execution_id = cli.latest_id()
            while not received or received[-1]["type"] != "execution:complete":
                line = follower.stdout.readline()
                assert line, "the follower ended before the run's last event"
                received.append(json.loads(line))
        finally:
            follower.terminate()
    recorded = journal(cli, execution_id)
    assert len(recorded) > 10
    assert {e["execution_id"] for e in received} == {execution_id}
    assert [(e["sequence"], e["type"]) for e in received] == [(e.sequence, e.type) for e in recorded]


class Lossy:
    """The Redis live source, with every ``drop_every``-th message lost on the way (never the last)."""

    def __init__(self, url: str, drop_every: int) -> None:
        self.inner = RedisLiveSource(url)
        self.drop_every = drop_every
        self.dropped = 0
        self.delivered = 0

    async def watch(self, on_event: Callable[[Event], Any], on_connect: Callable[[], Any]) -> None:
        def maybe(event: Event) -> None:
            if event.sequence % self.drop_every == 0 and not event.type.startswith("execution:"):
                self.dropped += 1
                return
            self.delivered += 1
            on_event(event)

        await self.inner.watch(maybe, on_connect)


async def follow_run(cli: Cli, url: str, live: Any, during: Callable[[Feed], Any] | None = None,
                     ) -> tuple[list[Event], list[Event]]:
    """Start ``quorum run`` publishing to ``url``, follow its execution with a FeedHub over the same
    history and ``live`` (polling the journal only once a minute), and return what the feed had at
    the end beside the journal."""
    proc = cli.popen("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS), "--json",
                     env={"QUORUM_EVENTS": url, "QUORUM_TEST_DELAY": "0.15"})
    store: HistoryStore = open_store(cli.db)
    hub: FeedHub | None = None
    try:
        deadline = time.monotonic() + 30
        while (execution_id := cli.newest_id()) is None:
            assert time.monotonic() < deadline, "the run recorded no execution"
            await asyncio.sleep(0.05)
        await store.open()
        hub = FeedHub(store, poll_s=60.0, live=live)
        feed = hub.acquire(execution_id)
        if during is not None:
            await during(feed)
        deadline = time.monotonic() + 40
        while not feed.ended:
            assert time.monotonic() < deadline, f"the feed stopped at {feed.last}"
            await asyncio.sleep(0.05)
        seen = [e for e, _ in await feed.after(0)]
        assert proc.wait(timeout=30) == 0
        return seen, await store.read_journal(execution_id)
    finally:
        if hub is not None:
            await hub.close()
        await store.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


async def test_a_feed_whose_connection_is_killed_mid_run_catches_up(cli: Cli,
                                                                    redis_proc: RedisProcess) -> None:
    live = RedisLiveSource(redis_proc.url)
    admin = aioredis.Redis.from_url(redis_proc.url)
    killed: list[int] = []

    async def kill_when_started(feed: Feed) -> None:
        deadline = time.monotonic() + 30
        while feed.last < 4:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        killed.append(feed.last)
        assert await admin.client_kill_filter(_type="pubsub") >= 1

    try:
        seen, recorded = await follow_run(cli, redis_proc.url, live, kill_when_started)
    finally:
        await admin.aclose()
    assert killed
    assert [(e.sequence, e.type) for e in seen] == [(e.sequence, e.type) for e in recorded]
    assert seen[-1].type == "execution:complete"


async def test_a_feed_that_misses_messages_reads_them_from_the_journal(cli: Cli,
                                                                     redis_proc: RedisProcess) -> None:
    live = Lossy(redis_proc.url, drop_every=3)
    seen, recorded = await follow_run(cli, redis_proc.url, live)
    assert live.dropped > 0
    assert live.delivered > 0
    assert [(e.sequence, e.type) for e in seen] == [(e.sequence, e.type) for e in recorded]
