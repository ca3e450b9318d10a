"""The run's view hears its ETA at phase boundaries once its task version has a completed run in the
history; the first run gets none (no guess)."""

from __future__ import annotations

from typing import Any

import pytest

from quorum import TaskExecutor
from quorum.cli.driver import RunSession
from quorum.definition.parser import TaskParser
from quorum.engine.context import ExecutionContext
from quorum.events import Event
from quorum.history.memory import MemoryHistoryStore
from quorum.telemetry.eta import Eta
from quorum.testing import make_manager, sleeping_agent

pytestmark = pytest.mark.integration

TASK = """# Two steps

```yaml
name: two-steps
version: 1.0.0
```

## Phase: First

### Steps
- agent: slow - first

## Phase: Second
dependsOn: [First]

### Steps
- agent: slow - second
"""


class RecordingView:
    def __init__(self) -> None:
        self.etas: list[Eta] = []
        self.notes: list[str] = []

    def on_event(self, event: Event) -> None:
        pass

    def on_child_event(self, event: Event) -> None:
        pass

    def note(self, text: str) -> None:
        self.notes.append(text)

    def attach(self, context: ExecutionContext) -> None:
        pass

    def close(self) -> None:
        pass

    def show_eta(self, eta: Eta) -> None:
        self.etas.append(eta)


async def _run(store: MemoryHistoryStore, view: RecordingView) -> Any:
    task = TaskParser().parse_task_content(TASK, source="two-steps.md")
    executor = TaskExecutor(tasks_dir=None, history_store=store,
                            agent_manager=make_manager({"slow": sleeping_agent(0.05)}))
    session = RunSession(store, view=view)
    session.bind(executor)
    try:
        return await session.drive(lambda: executor.start(task, {}))
    finally:
        await executor.aclose()


async def test_the_second_run_is_told_its_eta_the_first_is_not() -> None:
    store = MemoryHistoryStore()
    await store.open()
    first = RecordingView()
    assert (await _run(store, first)).status == "completed"
    assert first.etas == []
    second = RecordingView()
    outcome = await _run(store, second)
    assert outcome.status == "completed"
    assert second.etas, "no ETA on the second run"
    eta = second.etas[0]
    assert eta.execution_id == outcome.execution_id
    assert eta.basis == 1
    assert eta.finish_low_at <= eta.finish_at <= eta.finish_p95_at
    await store.close()


def test_the_live_view_header_counts_the_eta_down_while_running() -> None:
    import io
    import time

    from rich.console import Console

    from quorum.cli.progress import Progress
    from quorum.cli.render import LiveView
    from quorum.telemetry.eta import Quantiles

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    view = LiveView(Progress(), console)
    try:
        now = time.time()
        view.progress.status = "running"
        view.show_eta(Eta(execution_id="e", basis=3, boundary="First", elapsed_s=1.0,
                          remaining=Quantiles(n=3, p10=8, p50=10, p90=12, p95=20),
                          finish_at=now + 10, finish_low_at=now + 8, finish_high_at=now + 12,
                          finish_p95_at=now + 20))
        with console.capture() as captured:
            console.print(view.render())
        assert "ETA " in captured.get()
        assert "(p95 " in captured.get()
    finally:
        view.close()
