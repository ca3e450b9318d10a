"""``quorum run`` shows the children of ``task:`` steps as they go: a line per child in the live view
(its state, phases done, current phase, calls), the children's phase lines in the plain view."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console

from quorum.cli.progress import Progress
from quorum.cli.render import LiveView
from quorum.events import Event, EventType

from .helpers import Cli

PARENT = "p1"


def ev(execution: str, seq: int, kind: str, *, phase: str | None = None, **data: Any) -> Event:
    return Event(type=kind, execution_id=execution, sequence=seq,  # type: ignore[arg-type]
                 timestamp=1_790_000_000.0 + seq, task="portfolio-review" if execution == PARENT else "icm",
                 phase=phase, data=data)  # type: ignore[arg-type]


def _started(seq: int, child: str, index: int) -> Event:
    return ev(PARENT, seq, EventType.CHILD_STARTED, phase="Committees", child_id=child, task="icm",
              index=index)


def _shown(view: LiveView) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=140, color_system=None, highlight=False).print(view.render())
    return buffer.getvalue()


@pytest.mark.unit
def test_the_progress_follows_each_child_by_phase_and_calls() -> None:
    progress = Progress()
    progress.apply(_started(1, "c0", 0))
    progress.apply(_started(2, "c1", 1))
    progress.apply_child(ev("c0", 1, EventType.EXECUTION_START, phases=["A", "B", "C"]))
    progress.apply_child(ev("c0", 2, EventType.PHASE_START, phase="A"))
    progress.apply_child(ev("c0", 3, EventType.AGENT_RESPONSE, phase="A"))
    progress.apply_child(ev("c0", 4, EventType.AGENT_ERROR, phase="A"))
    progress.apply_child(ev("c0", 5, EventType.PHASE_COMPLETE, phase="A"))
    progress.apply_child(ev("c0", 6, EventType.PHASE_START, phase="B"))
    progress.apply_child(ev("g0", 1, EventType.PHASE_COMPLETE, phase="X"))  # a grandchild: not listed
    c0, c1 = progress.children["c0"], progress.children["c1"]
    assert (c0.task, c0.index, c0.parent_phase) == ("icm", 0, "Committees")
    assert (c0.phases_done, c0.phases_total, c0.phase, c0.calls, c0.status) == (1, 3, "B", 2, "running")
    assert (c1.phases_done, c1.calls, c1.status) == (0, 0, "running")
    assert list(progress.children) == ["c0", "c1"]
    assert progress.calls == 0  # the parent's own calls: none
    progress.apply(ev(PARENT, 3, EventType.CHILD_ENDED, phase="Committees", child_id="c1", status="failed"))
    assert c1.status == "failed"
    progress.apply(_started(4, "c1", 1))  # found again after a take-over: the same line, running
    assert list(progress.children) == ["c0", "c1"]
    assert c1.status == "running"


@pytest.mark.unit
def test_the_live_view_lists_the_children_running_first() -> None:
    view = LiveView(Progress(), Console(file=io.StringIO(), width=140, color_system=None))
    try:
        view.on_event(ev(PARENT, 1, EventType.EXECUTION_START))
        assert "children" not in _shown(view)
        view.on_event(_started(2, "c0", 0))
        view.on_event(_started(3, "c1", 1))
        view.on_child_event(ev("c1", 1, EventType.EXECUTION_START, phases=["A", "B"]))
        view.on_child_event(ev("c1", 2, EventType.PHASE_START, phase="A"))
        view.on_child_event(ev("c1", 3, EventType.AGENT_RESPONSE, phase="A"))
        view.on_event(ev(PARENT, 4, EventType.CHILD_ENDED, phase="Committees", child_id="c0",
                         status="completed"))
        lines = _shown(view).splitlines()
        at = lines.index(next(ln for ln in lines if ln.strip() == "children"))
        first, second = lines[at + 1], lines[at + 2]
        assert re.search(r"icm c1 #1\s+running\s+0/2 phases\s+A  calls 1", first), first
        assert re.search(r"icm c0 #0\s+completed\s+0 phases\s+calls 0", second), second
    finally:
        view.close()


@pytest.mark.integration
def test_the_plain_view_shows_each_childs_phases(cli: Cli) -> None:
    r = cli("run", "portfolio-review", "tickers=AAPL,MSFT", "amount=100000")
    assert r.code == 0, r
    children = re.findall(r"child:started\s+Committees\s+investment-committee-meeting (\w+) #\d", r.out)
    assert len(children) == 2, r.out
    for child in children:
        phases = re.findall(rf"^  \[{child}\] \S+\s+phase:(?:complete|skipped)\s+(.+?)(?:  |$)", r.out, re.M)
        assert phases[:2] == ["Activation", "Analysis"], r.out
        assert "Verdict" in phases
        assert not re.search(rf"^  \[{child}\] .*agent:", r.out, re.M)  # phases only, not every call
    # the summary tells the children's calls from the parent's own (it has none: it only allocates)
    assert re.search(r"completed portfolio-review \w+ [\d.]+s · (\d+) agent calls \(\1 in child executions\)",
                     r.out), r.out
    # the children's lines come before the parent's own end
    assert r.out.index(f"[{children[0]}]") < r.out.index("execution:complete")
