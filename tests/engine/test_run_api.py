"""The public entry points: tasks by name or path, input validation, quorum.run, fork/continue from a
checkpoint, the handle as a context manager, the sandbox at run time, and the committee shape."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.engine.api import run
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.errors import InputValidationError, InvalidTransitionError, TaskNotFoundError
from quorum.events import EventType as E
from quorum.testing import EventCapture, ScriptedAgent, make_manager, sleeping_agent
from tests.engine.run_helpers import (
    ANALYSIS,
    COMMITTEE_AGENTS,
    DEBATE,
    ROUNDTABLE,
    committee_task,
    executor_with,
    phase,
    prompt,
    task,
)

pytestmark = pytest.mark.integration

TASK_MD = """# Small Committee

```yaml
name: small-committee
version: 1.0.0
requirements:
  ticker: string
  amount: {type: number, min: 1}
```

## Phase: Analysis
parallel: true

### Agents
- alpha
- beta

### Steps
- Analyse {{ input.ticker }}
- aggregate: consensus

### Outputs
- stance: the committee view
"""


def _write_task(tmp_path: Path) -> Path:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    path = tasks / "small-committee.md"
    path.write_text(TASK_MD)
    return tasks


def _committee_agents() -> dict[str, ScriptedAgent]:
    return {"alpha": ScriptedAgent({"stance": "bullish", "confidence": 0.8}),
            "beta": ScriptedAgent({"stance": "bearish", "confidence": 0.4})}


async def test_execute_by_name_and_by_path(tmp_path: Path) -> None:
    tasks = _write_task(tmp_path)
    ex = executor_with(_committee_agents(), tasks_dir=tasks)
    by_name = await ex.execute("small-committee", {"ticker": "BTC", "amount": 10})
    assert by_name.status is ExecutionStatus.COMPLETED, by_name.error
    assert by_name.verdict == {"stance": "bullish"}
    by_path = await ex.execute(tasks / "small-committee.md", {"ticker": "ETH", "amount": 5})
    assert by_path.status is ExecutionStatus.COMPLETED
    with pytest.raises(InputValidationError) as info:
        await ex.execute("small-committee", {"amount": 0})
    assert "ticker" in str(info.value)
    assert "amount" in str(info.value)
    with pytest.raises(TaskNotFoundError):
        await ex.execute("no-such-task", {})


def test_blocking_run_helper(tmp_path: Path) -> None:
    tasks = _write_task(tmp_path)
    result = run("small-committee", {"ticker": "BTC", "amount": 3}, tasks_dir=tasks,
                 agent_manager=make_manager(_committee_agents()))
    assert result.status is ExecutionStatus.COMPLETED
    assert result.verdict == {"stance": "bullish"}


async def test_blocking_run_refuses_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="blocks"):
        run(task(phase("P", prompt("x"), agents=("a",))), {})


async def test_restore_a_checkpoint_and_run_on_from_there() -> None:
    calls: list[str] = []

    def agent(request: AgentRequest) -> dict[str, str]:
        calls.append(request.phase)
        return {"v": request.phase}

    ex = executor_with({"a": agent})
    t = task(phase("A", prompt("a"), agents=("a",)), phase("B", prompt("b"), agents=("a",), depends_on="A"),
             phase("C", prompt("c"), agents=("a",), depends_on="B"))
    first = await ex.execute(t)
    assert calls == ["A", "B", "C"]
    assert len(first.checkpoints) == 3
    calls.clear()
    forked = await ex.fork(first.id, first.checkpoints[0])
    result = await forked.result()
    assert result.status is ExecutionStatus.COMPLETED
    assert result.id != first.id
    assert calls == ["B", "C"]  # A came from the checkpoint
    assert result.phases["A"].outputs == first.phases["A"].outputs
    calls.clear()
    ctx = forked.context
    ctx.restore_checkpoint(result.checkpoints[1])
    again = await (await ex.run_context(ctx)).result()
    assert again.status is ExecutionStatus.COMPLETED
    assert calls == ["C"]
    with pytest.raises(InvalidTransitionError):
        ctx.start()  # completed again: only a restore goes back


async def test_leaving_the_handle_block_aborts_what_still_runs() -> None:
    agent = sleeping_agent(5.0)
    ex = executor_with({"a": agent})
    async with await ex.start(task(phase("P", prompt("x"), agents=("a",)))) as handle:
        await asyncio.sleep(0.01)
    assert handle.status is ExecutionStatus.ABORTED
    assert agent.cancelled == 1


@pytest.mark.errors
@pytest.mark.parametrize("escape", [
    "{{ ''.__class__.__mro__ }}",
    "{{ input|attr('__class__') }}",
    "{{ lipsum.__globals__ }}",
    "{{ 'a' * 1000000000 }}",
])
async def test_sandbox_escapes_are_refused_at_run_time(escape: str) -> None:
    agent = ScriptedAgent()
    ex = executor_with({"a": agent})
    result = await ex.execute(task(phase("P", prompt(escape), agents=("a",))), {"x": 1})
    assert result.status is ExecutionStatus.FAILED
    assert result.phases["P"].status is PhaseStatus.FAILED
    assert agent.calls == 0


async def test_the_committee_shape_passes_state_from_phase_to_phase() -> None:
    def member(request: AgentRequest) -> dict[str, object]:
        earlier = sum(len(p["responses"]) for p in request.context["phases"].values())
        return {"agent": request.agent_id, "stance": "for", "score": earlier + len(request.peers)}

    agents = dict.fromkeys(COMMITTEE_AGENTS, member)
    ex = executor_with(agents)
    with EventCapture(ex) as events:
        result = await ex.execute(committee_task(), {"topic": "adopt"})
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert result.usage.calls == 18
    assert [result.phases["Analysis"].outputs[a]["score"] for a in ANALYSIS] == [0] * 6
    assert [result.phases["RoundTable"].outputs[a]["score"] for a in ROUNDTABLE] == [6, 7, 8, 9, 10]
    debate = [a.data["score"] for a in result.phases["Debate"].answers]
    assert debate == [11, 12, 13, 14]
    assert [a.agent_id for a in result.phases["Debate"].answers] == [
        *DEBATE, *DEBATE]
    consensus = result.phases["Consensus"].outputs
    assert consensus["stance"] == "for"
    assert consensus["participants"] == 15  # each agent's final position: the debaters spoke twice
    assert result.verdict is not None
    assert "judge" in result.verdict
    assert len(events.of(E.CHECKPOINT_CREATED)) == 7


@pytest.mark.performance
async def test_committee_latency_is_close_to_its_critical_path() -> None:
    """A smoke check, not a timed assertion of the target (that is the benchmark's job)."""
    agents = {a: sleeping_agent(0.02, {"stance": "for"}) for a in COMMITTEE_AGENTS}
    ex = executor_with(agents)
    await ex.execute(committee_task(), {"topic": "x"})
    started = time.perf_counter()
    result = await ex.execute(committee_task(), {"topic": "x"})
    elapsed = time.perf_counter() - started
    assert result.status is ExecutionStatus.COMPLETED
    assert elapsed >= 12 * 0.02


def test_quorum_run_blocks_and_returns_the_result(tmp_path: Path) -> None:
    import quorum
    import quorum.engine.executor  # importing the engine must not shadow quorum.run

    tasks = _write_task(tmp_path)
    result = quorum.run("small-committee", {"ticker": "BTC", "amount": 3}, tasks_dir=tasks,
                        agent_manager=make_manager(_committee_agents()))
    assert result.status is ExecutionStatus.COMPLETED


async def test_fork_re_runs_named_phases_and_what_depends_on_them() -> None:
    from dataclasses import replace

    calls: list[str] = []

    def agent(request: AgentRequest) -> dict[str, str]:
        calls.append(request.phase)
        return {"v": request.phase}

    ex = executor_with({"a": agent})
    t = task(phase("A", prompt("a"), agents=("a",)), phase("B", prompt("b"), agents=("a",), depends_on="A"),
             phase("C", prompt("c"), agents=("a",)), phase("D", prompt("d"), agents=("a",), depends_on="B"))
    first = await ex.execute(t)
    calls.clear()
    rerun = await (await ex.fork(first.id, rerun=["B"])).result()
    assert rerun.status is ExecutionStatus.COMPLETED
    assert sorted(calls) == ["B", "D"]
    calls.clear()
    edited = replace(t, phases=(t.phases[0], t.phases[1], replace(t.phases[2], content_hash="changed"),
                                t.phases[3]))
    forked = await (await ex.fork(first.id, task=edited)).result()
    assert forked.status is ExecutionStatus.COMPLETED
    assert calls == ["C"]  # only the changed phase (nothing depends on it)


def test_rewind_drops_dependents_and_unsettled_phases() -> None:
    from quorum.engine.context import ExecutionContext

    t = task(phase("A", prompt("a"), agents=("a",)), phase("B", prompt("b"), agents=("a",), depends_on="A"),
             phase("C", prompt("c"), agents=("a",), depends_on="B"), phase("X", prompt("x"), agents=("a",)))
    ctx = ExecutionContext(t)
    ctx.start()
    for name in ("A", "B", "C"):
        ctx.start_phase(name)
        ctx.complete_phase(name, {"v": name})
    ctx.start_phase("X")
    ctx.fail_phase("X", "boom")
    with pytest.raises(InvalidTransitionError):
        ctx.rewind(["B"])  # running
    ctx.fail("boom")
    assert ctx.rewind(["B"]) == ("B", "C", "X")
    assert list(ctx.phases) == ["A"]
    assert ctx.status is ExecutionStatus.PENDING
