"""``quorum serve`` with ``QUORUM_EVENTS``: its event streams follow executions that other processes
run through Redis, and stay complete and in order (the journal fills what Redis drops)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.cli.helpers import AGENTS, DEMO_INPUT, DEMO_TASK, Cli
from tests.fanout.redis_process import RedisProcess
from tests.server.serving import Server, sse_messages

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    proc = RedisProcess()
    yield proc
    proc.kill()


def test_a_server_streams_another_process_run_from_redis(tmp_path: Path, redis_proc: RedisProcess) -> None:
    cli = Cli.in_folder(tmp_path)
    server = Server.start(cli, extra_env={"QUORUM_EVENTS": redis_proc.url})
    proc = cli.popen("run", str(DEMO_TASK), *DEMO_INPUT, "--agents-dir", str(AGENTS),
                     env={"QUORUM_TEST_DELAY": "0.2", "QUORUM_EVENTS": redis_proc.url})
    try:
        cli.wait_for(lambda: cli.newest_id() is not None, what="quorum run")
        execution_id = cli.newest_id()
        ids: list[int] = []
        subscribers: list[int] = []
        with server.client() as client, client.stream("GET", f"/executions/{execution_id}/events") as answer:
            assert answer.status_code == 200
            for message in sse_messages(answer):
                if message is not None:
                    ids.append(int(message.id))
                    # the server follows Redis while it streams: its one subscription shows up (it is
                    # opened beside the journal's catch-up, so not necessarily by the first events)
                    if len(ids) >= 3 and 1 not in subscribers:
                        with redis.Redis.from_url(redis_proc.url) as admin:
                            subscribers.append(len(admin.client_list(_type="pubsub")))
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        server.stop()
    assert proc.returncode == 0, (out, err)
    assert ids == list(range(1, len(ids) + 1))
    assert len(ids) > 10
    assert subscribers[-1] == 1, subscribers
    assert max(subscribers) == 1  # one subscription, never one per event or per client
    assert "live events" not in server.output()  # no warning: the subscription held
