"""A dry run's estimates against the real run: within 25 % on a task with history (a real SQLite
store, latency-injecting agents), scaled to the number of agents the inputs select; bounds from the
timeouts and prices without history; and nothing is called or recorded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from quorum.agents.definitions import AgentDefinition
from quorum.agents.llm import LLMAgent
from quorum.agents.policy import AgentPolicy
from quorum.engine.executor import TaskExecutor
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import AgentId
from quorum.planning import dry_run
from tests.dryrun.helpers import LATENCY_S, PANEL, panel_agents, panel_task
from tests.telemetry.helpers import LocalChat

pytestmark = pytest.mark.integration

HISTORY_SIZES = (2, 3, 4, 3, 2)


async def test_the_estimate_is_within_25_percent_of_the_real_run(tmp_path: Path) -> None:
    store = SQLiteHistoryStore(tmp_path / "history.db")
    await store.open()
    manager, agents = panel_agents()
    executor = TaskExecutor(agent_manager=manager, history_store=store)
    the_task = panel_task()
    # a first run pays for imports and template compilation: another version, not learned from
    await executor.execute(dataclasses.replace(the_task, content_hash="warm-up"),
                           {"topic": "rates", "panel": ["p1"]})
    for size in HISTORY_SIZES:
        result = await executor.execute(the_task, {"topic": "rates", "panel": list(PANEL[:size])})
        assert result.status.value == "completed"
    calls_before = sum(a.calls for a in agents.values())
    recorded_before = len(await store.list_executions(limit=100))

    wanted = {"topic": "rates", "panel": list(PANEL[:6])}
    plan = await dry_run(executor, the_task, wanted)
    assert sum(a.calls for a in agents.values()) == calls_before  # no agent called
    assert len(await store.list_executions(limit=100)) == recorded_before  # nothing recorded
    assert plan.history == len(HISTORY_SIZES)
    panel = plan.phase("Panel")
    assert panel.calls == 6
    assert panel.agents == tuple(PANEL[:6])
    assert panel.duration.basis == "history-scaled"  # 6 panellists: more than any past run had
    assert plan.wall.basis == "history-scaled"
    assert plan.wall.p50 is not None
    assert plan.wall.p95 is not None
    assert plan.wall.p95 >= plan.wall.p50
    assert plan.critical_path == ("Intro", "Panel", "Close")

    real = await executor.execute(the_task, wanted)
    assert real.duration_ms is not None
    actual = real.duration_ms / 1000.0
    assert abs(plan.wall.p50 - actual) / actual <= 0.25, (plan.wall, actual)
    # The history's own total (2-5 panellists) would have missed it: scaling earns its place.
    assert plan.past_wall is not None
    assert plan.past_wall.p50 is not None
    assert abs(plan.wall.p50 - actual) < abs(plan.past_wall.p50 - actual)
    assert panel.duration.p50 == pytest.approx(6 * LATENCY_S, rel=0.25)
    await executor.aclose()
    await store.close()


async def test_without_history_times_are_bounds_from_timeouts_and_costs_from_prices() -> None:
    manager, _ = panel_agents()
    judge = AgentDefinition(id=AgentId("judge"), model="openai:gpt-4.1-mini", persona="You judge." * 40,
                            max_tokens=500)
    manager.register("judge", LLMAgent(judge, LocalChat({}), model_name="gpt-4.1-mini"),
                     policy=AgentPolicy(timeout_s=20.0, model=judge.model, provider="openai"))
    executor = TaskExecutor(agent_manager=manager, agent_timeout=15.0)
    from tests.engine.run_helpers import agent_step, phase, task

    the_task = task(phase("Intro", agent_step("host", "Hi")),
                    phase("Judge", agent_step("judge", "Judge it"), depends_on="Intro"), name="judged")
    plan = await dry_run(executor, the_task, {})
    assert plan.history == 0
    intro, judged = plan.phase("Intro"), plan.phase("Judge")
    assert intro.duration.basis == "timeouts"
    assert intro.duration.upper_bound
    assert intro.duration.p95 == 15.0  # the executor's agent timeout
    assert judged.duration.p95 == 20.0  # the agent's own
    assert plan.wall.upper_bound
    assert plan.wall.p95 == 35.0
    assert intro.cost.basis == "local"
    assert intro.cost.p95 == 0.0
    assert judged.cost.basis == "prices"
    assert judged.cost.upper_bound
    tokens_in = int((len(judge.persona) + len("Judge it")) / 4)
    assert judged.cost.p95 == pytest.approx((tokens_in * 0.40 + 500 * 1.60) / 1e6)
    assert plan.cost.basis == "prices"
    assert any("no completed execution" in n for n in plan.notes)
    await executor.aclose()
