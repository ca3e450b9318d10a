"""An execution's usage with its children's part kept apart: each child counted once, by id, in the
context, its checkpoints and its JSON form; and a take-over that does not count a call twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.engine.checkpoint import Checkpoint
from quorum.engine.context import ExecutionContext
from quorum.engine.results import ExecutionResult, Usage
from quorum.events import Event
from quorum.history.base import HistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import AgentId
from quorum.testing import ScriptedAgent
from tests.composition.helpers import Gate
from tests.composition.takeover import checkpoint_after, completion_of, copy_execution, journal_until
from tests.engine.run_helpers import agent_step, executor_with, phase, task

CHILD = Usage(calls=2, errors=1, tokens_in=10, tokens_out=4, cost_usd=0.5)
OTHER = Usage(calls=3, tokens_in=1, tokens_out=1, cost_usd=0.25)


def _context() -> ExecutionContext:
    ctx = ExecutionContext(task(phase("A", agent_step("x", "a"))))
    ctx.record_usage(AgentResponse(agent_id=AgentId("x"), tokens_in=7, tokens_out=2, cost_usd=0.125))
    return ctx


def test_a_child_counts_once_and_its_part_is_told_apart() -> None:
    ctx = _context()
    assert ctx.count_child("c1", CHILD) is True
    assert ctx.count_child("c1", CHILD) is False  # found again: counted already
    assert ctx.usage == Usage(calls=3, errors=1, tokens_in=17, tokens_out=6, cost_usd=0.625)
    assert ctx.children_usage == CHILD
    assert ctx.own_usage == Usage(calls=1, tokens_in=7, tokens_out=2, cost_usd=0.125)
    assert dict(ctx.child_usages) == {"c1": CHILD}
    result = ctx.result()
    assert result.children_usage == CHILD
    assert ExecutionResult.from_dict(result.to_dict()).children_usage == CHILD


def test_a_checkpoint_keeps_the_children_counted_and_restoring_it_forgets_later_ones() -> None:
    ctx = _context()
    ctx.count_child("c1", CHILD)
    checkpoint = ctx.create_checkpoint("here")
    ctx.count_child("c2", OTHER)
    assert dict(checkpoint.children) == {"c1": CHILD}
    ctx.restore_checkpoint(checkpoint.id)
    assert ctx.usage.calls == 3
    assert dict(ctx.child_usages) == {"c1": CHILD}
    assert ctx.count_child("c2", OTHER) is True  # not counted at that checkpoint: it counts again
    assert Checkpoint.from_dict(checkpoint.to_dict()) == checkpoint


def test_the_json_form_keeps_the_children_and_json_without_them_still_loads() -> None:
    ctx = _context()
    ctx.count_child("c1", CHILD)
    ctx.create_checkpoint("here")
    back = ExecutionContext.from_json(ctx.to_json())
    assert dict(back.child_usages) == {"c1": CHILD}
    assert back.usage == ctx.usage
    assert back.count_child("c1", CHILD) is False
    assert dict(back.checkpoints[0].children) == {"c1": CHILD}

    old = ctx.to_dict()
    del old["children"]
    for checkpoint in old["checkpoints"]:
        del checkpoint["children"]
    loaded = ExecutionContext.from_dict(old)
    assert loaded.usage == ctx.usage  # the total is kept; its children's part is not known
    assert dict(loaded.child_usages) == {}
    assert dict(loaded.checkpoints[0].children) == {}


PARALLEL = task(phase("A", agent_step("x", "a")),
                phase("B", agent_step("y", "b1"), agent_step("z", "b2"), outputs=("v",)))
"""A and B run at once; B asks y, then z."""


@pytest.mark.parametrize("through", ["checkpoint of A", "completion of B"])
async def test_a_call_of_a_phase_in_flight_at_the_checkpoint_counts_once_after_a_take_over(
    tmp_path: Path, store: HistoryStore, through: str,
) -> None:
    """The checkpoint after A counts B's first call. The process dies there (B runs on after the
    take-over: the call is answered from the journal) or after B completed, before B's checkpoint (the
    journal settles B with both its answers): each of the three calls counts once."""
    x, z = Gate({"v": "x"}), Gate({"v": "z"})  # A completes after y answered, with B still running
    source = SQLiteHistoryStore(tmp_path / "source.db")
    await source.open()
    try:
        first = executor_with({"x": x, "y": ScriptedAgent({"v": "y"}), "z": z}, history_store=source)
        handle = await first.start(PARALLEL)

        def y_answered(e: Event) -> bool:
            return e.type == "agent:response" and e.agent == "y"

        await journal_until(source, handle.id, y_answered)
        x.released.set()
        await journal_until(source, handle.id, checkpoint_after("A"))
        if through == "completion of B":
            z.released.set()
            await journal_until(source, handle.id, completion_of("B"))
            stop = completion_of("B")
        else:
            stop = checkpoint_after("A")
        await copy_execution(source, store, handle.id, through=stop)
        if not handle.done:  # with B completed, the first run has ended
            await first.abort_execution(handle.id, "the test is done with it")
        await first.aclose()
    finally:
        await source.close()

    agents = {name: ScriptedAgent({"v": name}) for name in ("x", "y", "z")}
    second = executor_with(agents, history_store=store)
    try:
        result = await (await second.resume_execution(handle.id)).result()
    finally:
        await second.aclose()
    assert result.status.value == "completed", result.error
    assert [agents[n].calls for n in ("x", "y", "z")] == [0, 0, 1 if through == "checkpoint of A" else 0]
    assert result.usage.calls == 3
    assert result.children_usage == Usage()


@pytest.mark.unit
def test_usage_adds_subtracts_and_counts_answers_as_the_context_does() -> None:
    assert Usage(calls=5, errors=1, tokens_in=11, tokens_out=5, cost_usd=0.75) == CHILD + OTHER
    assert (CHILD + OTHER) - OTHER == CHILD
    assert Usage.total([]) == Usage()
    assert Usage.total([CHILD, OTHER, CHILD]) == CHILD + OTHER + CHILD
    answers = [AgentResponse(agent_id=AgentId("x"), tokens_in=7, tokens_out=2, cost_usd=0.125),
               AgentResponse(agent_id=AgentId("y"), error="timed out")]
    ctx = ExecutionContext(task(phase("A", agent_step("x", "a"))))
    for answer in answers:
        ctx.record_usage(answer)
    assert Usage.of_answers(answers) == ctx.usage == Usage(calls=2, errors=1, tokens_in=7, tokens_out=2,
                                                           cost_usd=0.125)
