"""``agent:chunk`` events (an LLM answer streaming) show in the live view, beside the agent in flight."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from quorum.cli.progress import Progress
from quorum.cli.render import LiveView
from quorum.events import Event, EventType
from quorum.ids import AgentId, ExecutionId, PhaseName

pytestmark = pytest.mark.unit


def ev(seq: int, kind: str, *, phase: str = "Verdict", agent: str | None = "chair", **data: Any) -> Event:
    return Event(type=kind, execution_id=ExecutionId("e1"), sequence=seq, timestamp=1_790_000_000.0 + seq,
                 task="cli-demo", phase=PhaseName(phase), agent=None if agent is None else AgentId(agent),
                 data=data)


def _shown(view: LiveView) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None, highlight=False).print(view.render())
    return buffer.getvalue()


def test_streamed_text_shows_beside_the_agent_until_it_answers() -> None:
    view = LiveView(Progress(), Console(file=io.StringIO(), width=120, color_system=None))
    try:
        view.on_event(ev(1, EventType.PHASE_START, agent=None, attempt=1))
        view.on_event(ev(2, EventType.AGENT_START))
        view.on_event(ev(3, EventType.AGENT_CHUNK, text="The committee "))
        view.on_event(ev(3, EventType.AGENT_CHUNK, text="leans\nbullish"))
        shown = _shown(view)
        [line] = [ln for ln in shown.splitlines() if "Verdict / chair" in ln]
        assert line.rstrip().endswith("The committee leans bullish")
        # A long answer: only its end, on one line.
        view.on_event(ev(3, EventType.AGENT_CHUNK, text=" because " + "x" * 300 + " THE END"))
        [line] = [ln for ln in _shown(view).splitlines() if "Verdict / chair" in ln]
        assert line.rstrip().endswith("x THE END")
        assert "…" in line
        view.on_event(ev(4, EventType.AGENT_RESPONSE, call_key="k"))
        assert "THE END" not in _shown(view)
        # A piece that arrives after the answer is not shown again.
        view.on_event(ev(5, EventType.AGENT_CHUNK, text="late"))
        assert "late" not in _shown(view)
    finally:
        view.close()
