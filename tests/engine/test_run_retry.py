"""Phase retries: exponential backoff with jitter, events, optional phases, the fast-retry switch."""

from __future__ import annotations

import random

import pytest

from quorum.definition.model import RetryPolicy
from quorum.engine.retry import backoff_delay_ms, is_testing
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.events import EventType as E
from quorum.testing import EventCapture, FakeSleep, failing_agent, fast_retries, flaky_agent
from tests.engine.run_helpers import executor_with, phase, prompt, task

pytestmark = pytest.mark.errors


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(max_attempts=6, backoff_ms=100, max_backoff_ms=500, jitter=0.0)
    assert [backoff_delay_ms(policy, n) for n in (1, 2, 3, 4, 5)] == [100, 200, 400, 500, 500]
    jittery = RetryPolicy(backoff_ms=1000, jitter=0.2)
    rng = random.Random(7)
    delays = [backoff_delay_ms(jittery, 1, rng=rng) for _ in range(200)]
    assert min(delays) >= 800
    assert max(delays) <= 1200
    assert max(delays) - min(delays) > 100  # jitter really varies


async def test_a_flaky_phase_is_retried_with_backoff_on_a_fake_clock() -> None:
    sleep = FakeSleep()
    agent = flaky_agent(2, {"v": 1})
    ex = executor_with({"a": agent}, sleep=sleep)
    policy = RetryPolicy(max_attempts=3, backoff_ms=1000, max_backoff_ms=10_000, jitter=0.0)
    with EventCapture(ex) as events:
        result = await ex.execute(task(phase("P", prompt("go"), agents=("a",), retry=policy)))
    assert result.status is ExecutionStatus.COMPLETED
    assert result.phases["P"].attempts == 3
    assert sleep.delays == [1.0, 2.0]
    assert [e.data["attempt"] for e in events.of(E.PHASE_START)] == [1, 2, 3]
    failed = events.of(E.PHASE_FAILED)
    assert [(e.data["attempt"], e.data["will_retry"]) for e in failed] == [(1, True), (2, True)]
    retries = events.of(E.PHASE_RETRY)
    assert [(e.data["attempt"], e.data["delay_ms"]) for e in retries] == [(2, 1000.0), (3, 2000.0)]
    kinds = events.types()
    assert kinds.index(E.PHASE_FAILED) < kinds.index(E.PHASE_RETRY)
    assert agent.calls == 3


async def test_after_the_last_attempt_the_execution_fails() -> None:
    sleep = FakeSleep()
    ex = executor_with({"a": failing_agent("nope")}, sleep=sleep)
    policy = RetryPolicy(max_attempts=2, backoff_ms=10, jitter=0.0)
    with EventCapture(ex) as events:
        result = await ex.execute(task(phase("P", prompt("go"), agents=("a",), retry=policy)))
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert "phase 'P' failed" in result.error
    assert "nope" in result.error
    assert result.phases["P"].status is PhaseStatus.FAILED
    assert result.phases["P"].attempts == 2
    assert events.of(E.PHASE_FAILED)[-1].data["will_retry"] is False
    assert events.types()[-1] == E.EXECUTION_ERROR
    assert len(sleep.delays) == 1


async def test_task_retry_policy_is_the_default_and_the_phase_overrides_it() -> None:
    sleep = FakeSleep()
    ex = executor_with({"a": failing_agent()}, sleep=sleep)
    t = task(phase("P", prompt("go"), agents=("a",)),
             retry=RetryPolicy(max_attempts=3, backoff_ms=50, jitter=0.0))
    result = await ex.execute(t)
    assert result.phases["P"].attempts == 3
    assert sleep.delays == [0.05, 0.1]
    sleep.delays.clear()
    t2 = task(phase("P", prompt("go"), agents=("a",), retry=RetryPolicy(max_attempts=1)),
              retry=RetryPolicy(max_attempts=3))
    result2 = await ex.execute(t2)
    assert result2.phases["P"].attempts == 1
    assert sleep.delays == []


async def test_an_optional_phase_fails_alone() -> None:
    ex = executor_with({"bad": failing_agent(), "good": flaky_agent(0)})
    with fast_retries():
        result = await ex.execute(task(
            phase("Opt", prompt("x"), agents=("bad",), optional=True, retry=RetryPolicy(max_attempts=2)),
            phase("Main", prompt("y"), agents=("good",)),
        ))
    assert result.status is ExecutionStatus.COMPLETED
    assert result.phases["Opt"].status is PhaseStatus.FAILED
    assert result.phases["Opt"].attempts == 2


async def test_fast_retries_switch_skips_the_wait_but_reports_the_delay() -> None:
    ex = executor_with({"a": flaky_agent(1)})
    policy = RetryPolicy(max_attempts=2, backoff_ms=60_000, max_backoff_ms=120_000, jitter=0.0)
    assert not is_testing()
    with fast_retries(), EventCapture(ex) as events:
        assert is_testing()
        result = await ex.execute(task(phase("P", prompt("go"), agents=("a",), retry=policy)))
    assert not is_testing()
    assert result.status is ExecutionStatus.COMPLETED
    assert events.first(E.PHASE_RETRY).data["delay_ms"] == 60_000.0
    assert result.duration_ms is not None
    assert result.duration_ms < 5_000


async def test_a_retried_phase_starts_from_scratch_with_a_new_attempt_number() -> None:
    ex = executor_with({"a": flaky_agent(1, lambda r: {"attempt": r.attempt})})
    with fast_retries():
        result = await ex.execute(task(phase("P", prompt("go"), agents=("a",), outputs=("attempt",),
                                             retry=RetryPolicy(max_attempts=2))))
    assert result.phases["P"].outputs == {"attempt": 2}
    assert [a.ok for a in result.phases["P"].answers] == [True]


async def test_an_exhausted_budget_fails_the_execution_at_once() -> None:
    from quorum.agents.protocol import AgentRequest

    def agent(request: AgentRequest) -> dict[str, int]:
        return {"v": 1}

    ex = executor_with({"a": agent})
    t = task(phase("P", prompt("go"), agents=("a",), rounds=5, retry=RetryPolicy(max_attempts=3)),
             budget={"maxCalls": 2})
    with fast_retries(), EventCapture(ex) as events:
        result = await ex.execute(t)
    assert result.status is ExecutionStatus.FAILED
    assert "budget" in (result.error or "")
    assert len(events.of(E.PHASE_START)) == 1  # no retry: more attempts cannot help
    assert events.first(E.PHASE_FAILED).data["budget"] is True
    assert ex.agent_manager.budget_usage(result.id) is None
