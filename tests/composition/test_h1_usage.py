"""A parent's usage is the bill of the whole run: its own agent calls plus each child execution's."""

from __future__ import annotations

from pathlib import Path

from quorum.agents.protocol import Agent
from quorum.engine.executor import TaskExecutor
from quorum.history.base import HistoryStore
from quorum.testing import ScriptedAgent, make_manager
from tests import backends

from .helpers import decider_answer, parent, reviewer_answer, write_tasks

store = backends.store  # the fixture: each local history backend

OWN = "## Phase: Own\n### Agents\n- reviewer\n### Steps\n- agent: reviewer - Review P with weight 1\n"


def _agents(**extra: Agent) -> dict[str, Agent]:
    return {"reviewer": ScriptedAgent(reviewer_answer), "decider": ScriptedAgent(decider_answer), **extra}


async def test_the_parents_usage_is_its_own_calls_plus_its_childrens(tmp_path: Path,
                                                                     store: HistoryStore) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review foreach=input.tickers input.ticker={{ item }}",
                                         phase_options="parallel: true", extra=OWN))
    async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(_agents()),
                            history_store=store) as executor:
        result = await executor.execute("book", {"tickers": ["A", "B", "C"]})
    assert result.status.value == "completed", result.error
    journal = await store.read_journal(result.id)
    ended = [e for e in journal if e.type == "child:ended"]
    children = [int(e.data["usage"]["calls"]) for e in ended]
    assert children == [2, 2, 2]  # each child: its reviewer and its decider
    own = sum(1 for e in journal if e.type == "agent:response")
    assert own == 1
    assert result.usage.calls == own + sum(children) == 7
    assert result.usage.errors == 0


async def test_a_failed_childs_calls_count_and_a_retry_adds_the_new_childs(tmp_path: Path,
                                                                          store: HistoryStore) -> None:
    """The first attempt's child fails at its decider (2 calls spent); the retry's child completes."""
    tasks = write_tasks(tmp_path, parent("- task: review input.ticker=A",
                                         phase_options="retry: {maxAttempts: 2, backoffMs: 0}"))
    flaky = ScriptedAgent(decider_answer, fail_times=1)
    async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(_agents(decider=flaky)),
                            history_store=store) as executor:
        result = await executor.execute("book", {})
    assert result.status.value == "completed", result.error
    ended = [e for e in await store.read_journal(result.id) if e.type == "child:ended"]
    assert [e.data["status"] for e in ended] == ["failed", "completed"]
    assert [e.data["usage"]["calls"] for e in ended] == [2, 2]
    assert result.usage.calls == 4  # every call made, once
    assert result.usage.errors == 1  # the decider's failure, in the failed child


async def test_grandchildren_count_in_the_grandparent(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review input.ticker=A"))
    (tasks / "top.md").write_text(
        "# Top\n\n```yaml\nname: top\nversion: 1.0.0\n```\n\n## Phase: Books\n### Steps\n"
        "- task: book\n", encoding="utf-8")
    async with TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(_agents())) as executor:
        result = await executor.execute("top", {})
    assert result.status.value == "completed", result.error
    assert result.usage.calls == 2


