"""The instruments fed by events: tokens and cost by model, retries, timeouts, approvals waiting; the
Prometheus text of them."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from quorum.definition.model import RetryPolicy
from quorum.telemetry import TelemetrySettings, instrument
from quorum.telemetry.prometheus import render
from quorum.testing import FakeSleep, ScriptedAgent, flaky_agent
from tests.engine.run_helpers import executor_with, phase, prompt, task
from tests.telemetry.helpers import llm_judge
from tests.telemetry.test_metrics_endpoint import _value

pytestmark = pytest.mark.integration


async def test_tokens_cost_retries_and_timeouts_are_counted_and_rendered() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    ex = executor_with({"judge": llm_judge(), "flaky": flaky_agent(1, {"v": 1}),
                        "slow": ScriptedAgent({"v": 1}, delay=5.0)},
                       sleep=FakeSleep(), agent_timeout=0.05)
    telemetry = instrument(ex, TelemetrySettings(), meter_provider=provider)
    retry = RetryPolicy(max_attempts=2, backoff_ms=1, jitter=0.0)
    await ex.execute(task(phase("Ask", prompt("go"), agents=("judge",)),
                          phase("Again", prompt("go"), agents=("flaky",), retry=retry), name="m"))
    await ex.execute(task(phase("Late", prompt("go"), agents=("slow",), retry=RetryPolicy(max_attempts=1)),
                          name="late"))
    await telemetry.aclose()
    await ex.aclose()
    text = render(reader.get_metrics_data())
    assert _value(text, 'quorum_agent_tokens_total{model="openai:gpt-test-1",type="input"}') == 120
    assert _value(text, 'quorum_agent_tokens_total{model="openai:gpt-test-1",type="output"}') == 30
    assert _value(text, 'quorum_agent_cost_usd_total{model="openai:gpt-test-1"}') == pytest.approx(480e-6)
    assert _value(text, 'quorum_phase_retries_total{phase="Again",task="m"}') == 1
    assert _value(text, 'quorum_timeouts_total{kind="agent",task="late"}') == 1
    assert _value(text, 'quorum_executions_ended_total{status="completed",task="m"}') == 1
    assert _value(text, 'quorum_executions_ended_total{status="failed",task="late"}') == 1
    failed = 'phase="Again",status="failed",task="m"'
    assert _value(text, f"quorum_phase_duration_seconds_count{{{failed}}}") == 1
