"""Function agents: their answers are checked as an LLM's are, and a blocking ``def`` runs in a worker
thread, so that the agent's, the phase's and the task's time limits all hold."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from quorum.agents.function import FunctionAgent
from quorum.agents.manager import AgentManager
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import OutputSpec
from quorum.definition.parser import TaskParser
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.errors import AgentError
from quorum.ids import AgentId, ExecutionId, PhaseName

OUTCOME = OutputSpec(name="outcome", type="string", description="approve, reject or defer")
PICKS = OutputSpec(name="agents", type="list", description="in order: alpha, beta or gamma")
REPORT = OutputSpec(name="report", type="object")


def request(*outputs: OutputSpec) -> AgentRequest:
    return AgentRequest(
        agent_id=AgentId("judge"), prompt="Decide", execution_id=ExecutionId("e"), phase=PhaseName("P"),
        outputs=outputs,
    )  # fmt: skip


async def answer_of(value: Any, *outputs: OutputSpec, owned: tuple[str, ...] | None = None) -> AgentResponse:
    agent = FunctionAgent("judge", lambda _request: value, outputs=owned)
    return await agent.query(request(*outputs))


@pytest.mark.errors
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"confidence": 1.5}, "agent 'judge': answered confidence 1.5; a confidence is from 0 to 1"),
        ({"confidence": -0.1}, "confidence -0.1"),
        ({"confidence": float("nan")}, "confidence nan"),
        ({"confidence": "high"}, "confidence 'high'; a confidence is a number from 0 to 1"),
        ({"confidence": True}, "confidence True"),
        ({"stance": 1}, "agent 'judge': answered stance 1; a stance is text: bullish, bearish or neutral"),
        (
            AgentResponse(agent_id=AgentId("judge"), stance="up"),  # type: ignore[arg-type]  # the point
            "agent 'judge': answered stance 'up'; a stance is bullish, bearish or neutral",
        ),
        ({"rationale": {"why": 1}}, "answered 'rationale' as dict"),
        (AgentResponse(agent_id=AgentId("judge"), confidence=3.0), "confidence 3.0"),
        (42, "agent 'judge': returned int; return a str, a dict or an AgentResponse"),
    ],
)
async def test_bad_standard_fields_are_errors_naming_the_agent(value: Any, expected: str) -> None:
    with pytest.raises(AgentError) as caught:
        await answer_of(value)
    assert expected in str(caught.value)


@pytest.mark.errors
async def test_outputs_are_checked_like_an_llm_answer() -> None:
    with pytest.raises(AgentError, match=r"answered 'outcome' = 'carried'; it must be \"approve\""):
        await answer_of({"outcome": "carried"}, OUTCOME)
    with pytest.raises(AgentError, match=r"answered 'agents' = 'delta'; .* \(each item\)"):
        await answer_of({"agents": ["alpha", "delta"]}, PICKS)
    with pytest.raises(AgentError, match="agent 'judge': its answer lacks 'report', an output it owns"):
        await answer_of({"outcome": "approve"}, OUTCOME, REPORT, owned=("report", "outcome"))


async def test_good_answers_pass() -> None:
    good = {"outcome": "defer", "agents": ["gamma", "alpha"], "report": None, "stance": "neutral"}
    response = await answer_of({**good, "confidence": 1}, OUTCOME, PICKS, REPORT, owned=("report",))
    assert response.confidence == 1.0
    assert response.stance == "neutral"
    # Undeclared ownership: nothing is required; an output it does not give is not checked.
    assert (await answer_of({"stance": "bearish"}, OUTCOME, REPORT)).stance == "bearish"
    assert (await answer_of("plain text", OUTCOME)).text == "plain text"
    # A stance in the workflow's own words is data for its aggregates, not the typed stance.
    own_words = await answer_of({"stance": "for"})
    assert own_words.stance is None
    assert own_words.data["stance"] == "for"


TIMED_TASK = """\
# Blocking

```yaml
name: blocking
{task_limit}
```

## Phase: Only
{phase_limit}

### Steps
- agent: sleeper - Take your time.
"""


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set by the test once it has looked; set at the end in any case, so the thread ends."""
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.errors
@pytest.mark.parametrize("limit", ["agent", "phase", "task"])
async def test_a_blocking_def_agent_cannot_outlive_a_time_limit(limit: str, release: threading.Event) -> None:
    finished = threading.Event()

    def sleeper(_request: AgentRequest) -> dict[str, Any]:
        release.wait(20.0)  # a blocking call: 20 s unless the test lets it go
        finished.set()
        return {"stance": "neutral"}

    manager = AgentManager()
    manager.register("sleeper", sleeper)  # a plain def, registered as the README shows
    text = TIMED_TASK.format(
        task_limit="maxExecutionTime: 200ms" if limit == "task" else "",
        phase_limit="timeout: 200ms" if limit == "phase" else "",
    )
    executor = TaskExecutor(
        agent_manager=manager, max_execution_time=None if limit == "task" else 30.0,
        agent_timeout=0.2 if limit == "agent" else None,
    )  # fmt: skip
    result = await executor.execute(TaskParser().parse_task_content(text, source="blocking.md"))
    # The run is over while the agent's thread still sleeps: no time limit waited for it.
    assert not finished.is_set()
    expected = {
        "agent": (ExecutionStatus.FAILED, "agent 'sleeper': no answer within 0.2s"),
        "phase": (ExecutionStatus.FAILED, "phase 'Only' timed out after 0.2s"),
        "task": (ExecutionStatus.TIMEOUT, "execution exceeded its time limit of 0.2s"),
    }[limit]
    assert result.status is expected[0]
    assert expected[1] in (result.error or "")
    release.set()
    await manager.aclose()


async def test_a_def_agent_runs_in_a_worker_thread() -> None:
    seen: list[int] = []

    def blocking(_request: AgentRequest) -> str:
        seen.append(threading.get_ident())
        return "ok"

    assert (await FunctionAgent("a", blocking).query(request())).text == "ok"
    assert seen
    assert seen != [threading.get_ident()]


async def test_an_async_agent_stays_on_the_loop_thread() -> None:
    seen: list[int] = []

    async def quick(_request: AgentRequest) -> str:
        seen.append(threading.get_ident())
        return "ok"

    def on_loop(_request: AgentRequest) -> str:
        seen.append(threading.get_ident())
        return "ok"

    await FunctionAgent("a", quick).query(request())
    await FunctionAgent("b", on_loop, in_thread=False).query(request())
    assert seen == [threading.get_ident()] * 2
