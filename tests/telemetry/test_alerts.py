"""Alert hooks against a real HTTP receiver on a loopback port: failures, timeouts and approvals waiting
too long are delivered, with retries, without holding any execution up; secrets never reach them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from quorum.agents.secrets import register_secret
from quorum.definition.model import RetryPolicy
from quorum.engine.status import ExecutionStatus
from quorum.telemetry import Alert, TelemetrySettings, instrument
from quorum.telemetry.settings import AlertSettings
from quorum.testing import ScriptedAgent, failing_agent
from tests.engine.run_helpers import executor_with, phase, prompt, task
from tests.engine.test_approvals import gated
from tests.telemetry.helpers import CANARY_KEY

pytestmark = pytest.mark.integration


class Receiver:
    """A webhook receiver: answers ``fail_first`` requests with 500, then 200, each after ``delay_s``."""

    def __init__(self, *, fail_first: int = 0, delay_s: float = 0.0, status: int = 500) -> None:
        self.fail_first = fail_first
        self.delay_s = delay_s
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                time.sleep(receiver.delay_s)
                with receiver.lock:
                    receiver.requests.append(body)
                    failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(receiver.status if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=s3cr3t-in-url"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(fail_first=2, delay_s=0.3) as r:
        yield r


def _settings(url: str, **kw: Any) -> TelemetrySettings:
    return TelemetrySettings(alerts=AlertSettings(webhooks=(url,), retries=3, **kw))


async def test_a_failed_execution_is_posted_with_retries_and_is_not_held_up(receiver: Receiver) -> None:
    register_secret(CANARY_KEY)
    ex = executor_with({"a": failing_agent(f"provider said: bad key {CANARY_KEY}")})
    telemetry = instrument(ex, _settings(receiver.url))
    assert telemetry.alerts is not None
    telemetry.alerts.backoff_s = 0.05
    began = time.perf_counter()
    result = await ex.execute(task(phase("P", prompt("go"), agents=("a",), retry=RetryPolicy(max_attempts=1)),
                                   name="doomed"))
    took = time.perf_counter() - began
    assert result.status is ExecutionStatus.FAILED
    assert took < 0.3  # the receiver takes 0.3 s per request (three of them): the execution never waited
    await telemetry.aclose()
    await ex.aclose()
    assert len(receiver.requests) == 3  # two 500s, then delivered
    body = receiver.requests[-1]
    assert body["kind"] == "execution:error"
    assert body["execution_id"] == result.id
    assert body["task"] == "doomed"
    assert "bad key ***" in body["message"]
    assert CANARY_KEY not in json.dumps(receiver.requests)
    assert (telemetry.alerts.delivered, telemetry.alerts.failed) == (1, 0)


async def test_a_timeout_reaches_a_python_callable_and_a_refusing_webhook_is_not_asked_again() -> None:
    heard: list[Alert] = []

    async def notify(alert: Alert) -> None:
        heard.append(alert)

    with Receiver(fail_first=100, status=403) as refusing:
        ex = executor_with({"slow": ScriptedAgent({"v": 1}, delay=5.0)}, max_execution_time=0.2)
        telemetry = instrument(ex, _settings(refusing.url), alert_targets=(notify,))
        result = await ex.execute(task(phase("P", prompt("go"), agents=("slow",)), name="late"))
        await telemetry.aclose()
        await ex.aclose()
    assert result.status is ExecutionStatus.TIMEOUT
    assert [a.kind for a in heard] == ["execution:timeout"]
    assert heard[0].execution_id == result.id
    assert len(refusing.requests) == 1  # 403: final
    assert telemetry.alerts is not None
    assert (telemetry.alerts.delivered, telemetry.alerts.failed) == (1, 1)


async def test_an_approval_waiting_past_the_threshold_alerts_once(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver() as r:
        ex = executor_with({"analyst": ScriptedAgent({"v": "buy"}), "trader": ScriptedAgent({"v": "done"})})
        telemetry = instrument(ex, _settings(r.url, approval_waiting_after_s=0.2))
        waiting = asyncio.Event()
        ex.on("approval:requested", lambda event: waiting.set())
        handle = await ex.start(gated(), {})
        await waiting.wait()
        await asyncio.sleep(0.5)
        await ex.decide(handle.id, "approve", by="erin")
        result = await handle.result()
        quick = await ex.start(gated(), {})  # decided before the threshold: no alert
        await waiting.wait()
        await asyncio.sleep(0.05)
        await ex.decide(quick.id, "approve", by="erin")
        await quick.result()
        await asyncio.sleep(0.3)
        await telemetry.aclose()
        await ex.aclose()
    assert result.status is ExecutionStatus.COMPLETED
    assert [(b["kind"], b["execution_id"], b["gate"]) for b in r.requests] == [
        ("approval:waiting", handle.id, "Sign-off/0")]
    assert r.requests[0]["waiting_s"] >= 0.2
    assert "s3cr3t-in-url" not in caplog.text


async def test_an_unreachable_webhook_is_logged_by_host_only(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver() as r:
        dead = r.url
    ex = executor_with({"a": failing_agent("nope")})
    telemetry = instrument(ex, TelemetrySettings(alerts=AlertSettings(webhooks=(dead,), retries=1)))
    assert telemetry.alerts is not None
    telemetry.alerts.backoff_s = 0.01
    await ex.execute(task(phase("P", prompt("go"), agents=("a",), retry=RetryPolicy(max_attempts=1))))
    await telemetry.aclose()
    await ex.aclose()
    assert telemetry.alerts.failed == 1
    assert "not delivered to webhook 127.0.0.1 after 2 attempts" in caplog.text
    assert "s3cr3t-in-url" not in caplog.text
