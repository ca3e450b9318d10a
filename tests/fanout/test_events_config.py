"""Where live events go is configured by ``QUORUM_EVENTS`` or ``events`` in quorum.toml (and the
response cache by ``QUORUM_CACHE`` / ``cache``); the CLI's executors publish there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from quorum.cli.run_cmd import build_executor, close_executor
from quorum.config import load_config
from quorum.errors import ConfigurationError
from quorum.events import Event
from quorum.fanout import watch
from quorum.testing import echo_agent
from tests.engine.run_helpers import phase, prompt, task
from tests.fanout.redis_process import RedisProcess

pytestmark = pytest.mark.integration


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "quorum.toml").write_text('events = "redis://filehost:6379/1"\ncache = "cache.db"\n')
    from_file = load_config(cwd=tmp_path, env={})
    assert from_file.events == "redis://filehost:6379/1"
    assert from_file.cache == str(tmp_path / "cache.db")  # relative to the file
    assert from_file.sources["events"] == ("file", str(tmp_path / "quorum.toml"))
    from_env = load_config(cwd=tmp_path, env={"QUORUM_EVENTS": "redis://envhost:6379/0",
                                              "QUORUM_CACHE": "redis://envhost:6379/2"})
    assert (from_env.events, from_env.cache) == ("redis://envhost:6379/0", "redis://envhost:6379/2")
    assert from_env.sources["events"] == ("env", "QUORUM_EVENTS")
    assert load_config(cwd=tmp_path / "..", env={}).events is None


def test_passwords_are_not_shown(tmp_path: Path) -> None:
    cfg = load_config(cwd=tmp_path, env={"QUORUM_EVENTS": "redis://:pw1234@h:6379/0",
                                         "QUORUM_CACHE": "redis://u:pw5678@h:6379/0"})
    assert cfg.events_shown == "redis://:***@h:6379/0"
    assert cfg.cache_shown == "redis://u:***@h:6379/0"


def test_events_must_go_to_redis_and_the_error_says_where(tmp_path: Path) -> None:
    toml = tmp_path / "quorum.toml"
    toml.write_text('events = "http://user:secret@example.com"\n')
    with pytest.raises(ConfigurationError) as caught:
        load_config(cwd=tmp_path, env={})
    message = str(caught.value)
    assert message.startswith(f"{toml}: events = ")
    assert "use redis://HOST:6379/0" in message
    assert "secret" not in message
    with pytest.raises(ConfigurationError, match=r"^QUORUM_EVENTS = 'nats://x'"):
        load_config(cwd=tmp_path, env={"QUORUM_EVENTS": "nats://x"})


async def test_the_cli_executor_publishes_when_events_are_configured(tmp_path: Path) -> None:
    proc = RedisProcess()
    cfg = load_config(cwd=tmp_path, env={"QUORUM_EVENTS": proc.url})
    received: list[Event] = []
    connected, ended = asyncio.Event(), asyncio.Event()

    def keep(event: Event) -> None:
        received.append(event)
        if event.type == "execution:complete":
            ended.set()

    follower = asyncio.ensure_future(watch(proc.url, keep, on_connect=connected.set))
    executor = build_executor(cfg, None)
    try:
        await asyncio.wait_for(connected.wait(), 5)
        manager = executor.agent_manager
        manager.register("echo", echo_agent())  # type: ignore[attr-defined]
        result = await executor.execute(task(phase("P", prompt("hi"), agents=("echo",))), {})
        await close_executor(executor)  # sends what is buffered, then closes the publisher
        await asyncio.wait_for(ended.wait(), 5)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        proc.kill()
    assert result.status.value == "completed"
    assert [e.sequence for e in received] == list(range(1, len(received) + 1))
    assert received[-1].type == "execution:complete"
    assert {e.execution_id for e in received} == {result.id}
