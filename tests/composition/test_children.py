"""``task:`` steps run child executions: inputs, ids, results, order, concurrency, failures."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.manager import AgentManager
from quorum.agents.protocol import Agent, AgentRequest, AgentResponse
from quorum.engine.children import child_execution_id
from quorum.engine.executor import TaskExecutor
from quorum.engine.recovery import stored_context
from quorum.engine.results import ExecutionResult
from quorum.history.base import HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import PhaseName
from quorum.testing import ConcurrencyProbe, ScriptedAgent, failing_agent, make_manager

from .helpers import decider_answer, parent, reviewer_answer, write_tasks


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    """Each history backend in turn, open (PostgreSQL in a schema of its own)."""
    async with contextlib.AsyncExitStack() as stack:
        s: HistoryStore
        if request.param == "memory":
            s = MemoryHistoryStore()
        elif request.param == "sqlite":
            s = SQLiteHistoryStore(tmp_path / "h.db")
        else:
            from quorum.history.postgres import PostgresHistoryStore
            from tests.history.pg import fresh_schema

            s = PostgresHistoryStore(await stack.enter_async_context(fresh_schema()))
        await s.open()
        stack.push_async_callback(s.close)
        yield s


def _manager(**extra: Agent) -> AgentManager:
    agents: dict[str, Agent] = {"reviewer": ScriptedAgent(reviewer_answer),
                                "decider": ScriptedAgent(decider_answer), **extra}
    return make_manager(agents)


def outputs(result: ExecutionResult, phase: str) -> Mapping[str, Any]:
    return result.phases[PhaseName(phase)].outputs


async def test_foreach_runs_one_child_per_element_with_item_and_index_results_in_order(
    tmp_path: Path, store: HistoryStore
) -> None:
    tasks = write_tasks(tmp_path, parent(
        "- task: review foreach=input.tickers input.ticker={{ item }} input.weight={{ index * 10 }}",
        phase_options="parallel: true",
        extra="## Phase: Sum\ndependsOn: [Children]\n### Steps\n"
              "- validation: phases.Children.outputs.count == 3 - three children\n"
              "- validation: phases.Children.outputs.children[2].verdict.ticker == 'C' - in order\n"))
    async with TaskExecutor(tasks_dir=tasks, agent_manager=_manager(), history_store=store) as executor:
        result = await executor.execute("book", {"tickers": ["A", "B", "C"]})
    assert result.status.value == "completed", result.error
    children = outputs(result, "Children")["children"]
    assert [c["item"] for c in children] == ["A", "B", "C"]
    assert [c["index"] for c in children] == [0, 1, 2]
    assert [c["verdict"]["ticker"] for c in children] == ["A", "B", "C"]
    # the input templates were rendered per element: index * 10 stayed a number
    assert [c["outputs"]["Look"]["reviewer"]["weight"] for c in children] == ["0", "10", "20"]
    ids = [child_execution_id(result.id, "Children", 0, i, 1) for i in range(3)]
    assert [c["execution_id"] for c in children] == ids
    for child_id in ids:
        record = await store.get_execution(child_id)
        assert record is not None
        assert record.status == "completed"
        assert record.parent_id == result.id
        assert record.task == "review"
        assert record.task_version == "1.0.0"
        assert (await stored_context(store, child_id)).parent_id == result.id  # a resume keeps the link
    linked = await store.list_executions(parent_id=result.id)
    assert sorted(r.id for r in linked) == sorted(ids)
    journal = await store.read_journal(result.id)
    started = [e for e in journal if e.type == "child:started"]
    ended = [e for e in journal if e.type == "child:ended"]
    assert sorted(e.data["child_id"] for e in started) == sorted(ids)
    assert {e.data["child_id"]: e.data["status"] for e in ended} == dict.fromkeys(ids, "completed")
    assert all(e.phase == "Children" and e.step == 0 for e in started + ended)


async def test_one_child_gives_its_verdict_and_outputs_to_later_templates(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent(
        "- task: review@^1 input.ticker=ZED",
        extra="## Phase: Use\ndependsOn: [Children]\n### Steps\n"
              "- agent: user - {{ phases.Children.outputs.verdict.decision }} "
              "{{ phases.Children.outputs.outputs.Look.reviewer.note }} "
              "{{ phases.Children.outputs.status }}\n"))
    user = ScriptedAgent(lambda r: {"said": r.prompt})
    async with TaskExecutor(tasks_dir=tasks, agent_manager=_manager(user=user)) as executor:
        result = await executor.execute("book", {})
    assert result.status.value == "completed", result.error
    assert outputs(result, "Use")["user"] == {"said": "BUY saw ZED completed"}
    out = outputs(result, "Children")
    assert out["task"] == "review"
    assert out["version"] == "1.0.0"
    assert "index" not in out


@pytest.mark.parametrize(("options", "expected"), [("parallel: true", 2), ("", 1)])
async def test_children_run_at_once_up_to_the_phase_concurrency(tmp_path: Path, options: str,
                                                                expected: int) -> None:
    tasks = write_tasks(tmp_path, parent(
        "- task: review foreach=input.tickers input.ticker={{ item }}", phase_options=options,
        metadata="concurrency: {maxConcurrentAgents: 2}"))
    probe = ConcurrencyProbe()
    reviewer = ScriptedAgent(reviewer_answer, delay=0.02, probe=probe)
    manager = make_manager(reviewer=reviewer, decider=ScriptedAgent(decider_answer))
    async with TaskExecutor(tasks_dir=tasks, agent_manager=manager) as executor:
        result = await executor.execute("book", {"tickers": ["A", "B", "C", "D", "E"]})
    assert result.status.value == "completed", result.error
    assert probe.total == 5
    assert probe.max_in_flight == expected


async def test_a_failed_child_fails_the_step_and_the_retry_starts_new_children(
    tmp_path: Path, store: HistoryStore
) -> None:
    text = parent("- task: review foreach=input.tickers input.ticker={{ item }}",
                  phase_options="parallel: true\nretry: {maxAttempts: 2, backoffMs: 1}")
    tasks = write_tasks(tmp_path, text)
    manager = make_manager(reviewer=ScriptedAgent(reviewer_answer), decider=failing_agent("no decision"))
    async with TaskExecutor(tasks_dir=tasks, agent_manager=manager, history_store=store) as executor:
        result = await executor.execute("book", {"tickers": ["A"]})
    assert result.status.value == "failed"
    assert "child execution" in str(result.error)
    assert "ended failed" in str(result.error)
    assert "no decision" in str(result.error)
    first, second = (child_execution_id(result.id, "Children", 0, 0, a) for a in (1, 2))
    assert first in str(result.error) or second in str(result.error)
    for child_id in (first, second):  # each attempt had its own child, and each failed
        record = await store.get_execution(child_id)
        assert record is not None
        assert record.status == "failed"
    journal = await store.read_journal(result.id)
    assert [e.data["attempt"] for e in journal if e.type == "phase:start"] == [1, 2]


async def test_a_child_that_fails_aborts_its_running_siblings(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review foreach=input.tickers input.ticker={{ item }}",
                                         phase_options="parallel: true"))

    def review(request: AgentRequest) -> dict[str, str]:
        raise RuntimeError("bad review")

    slow = ScriptedAgent(reviewer_answer, delay=30)
    fails = ScriptedAgent(review)

    class Router:
        async def query(self, request: AgentRequest, /) -> AgentResponse:
            agent = fails if "B" in request.prompt.split()[1:3] else slow
            return await agent.query(request)

    manager = make_manager(reviewer=Router(), decider=ScriptedAgent(decider_answer))
    async with TaskExecutor(tasks_dir=tasks, agent_manager=manager) as executor:
        result = await executor.execute("book", {"tickers": ["A", "B"]})
        sibling = executor.get_result(child_execution_id(result.id, "Children", 0, 0, 1))
    assert result.status.value == "failed"
    assert "bad review" in str(result.error)
    assert sibling.status.value == "aborted"
    assert slow.cancelled == 1
    assert f"parent {result.id}" in str(sibling.error)


async def test_foreach_over_what_is_not_a_list_fails_with_what_it_got(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review foreach=input.name input.ticker={{ item }}",
                                         requirements="  name: {type: string}"))
    async with TaskExecutor(tasks_dir=tasks, agent_manager=_manager()) as executor:
        result = await executor.execute("book", {"name": "abc"})
    assert result.status.value == "failed"
    assert "foreach=input.name gave str 'abc', not a list" in str(result.error)


async def test_an_input_the_child_refuses_fails_the_step_naming_the_field(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review input.ticker=A input.weight=heavy"))
    async with TaskExecutor(tasks_dir=tasks, agent_manager=_manager()) as executor:
        result = await executor.execute("book", {})
    assert result.status.value == "failed"
    assert "weight" in str(result.error)


async def test_an_empty_list_runs_no_child(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review foreach=input.tickers input.ticker={{ item }}"))
    async with TaskExecutor(tasks_dir=tasks, agent_manager=_manager()) as executor:
        result = await executor.execute("book", {"tickers": []})
    assert result.status.value == "completed", result.error
    assert outputs(result, "Children") == {"children": [], "count": 0}
