"""The ETA learned from the history: quantiles, predictions at phase boundaries, none without history,
and ``phase:slow`` past a phase's p95."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.engine.executor import TaskExecutor
from quorum.events import Event, EventType
from quorum.history.memory import MemoryHistoryStore
from quorum.ids import AgentId
from quorum.telemetry import EtaModel, EtaTracker, TelemetrySettings, estimate, instrument
from quorum.telemetry.eta import quantiles
from quorum.testing import ScriptedAgent, make_manager
from tests.engine.run_helpers import phase, prompt, task

pytestmark = pytest.mark.integration

TWO = dataclasses.replace(
    task(phase("A", prompt("first"), agents=("a",)),
         phase("B", prompt("second"), agents=("b",), depends_on="A"), name="two"),
    content_hash="two-v1")


def test_quantiles_match_numpy_linear_interpolation() -> None:
    values = [0.3, 1.2, 0.7, 2.9, 1.1, 0.4, 5.0]
    q = quantiles(values)
    assert q is not None
    assert q.n == 7
    for mine, p in ((q.p10, 10), (q.p50, 50), (q.p90, 90), (q.p95, 95)):
        assert mine == pytest.approx(float(np.percentile(values, p)))
    assert quantiles([]) is None


class Gate:
    """An agent that answers once released (the phase under test stays running until then)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        self.started.set()
        await self.release.wait()
        return AgentResponse(agent_id=AgentId("b"), data={"v": 2})


async def _history(store: MemoryHistoryStore, runs: int) -> None:
    ex = TaskExecutor(agent_manager=make_manager({"a": ScriptedAgent({"v": 1}, delay=0.02),
                                                  "b": ScriptedAgent({"v": 2}, delay=0.15)}),
                      history_store=store)
    for _ in range(runs):
        await ex.execute(TWO, {})
    await ex.aclose()


async def test_the_eta_at_a_boundary_comes_from_the_runs_of_the_same_version() -> None:
    store = MemoryHistoryStore()
    await store.open()
    gate = Gate()
    ex = TaskExecutor(agent_manager=make_manager({"a": ScriptedAgent({"v": 1}, delay=0.02), "b": gate}),
                      history_store=store)
    handle = await ex.start(TWO, {})
    await gate.started.wait()
    record = await store.get_execution(handle.id)
    assert record is not None
    assert await estimate(store, record) is None  # no history: no guess
    gate.release.set()
    await handle.result()

    await _history(store, 4)
    gate = Gate()
    ex = TaskExecutor(agent_manager=make_manager({"a": ScriptedAgent({"v": 1}, delay=0.02), "b": gate}),
                      history_store=store)
    handle = await ex.start(TWO, {})
    await gate.started.wait()
    await asyncio.sleep(0.05)  # the journal has phase A's end
    record = await store.get_execution(handle.id)
    assert record is not None
    eta = await estimate(store, record)
    assert eta is not None
    assert eta.basis == 5  # the first run (gated) completed too: same version
    assert eta.boundary == "A"
    left = eta.finish_at - eta.remaining.p50
    assert eta.remaining.p10 <= eta.remaining.p50 <= eta.remaining.p90 <= eta.remaining.p95
    assert 0.1 < eta.remaining.p50 < 1.0  # phase B took ~0.15 s in the runs of the history
    assert eta.finish_low_at <= eta.finish_at <= eta.finish_high_at <= eta.finish_p95_at
    assert left <= eta.finish_at
    assert "ETA" in eta.describe()
    assert "p95" in eta.describe()
    # a caller holding the journal passes it: the estimate is of those events, not read again
    journal = await store.read_journal(record.id)
    ended_a = next(i for i, e in enumerate(journal) if e.type == EventType.PHASE_COMPLETE)
    before_a = await estimate(store, record, journal=journal[:ended_a])
    assert before_a is not None
    assert before_a.boundary is None  # the state before phase A ended: the ETA at the start
    assert before_a.remaining.p50 > eta.remaining.p50
    same = await estimate(store, record, journal=journal)
    assert same is not None
    assert (same.boundary, same.remaining) == (eta.boundary, eta.remaining)
    other = dataclasses.replace(record, task_hash="two-v2")
    assert await estimate(store, other) is None  # another version has no history
    gate.release.set()
    ended = await handle.result()
    final = await store.get_execution(ended.id)
    assert final is not None
    assert await estimate(store, final) is None  # it has ended
    await ex.aclose()


async def test_a_phase_past_its_p95_is_flagged_slow_and_the_eta_follows_the_boundaries() -> None:
    store = MemoryHistoryStore()
    await store.open()
    await _history(store, 4)
    gate = Gate()
    ex = TaskExecutor(agent_manager=make_manager({"a": ScriptedAgent({"v": 1}, delay=0.02), "b": gate}),
                      history_store=store)
    telemetry = instrument(ex, TelemetrySettings(), eta=EtaTracker(min_slack_s=0.05))
    tracker = telemetry.eta
    assert tracker is not None
    model = await tracker.learn(store, "two", "two-v1")
    assert model.basis == 4
    assert set(model.phase_durations) == {"A", "B"}
    slow: list[Event] = []
    boundaries: list[str | None] = []
    tracker.on_slow.append(slow.append)
    tracker.on_eta.append(lambda eta: boundaries.append(eta.boundary))
    handle = await ex.start(TWO, {})
    await gate.started.wait()
    p95 = model.phase_durations["B"].p95
    await asyncio.sleep(tracker.threshold(p95) + 0.2)
    assert [e.type for e in slow] == [EventType.PHASE_SLOW]
    assert slow[0].phase == "B"
    assert slow[0].data["p95_s"] == pytest.approx(p95)
    assert slow[0].data["running_s"] >= tracker.threshold(p95)
    current = tracker.current(handle.id)
    assert current is not None
    assert current.boundary == "A"
    gate.release.set()
    await handle.result()
    assert boundaries == [None, "A", "B"]  # at the start, then at each phase's end
    assert tracker.current(handle.id) is None
    await telemetry.aclose()
    await ex.aclose()


def test_the_model_from_timelines_skips_unfinished_runs() -> None:
    from quorum.telemetry.eta import RunTimeline

    done = RunTimeline(started=0.0, ended=10.0, settled={"A": 4.0}, phase_durations={"A": 4.0}, running={})
    open_ = RunTimeline(started=0.0, ended=None, settled={}, phase_durations={}, running={"A": 0.0})
    model = EtaModel.learn("t", "h", [done, open_])
    assert model.basis == 1
    assert model.remaining_after["A"].p50 == 6.0
    assert model.total is not None
    assert model.total.p50 == 10.0


def test_import_quorum_never_imports_opentelemetry() -> None:
    code = ("import sys, quorum, quorum.telemetry, quorum.telemetry.eta, quorum.cli.history_cmd; "
            "print(any(m.startswith('opentelemetry') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
