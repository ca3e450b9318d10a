"""A fan-out's calls: each a task on the directory's own query, recorded when it settles."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.errors import BudgetExceededError
from quorum.events import EventType as E
from quorum.history.memory import MemoryHistoryStore
from quorum.ids import AgentId, PhaseName
from quorum.testing import EventCapture
from tests.engine.run_helpers import phase, prompt, task

pytestmark = pytest.mark.concurrency

AGENTS = ("a", "b", "c", "d")
FAN = task(phase("P", prompt("go"), agents=AGENTS, parallel=True, outputs=("v",)))


class Directory:
    """An AgentDirectory that is not an AgentManager: ``query`` is a plain method here, returning an
    awaitable that is not a coroutine (a future), or raising before it returns one."""

    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour

    def has_agent(self, agent_id: str, /) -> bool:
        return agent_id in AGENTS

    def agent_ids(self) -> list[AgentId]:
        return [AgentId(a) for a in AGENTS]

    def query(self, request: AgentRequest, /) -> Any:
        how = self.behaviour.get(request.agent_id, "answer")
        if how == "raise-now":
            raise RuntimeError(f"{request.agent_id} refused at once")
        if how == "budget":
            raise BudgetExceededError("calls", 3.0, 3.0)
        future: asyncio.Future[AgentResponse] = asyncio.get_running_loop().create_future()
        if how == "fail-later":
            future.set_exception(ValueError(f"{request.agent_id} failed"))
        else:
            future.set_result(AgentResponse(agent_id=request.agent_id, data={"v": request.agent_id}))
        return future


async def test_answers_and_failures_of_any_awaitable_are_recorded() -> None:
    ex = TaskExecutor(agent_manager=Directory({"b": "raise-now", "d": "fail-later"}),
                      history_store=MemoryHistoryStore())
    with EventCapture(ex) as events:
        result = await ex.execute(FAN, {"x": 1})
    assert result.status is ExecutionStatus.COMPLETED
    answers = result.phases[PhaseName("P")].answers
    assert sorted(str(a.agent_id) for a in answers) == list(AGENTS)
    by_agent = {a.agent_id: a for a in answers}
    assert by_agent[AgentId("a")].data == {"v": "a"}
    assert by_agent[AgentId("b")].error == "b refused at once"
    assert by_agent[AgentId("d")].error == "d failed"
    errors = events.of(E.AGENT_ERROR)
    assert sorted(str(e.agent) for e in errors) == ["b", "d"]
    assert {e.data["error_type"] for e in errors} == {"RuntimeError", "ValueError"}
    starts = events.of(E.AGENT_START)
    assert [e.agent for e in starts] == list(AGENTS)
    journal = await ex.history_store.read_journal(result.id)  # type: ignore[union-attr]
    assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))


async def test_a_budget_stop_from_any_call_ends_the_phase() -> None:
    ex = TaskExecutor(agent_manager=Directory({"c": "budget"}))
    result = await ex.execute(FAN, {"x": 1})
    assert result.status is ExecutionStatus.FAILED
    assert "budget" in (result.phases[PhaseName("P")].error or "")


async def test_an_engine_timeout_turns_a_slow_call_into_an_error_answer() -> None:
    async def slow(request: AgentRequest) -> dict[str, Any]:
        await asyncio.sleep(0 if request.agent_id != "c" else 5)
        return {"v": request.agent_id}

    from quorum.testing import make_manager

    ex = TaskExecutor(agent_manager=make_manager(dict.fromkeys(AGENTS, slow)), agent_timeout=0.05)
    result = await ex.execute(FAN, {"x": 1})
    by_agent = {a.agent_id: a for a in result.phases[PhaseName("P")].answers}
    assert by_agent[AgentId("a")].error is None
    assert by_agent[AgentId("c")].error is not None
    assert "0.05" in (by_agent[AgentId("c")].error or "")
