"""Small parts of a live execution: the pause gate and the phase views of templates."""

from __future__ import annotations

import asyncio

import pytest

from quorum.agents.protocol import AgentResponse
from quorum.engine.context import PhaseView
from quorum.engine.live import _Gate
from quorum.engine.results import PhaseResult
from quorum.engine.status import PhaseStatus
from quorum.ids import AgentId, PhaseName

pytestmark = pytest.mark.unit


async def test_the_gate_holds_waiters_while_shut_and_lets_all_through_when_opened() -> None:
    gate = _Gate()
    assert gate.is_set()
    await asyncio.wait_for(gate.wait(), 1)  # open: no wait
    gate.clear()
    assert not gate.is_set()
    first = asyncio.ensure_future(gate.wait())
    second = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0.01)
    assert not first.done()
    assert not second.done()
    first.cancel()  # one waiter giving up must not release (or cancel) the others
    await asyncio.sleep(0.01)
    assert first.cancelled()
    assert not second.done()
    gate.set()
    await asyncio.wait_for(second, 1)
    assert gate.is_set()


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
