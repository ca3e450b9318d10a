"""Small parts of a live execution: its control (pause gate, interrupts, phase clocks) and the phase
views of templates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.definition.model import Phase, Task
from quorum.engine.context import ExecutionContext
from quorum.engine.control import INTERRUPTIBLE, ExecutionControl
from quorum.engine.log import EngineLogger
from quorum.engine.phase_views import PhaseView
from quorum.engine.ports import Interrupt
from quorum.engine.results import PhaseResult
from quorum.engine.status import ExecutionStatus, PhaseStatus
from quorum.errors import InvalidTransitionError
from quorum.ids import AgentId, PhaseName, TaskName

pytestmark = pytest.mark.unit


class _Events:
    """An emitter that keeps what is emitted (the control's own events)."""

    def __init__(self) -> None:
        self.emitted: list[str] = []

    def wants(self, event_type: str) -> bool:
        return True

    def emit(self, event_type: str, **fields: Any) -> None:
        self.emitted.append(event_type)

    def streamer(self, phase: str, step: int, agent: str) -> None:
        return None


def _running_control() -> tuple[ExecutionControl, ExecutionContext, _Events]:
    ctx = ExecutionContext(Task(name=TaskName("t"), phases=(Phase(name=PhaseName("P")),)))
    ctx.start()
    events = _Events()
    return ExecutionControl(ctx, events, EngineLogger(), time_limit_s=None), ctx, events


async def test_a_pause_holds_every_waiter_at_the_boundary_and_a_resume_lets_all_through() -> None:
    control, ctx, events = _running_control()
    await asyncio.wait_for(control.boundary(), 1)  # running: no wait
    control.pause("hold on")
    assert ctx.status is ExecutionStatus.PAUSED
    first = asyncio.ensure_future(control.boundary())
    second = asyncio.ensure_future(control.boundary())
    await asyncio.sleep(0.01)
    assert not first.done()
    assert not second.done()
    first.cancel()  # one waiter giving up must not release (or cancel) the others
    await asyncio.sleep(0.01)
    assert first.cancelled()
    assert not second.done()
    control.resume()
    await asyncio.wait_for(second, 1)
    assert ctx.status.value == "running"
    assert events.emitted == ["execution:paused", "execution:resumed"]


async def test_interrupts_follow_their_table_and_the_first_one_wins() -> None:
    control, ctx, _ = _running_control()
    with pytest.raises(InvalidTransitionError):
        control.interrupt(Interrupt.DETACH, "only a paused execution can be left")
    assert control.interrupt(Interrupt.ABORT, "stop")
    assert ctx.get_abort_signal().reason == "stop"
    assert not control.interrupt(Interrupt.TIMEOUT, "too late")  # already ending
    assert control.interrupted == (Interrupt.ABORT, "stop")
    assert set(INTERRUPTIBLE) == set(Interrupt)


async def test_a_paused_phase_clock_does_not_run_out() -> None:
    control, _, _ = _running_control()
    async with control.phase_clock(0.05) as clock:
        control.pause("")
        await asyncio.sleep(0.1)  # twice the phase timeout, paused
        assert not clock.expired()
        control.resume()
    assert not clock.expired()


def test_a_phase_view_is_the_mapping_templates_read() -> None:
    a1 = AgentResponse(agent_id=AgentId("a"), error="boom")
    a2 = AgentResponse(agent_id=AgentId("a"), text="fine")
    b = AgentResponse(agent_id=AgentId("b"), text="b")
    result = PhaseResult(name=PhaseName("P"), status=PhaseStatus.COMPLETED, outputs={"x": 1},
                         answers=(a1, a2, b))
    view = PhaseView(result)
    assert dict(view) == {"outputs": {"x": 1}, "responses": {"a": a2, "b": b}, "status": "completed"}
    assert view["responses"]["a"] is a2  # the latest successful answer
    assert "status" in view
    assert "answers" not in view
    with pytest.raises(KeyError):
        view["answers"]


def test_settled_phases_is_a_mapping_by_name_in_settling_order() -> None:
    from quorum.engine.phase_views import SettledPhases

    a = PhaseResult(name=PhaseName("A"), status=PhaseStatus.COMPLETED)
    b = PhaseResult(name=PhaseName("B"), status=PhaseStatus.SKIPPED)
    phases = SettledPhases((a, b))
    assert phases == {"A": a, "B": b}
    assert list(phases) == ["A", "B"]
    assert list(phases.items()) == [("A", a), ("B", b)]
    assert list(phases.values()) == [a, b]
    assert phases[PhaseName("B")] is b
    assert phases.get(PhaseName("C")) is None
    assert len(phases) == 2
    with pytest.raises(KeyError):
        phases[PhaseName("C")]


async def test_a_recorded_snapshot_refers_to_answers_by_call_key() -> None:
    from quorum.events import EventType
    from quorum.history.memory import MemoryHistoryStore
    from tests.engine.run_helpers import executor_with, phase, prompt, task

    store = MemoryHistoryStore()

    async def agent(request: object) -> dict[str, int]:
        return {"v": 1}

    ex = executor_with({"a": agent, "b": agent}, history_store=store)
    t = task(phase("P", prompt("go"), agents=("a", "b"), parallel=True, outputs=("v",)),
             phase("Q", prompt("next"), agents=("a",), depends_on="P", outputs=("v",)))
    first = await ex.execute(t, {"x": 1})
    second = await ex.execute(t, {"x": 1})
    journal = await store.read_journal(first.id)
    checkpoints = [e for e in journal if e.type == EventType.CHECKPOINT_CREATED]
    snapshot = checkpoints[-1].data["snapshot"]
    assert set(snapshot) == {"sequence", "started_at", "paused_s", "usage", "children", "phases",
                             "checkpoints"}
    assert list(snapshot["phases"]) == ["P", "Q"]
    keys = {e.data["call_key"] for e in journal if e.type == EventType.AGENT_RESPONSE}
    assert set(snapshot["phases"]["P"]["answer_refs"]) | set(snapshot["phases"]["Q"]["answer_refs"]) == keys
    assert snapshot["usage"]["calls"] == 3
    assert snapshot["checkpoints"] == list(first.checkpoints)
    # Every execution of a task has the same call keys: the journals share the strings.
    again = await store.read_journal(second.id)
    firsts = [e.data["call_key"] for e in journal if e.type == EventType.AGENT_START]
    seconds = [e.data["call_key"] for e in again if e.type == EventType.AGENT_START]
    assert firsts == seconds
    assert all(x is y for x, y in zip(firsts, seconds, strict=True))


def test_thaw_turns_answers_into_their_dicts_at_any_depth() -> None:
    from types import MappingProxyType

    from quorum.definition.model import thaw as thaw_data
    from quorum.engine.results import thaw

    answer = AgentResponse(agent_id=AgentId("a"), data=MappingProxyType({"x": (1, 2)}))
    frozen = MappingProxyType({"k": (answer, MappingProxyType({"y": answer}))})
    expected = answer.to_dict()
    assert thaw(frozen) == {"k": [expected, {"y": expected}]}
    assert thaw(answer) == expected
    assert thaw_data(frozen) == {"k": [answer, {"y": answer}]}  # the definition layer keeps them


async def test_a_settled_phase_is_encoded_once_for_all_later_checkpoints(tmp_path: object) -> None:
    """Each checkpoint holds every settled phase; the SQLite journal encodes each phase once (its
    ``PhaseRecord`` keeps the text) and what it stores reads back as the phase's JSON form."""
    from pathlib import Path

    from quorum.engine import snapshot as snapshot_module
    from quorum.events import EventType
    from quorum.history.sqlite import SQLiteHistoryStore
    from tests.engine.run_helpers import executor_with, phase, prompt, task

    made: list[str] = []
    phase_json = snapshot_module._phase_json

    def counting(result: PhaseResult, refs: object) -> dict[str, object]:
        made.append(result.name)
        return phase_json(result, refs)  # type: ignore[arg-type]

    async def agent(request: object) -> dict[str, str]:
        return {"v": "x" * 300}  # phases large enough that checkpoints are taken apart

    names = [f"P{i}" for i in range(6)]
    phases = [phase(n, prompt("go"), agents=("a",), depends_on=names[i - 1] if i else (), outputs=("v",))
              for i, n in enumerate(names)]
    assert isinstance(tmp_path, Path)
    async with SQLiteHistoryStore(tmp_path / "h.db", blob_threshold=1024) as store:
        ex = executor_with({"a": agent}, history_store=store)
        # A warm-up run, so that the counted one encodes only its own checkpoints.
        await ex.execute(task(*phases), {})
        snapshot_module._phase_json = counting
        try:
            result = await ex.execute(task(*phases), {})
        finally:
            snapshot_module._phase_json = phase_json
        journal = await store.read_journal(result.id)
    assert made == names  # six checkpoints holding 21 phases in all: six encodings
    last = [e for e in journal if e.type == EventType.CHECKPOINT_CREATED][-1].data["snapshot"]
    assert list(last["phases"]) == names
    for name in names:
        stored = dict(last["phases"][name])
        assert stored["outputs"] == {"v": "x" * 300}
        assert stored["status"] == "completed"
        assert len(stored["answer_refs"]) == 1
