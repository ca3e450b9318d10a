"""Spans from the event stream: the tree of a committee run, the GenAI attributes, errors and retries as
statuses and events, content only on opt-in, and no API key anywhere."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from quorum.agents.secrets import register_secret
from quorum.definition.model import RetryPolicy
from quorum.engine.status import ExecutionStatus
from quorum.telemetry import instrument
from quorum.telemetry.settings import TelemetrySettings
from quorum.telemetry.tracing import trace_context_of
from quorum.testing import FakeSleep, ScriptedAgent, failing_agent, flaky_agent, sleeping_agent
from tests.engine.run_helpers import COMMITTEE_AGENTS, committee_task, executor_with, phase, prompt, task
from tests.telemetry.helpers import CANARY_KEY, every_attribute_value, llm_judge, memory_provider

pytestmark = pytest.mark.integration


def _by_name(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def _committee_agents() -> dict[str, object]:
    agents: dict[str, object] = {a: sleeping_agent(0.001, {"stance": "bearish", "v": 1})
                                 for a in COMMITTEE_AGENTS if a != "judge"}
    agents["judge"] = llm_judge()
    return agents


async def test_a_committee_run_is_one_trace_with_the_span_tree_and_genai_attributes() -> None:
    provider, exporter = memory_provider()
    ex = executor_with(_committee_agents())
    telemetry = instrument(ex, TelemetrySettings(), tracer_provider=provider)
    committee = dataclasses.replace(committee_task(), content_hash="0123456789abcdef0123")
    result = await ex.execute(committee, {"topic": "BTC"})
    await telemetry.aclose()
    await ex.aclose()
    assert result.status is ExecutionStatus.COMPLETED
    spans = list(exporter.get_finished_spans())
    root = trace_context_of(result.id)
    assert {s.context.trace_id for s in spans} == {root.trace_id}

    [workflow] = _by_name(spans, "invoke_workflow")
    assert workflow.parent is not None
    assert workflow.parent.span_id == root.span_id
    attrs = workflow.attributes or {}
    assert attrs["gen_ai.operation.name"] == "invoke_workflow"
    assert attrs["quorum.task"] == "committee"
    assert attrs["quorum.execution.id"] == result.id
    assert attrs["quorum.task.version"] == "0123456789ab"
    assert workflow.status.status_code is StatusCode.OK

    phases = {s.name.removeprefix("phase "): s for s in _by_name(spans, "phase ")}
    assert set(phases) == {"Activation", "Analysis", "RoundTable", "Debate", "Validation", "Consensus",
                           "Verdict"}
    assert all(p.parent is not None and p.parent.span_id == workflow.context.span_id for p in phases.values())
    steps = _by_name(spans, "step ")
    by_id = {s.context.span_id: s for s in spans}
    assert all(by_id[s.parent.span_id].name.startswith("phase ") for s in steps if s.parent)

    calls = _by_name(spans, "invoke_agent")
    assert len(calls) == 18
    per_phase = Counter((c.attributes or {})["quorum.phase"] for c in calls)
    assert per_phase == {"Analysis": 6, "RoundTable": 5, "Debate": 4, "Validation": 2, "Verdict": 1}
    for call in calls:
        parent = by_id[call.parent.span_id] if call.parent else None
        assert parent is not None
        assert parent.name.startswith("step ")
        assert call.start_time is not None
        assert parent.start_time is not None
        assert parent.start_time <= call.start_time <= (call.end_time or 0) <= (parent.end_time or 0)
        a = call.attributes or {}
        assert a["gen_ai.operation.name"] == "invoke_agent"
        assert a["gen_ai.agent.id"] == a["gen_ai.agent.name"] == call.name.removeprefix("invoke_agent ")
        assert a["quorum.execution.id"] == result.id
        assert a["quorum.cached"] is False
    debate = [c.attributes or {} for c in calls if (c.attributes or {})["quorum.phase"] == "Debate"]
    debate_rounds = {a["quorum.round"] for a in debate}
    assert len(debate_rounds) == 2
    assert {(c.attributes or {}).get("quorum.vote") for c in calls if "judge" not in c.name} == {"bearish"}

    [judge] = [c for c in calls if c.name == "invoke_agent judge"]
    j = judge.attributes or {}
    assert j["gen_ai.provider.name"] == "openai"
    assert j["gen_ai.request.model"] == "gpt-test-1"
    assert j["gen_ai.response.model"] == "gpt-test-1-2026-11-30"  # what the provider said answered
    assert j["gen_ai.usage.input_tokens"] == 120
    assert j["gen_ai.usage.output_tokens"] == 30
    assert j["quorum.cost_usd"] == pytest.approx((120 * 2.0 + 30 * 8.0) / 1e6)
    assert j["quorum.vote"] == "bullish"
    [chat] = _by_name(spans, "chat ")
    assert chat.parent is not None
    assert chat.parent.span_id == judge.context.span_id
    c = chat.attributes or {}
    assert c["gen_ai.operation.name"] == "chat"
    assert c["gen_ai.provider.name"] == "openai"
    assert c["gen_ai.request.model"] == "gpt-test-1"
    assert c["gen_ai.usage.input_tokens"] == 120
    assert (judge.start_time or 0) <= (chat.start_time or 0) < (chat.end_time or 0) <= (judge.end_time or 0)
    # no answer text without the opt-in
    assert not any("gen_ai.output.messages" in (s.attributes or {}) for s in spans)


async def test_content_only_on_opt_in_and_a_canary_key_is_in_no_attribute() -> None:
    register_secret(CANARY_KEY)  # as a provider does with the key it loads
    leaky = {"stance": "bullish", "recommendation": "buy", "confidence": 0.5,
             "rationale": f"the key is {CANARY_KEY}"}
    agents: dict[str, object] = {"judge": llm_judge(leaky),
                                 "broken": failing_agent(f"401 unauthorized for key {CANARY_KEY}")}
    provider, exporter = memory_provider()
    ex = executor_with(agents)
    telemetry = instrument(ex, TelemetrySettings(capture_content=True), tracer_provider=provider)
    t = task(phase("Ask", prompt("Decide"), agents=("judge", "broken"), parallel=True), name="leak")
    await ex.execute(t, {})
    await telemetry.aclose()
    await ex.aclose()
    spans = list(exporter.get_finished_spans())
    [judge] = [s for s in spans if s.name == "invoke_agent judge"]
    assert "gen_ai.output.messages" in (judge.attributes or {})
    assert "***" in str((judge.attributes or {})["gen_ai.output.messages"])
    [broken] = [s for s in spans if s.name == "invoke_agent broken"]
    assert broken.status.status_code is StatusCode.ERROR
    values = every_attribute_value(spans)
    assert values
    assert not [v for v in values if CANARY_KEY in v]


async def test_retries_errors_and_timeouts_are_span_events_and_statuses() -> None:
    provider, exporter = memory_provider()
    policy = RetryPolicy(max_attempts=3, backoff_ms=10, jitter=0.0)
    ex = executor_with({"a": flaky_agent(1, {"v": 1}), "b": failing_agent("nope")}, sleep=FakeSleep())
    telemetry = instrument(ex, TelemetrySettings(), tracer_provider=provider)
    ok = await ex.execute(task(phase("P", prompt("go"), agents=("a",), retry=policy), name="flaky"))
    bad = await ex.execute(task(phase("Q", prompt("go"), agents=("b",), retry=RetryPolicy(max_attempts=1)),
                                name="broken"))
    await telemetry.aclose()
    await ex.aclose()
    assert ok.status is ExecutionStatus.COMPLETED
    assert bad.status is ExecutionStatus.FAILED
    spans = list(exporter.get_finished_spans())
    mine = [s for s in spans if s.context.trace_id == trace_context_of(ok.id).trace_id]
    attempts = [s for s in mine if s.name == "phase P"]
    assert [(s.attributes or {})["quorum.attempt"] for s in attempts] == [1, 2]
    assert [s.status.status_code for s in attempts] == [StatusCode.ERROR, StatusCode.OK]
    [workflow] = [s for s in mine if s.name.startswith("invoke_workflow")]
    assert "phase:retry" in [e.name for e in workflow.events]
    failed = [s for s in spans if s.context.trace_id == trace_context_of(bad.id).trace_id]
    [workflow] = [s for s in failed if s.name.startswith("invoke_workflow")]
    assert workflow.status.status_code is StatusCode.ERROR
    assert "nope" in (workflow.status.description or "")

    slow = ScriptedAgent({"v": 1}, delay=5.0)
    ex = executor_with({"slow": slow}, agent_timeout=0.05, max_execution_time=0.3)
    provider, exporter = memory_provider()
    telemetry = instrument(ex, TelemetrySettings(), tracer_provider=provider)
    again = RetryPolicy(max_attempts=50, backoff_ms=1)
    timed = await ex.execute(task(phase("T", prompt("go"), agents=("slow",), retry=again), name="late"))
    await telemetry.aclose()
    await ex.aclose()
    spans = list(exporter.get_finished_spans())
    assert timed.status is ExecutionStatus.TIMEOUT
    [workflow] = [s for s in spans if s.name.startswith("invoke_workflow")]
    assert workflow.status.status_code is StatusCode.ERROR
    assert "execution:timeout" in [e.name for e in workflow.events]
    call = next(s for s in spans if s.name == "invoke_agent slow")
    assert (call.attributes or {})["error.type"] == "TimeoutError"
    assert "timeout" in [e.name for e in call.events]


async def test_instrument_with_nothing_configured_attaches_nothing() -> None:
    ex = executor_with({"a": ScriptedAgent({"v": 1})})
    telemetry = instrument(ex, TelemetrySettings())
    assert not telemetry.tracing
    assert not ex._bus.wants("agent:start")  # no handler: the engine builds no event for anyone
    await telemetry.aclose()
    await ex.aclose()
