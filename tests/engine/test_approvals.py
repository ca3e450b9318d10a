"""Approval gates: an ``approval:`` step waits for people, with a deadline and a default; the wait needs
no live process (it is detached, and the process that brings the decision takes the execution over from
its journal); decisions are journaled and become the phase's outputs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from quorum.definition.model import Task
from quorum.definition.parser import TaskParser
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.errors import InvalidDecisionError
from quorum.events import EventType as E
from quorum.history.base import HistoryStore
from quorum.ids import PhaseName
from quorum.testing import ScriptedAgent, make_manager

pytestmark = [pytest.mark.integration, pytest.mark.concurrency]

SIGN_OFF = PhaseName("Sign-off")


def gated(gate: str = "approval: Buy BTC?", *, limit: str = "") -> Task:
    text = f"""# Gated
```yaml
name: gated
{limit}
```

## Phase: Analysis
### Agents
- analyst
### Steps
- Analyse.
### Outputs
- v (string): the view

## Phase: Sign-off
dependsOn: Analysis
### Steps
- {gate}
### Outputs
- decision (string): the decision
- approvals (list): who decided

## Phase: Execution
dependsOn: Sign-off
when: phases["Sign-off"].outputs.decision == "approve"
### Agents
- trader
### Steps
- Execute.
### Outputs
- v (string): done
"""
    return TaskParser().parse_task_content(text, source="gated.md")


class Members:
    def __init__(self) -> None:
        self.analyst = ScriptedAgent({"v": "buy"})
        self.trader = ScriptedAgent({"v": "bought"})

    def executor(self, store: HistoryStore | None = None, **options: Any) -> TaskExecutor:
        return TaskExecutor(agent_manager=make_manager({"analyst": self.analyst, "trader": self.trader}),
                            history_store=store, control_poll_s=0.02, **options)


async def _until(predicate: Any, what: str = "condition") -> None:
    deadline = time.monotonic() + 10.0
    while not predicate():
        assert time.monotonic() < deadline, f"{what} never became true"
        await asyncio.sleep(0.005)


async def _waiting(ex: TaskExecutor, execution_id: str) -> None:
    await _until(lambda: any(a.id == execution_id and a.status is ExecutionStatus.WAITING
                             for a in ex.get_active_executions()), "waiting")


async def test_an_approval_waits_then_the_decision_is_the_phase_s_output() -> None:
    members = Members()
    ex = members.executor()
    handle = await ex.start(gated("approval: Buy {{ input.amount }} of BTC?"), {"amount": 100})
    await _waiting(ex, handle.id)
    gates = await ex.pending_approvals(handle.id)
    assert [g.question for g in gates] == ["Buy 100 of BTC?"]
    await ex.decide(handle.id, "approve", by="alice", comment="within mandate")
    result = await handle.result()
    assert result.status is ExecutionStatus.COMPLETED
    outputs = result.phases[SIGN_OFF].outputs
    assert outputs["decision"] == "approve"
    assert [(a["by"], a["decision"], a["comment"]) for a in outputs["approvals"]] == [
        ("alice", "approve", "within mandate")]
    assert len(members.trader.requests) == 1  # the approved branch ran


async def test_a_rejection_closes_the_gate_and_the_branch_is_skipped() -> None:
    members = Members()
    ex = members.executor()
    handle = await ex.start(gated("approval: Buy? approvers=3"), {})
    await _waiting(ex, handle.id)
    await ex.decide(handle.id, "reject", by="bob")
    result = await handle.result()
    assert result.phases[SIGN_OFF].outputs["decision"] == "reject"
    assert members.trader.requests == []


async def test_n_approvers_are_needed_and_a_person_counts_once() -> None:
    members = Members()
    ex = members.executor()
    handle = await ex.start(gated("approval: Buy? approvers=2"), {})
    await _waiting(ex, handle.id)
    await ex.decide(handle.id, "approve", by="alice")
    with pytest.raises(InvalidDecisionError, match="counts once"):
        await ex.decide(handle.id, "approve", by="alice")
    assert handle.status is ExecutionStatus.WAITING
    await ex.decide(handle.id, "approve", by="carol")
    result = await handle.result()
    assert [a["by"] for a in result.phases[SIGN_OFF].outputs["approvals"]] == ["alice", "carol"]


async def test_options_and_a_bad_choice() -> None:
    ex = Members().executor()
    handle = await ex.start(gated("approval: Size? options=full|half|none default=none"), {})
    await _waiting(ex, handle.id)
    with pytest.raises(InvalidDecisionError, match="choose one of full, half, none"):
        await ex.decide(handle.id, "approve", by="alice")
    await ex.decide(handle.id, "half", by="alice")
    result = await handle.result()
    assert result.phases[SIGN_OFF].outputs["decision"] == "half"


async def test_the_deadline_applies_the_default_recorded_by_deadline() -> None:
    members = Members()
    ex = members.executor()
    events: list[Any] = []
    ex.on("approval:decided", events.append)
    result = await ex.execute(gated("approval: Buy? timeout=200ms default=approve"), {})
    assert result.status is ExecutionStatus.COMPLETED
    assert result.phases[SIGN_OFF].outputs["decision"] == "approve"
    assert [e.data["by"] for e in events] == ["deadline"]


async def test_waiting_does_not_count_against_the_time_limit() -> None:
    ex = Members().executor()
    handle = await ex.start(gated(limit="maxExecutionTime: 300ms"), {"amount": 1})
    await _waiting(ex, handle.id)
    await asyncio.sleep(0.6)  # twice the time limit, waiting for a person
    await ex.decide(handle.id, "approve", by="alice")
    result = await handle.result()
    assert result.status is ExecutionStatus.COMPLETED


async def test_a_decision_reaching_a_paused_execution_counts_when_it_resumes() -> None:
    members = Members()
    ex = members.executor()
    handle = await ex.start(gated(), {"amount": 1})
    await _waiting(ex, handle.id)
    await ex.pause_execution(handle.id, "hold on")
    assert handle.status is ExecutionStatus.PAUSED
    await ex.decide(handle.id, "approve", by="alice")
    await asyncio.sleep(0.05)
    assert handle.status is ExecutionStatus.PAUSED
    assert members.trader.requests == []
    await ex.resume_execution(handle.id)
    assert (await handle.result()).status is ExecutionStatus.COMPLETED


async def test_an_abort_ends_a_waiting_execution() -> None:
    ex = Members().executor()
    handle = await ex.start(gated(), {"amount": 1})
    await _waiting(ex, handle.id)
    result = await ex.abort_execution(handle.id, "not today")
    assert result.status is ExecutionStatus.ABORTED


async def test_a_waiting_execution_needs_no_process(store: HistoryStore) -> None:
    """Detached while it waits; a decision from a new executor takes it over from the journal and
    finishes it: nothing before the gate runs again."""
    first = Members()
    ex1 = first.executor(store)
    handle = await ex1.start(gated("approval: Buy {{ input.amount }} of BTC?"), {"amount": 5})
    await _waiting(ex1, handle.id)
    await ex1.detach(handle.id)
    await ex1.aclose()
    record = await store.get_execution(handle.id)
    assert record is not None
    assert record.status == "waiting"
    assert record.owner is None

    second = Members()
    ex2 = second.executor(store)
    gates = await ex2.pending_approvals(handle.id)
    assert [g.id for g in gates] == ["Sign-off/0"]
    taken = await ex2.decide(handle.id, "approve", by="alice")
    assert taken is not None
    result = await taken.result()
    assert result.status is ExecutionStatus.COMPLETED
    assert result.phases[SIGN_OFF].outputs["decision"] == "approve"
    assert second.analyst.requests == []  # the analysis was answered from the journal
    assert len(second.trader.requests) == 1
    journal = await store.read_journal(handle.id)
    assert [e.type for e in journal].count(E.APPROVAL_REQUESTED) == 1
    assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
    await ex2.aclose()


async def test_a_decision_from_another_process_reaches_the_driver(store: HistoryStore) -> None:
    ex1 = Members().executor(store)
    handle = await ex1.start(gated(), {})
    await _waiting(ex1, handle.id)
    other = Members().executor(store)  # stands for `quorum approve` in another process
    assert await other.decide(handle.id, "approve", by="dana") is None  # ex1 drives it: sent there
    result = await handle.result()
    assert result.phases[SIGN_OFF].outputs["approvals"][0]["by"] == "dana"
    await other.aclose()
    await ex1.aclose()


async def test_a_deadline_passed_while_no_process_was_alive_is_applied_by_recover(
    store: HistoryStore,
) -> None:
    ex1 = Members().executor(store)
    handle = await ex1.start(gated("approval: Buy? timeout=300ms default=reject"), {})
    await _waiting(ex1, handle.id)
    await ex1.detach(handle.id)
    await ex1.aclose()
    ex2 = Members().executor(store)
    assert await ex2.recover() == []  # the deadline has not passed: it is left waiting
    await asyncio.sleep(0.4)
    recovered = await ex2.recover()
    assert [h.id for h in recovered] == [handle.id]
    result = await recovered[0].result()
    assert result.phases[SIGN_OFF].outputs["decision"] == "reject"
    assert result.phases[SIGN_OFF].outputs["approvals"][0]["by"] == "deadline"
    await ex2.aclose()


@pytest.mark.parametrize(("step", "message"), [
    ("approval: Buy? timeout=soon", "approval timeout"),
    ("approval: Buy? approvers=0", "approvers=0 must be a whole number"),
    ("approval: Buy? default=maybe", "default=maybe is not a choice"),
    ("approval: Buy? timout=1h", "unknown approval option 'timout' (did you mean 'timeout'?)"),
    ("approval: Size? options=a|b timeout=1h", "needs a default"),
    ("approval: timeout=1h", "needs a question"),
])
def test_bad_approval_steps_are_refused_with_their_line(step: str, message: str) -> None:
    from quorum.errors import DefinitionError

    with pytest.raises(DefinitionError) as caught:
        gated(step)
    problems = [p for p in caught.value.problems if p.severity == "error"]
    assert any(message in p.message for p in problems), problems
    assert all(p.line == 18 for p in problems if message in p.message)
