"""Control across processes on PostgreSQL: a pause, resume or abort asked for by another process reaches
the driving process through LISTEN/NOTIFY at once, though its poll timer is set to 30 s."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.manager import AgentManager
from quorum.agents.protocol import AgentRequest
from quorum.definition.model import OutputSelector, OutputSpec, Phase, Step, StepKind, Task
from quorum.engine.executor import TaskExecutor
from quorum.events import Event
from quorum.history.postgres import PostgresHistoryStore
from quorum.ids import AgentId, PhaseName, TaskName

from .pg import fresh_schema

pytestmark = [pytest.mark.integration, pytest.mark.concurrency]

CHILD = str(Path(__file__).with_name("child_pg.py"))
FAST_S = 0.5
"""The bound asserted (the feed answers in milliseconds; the margin is for a loaded test machine).
Without the feed the request would wait for the 30 s poll."""


def one_phase_task(agents: int) -> Task:
    phase = PhaseName("Work")
    return Task(
        name=TaskName("control-drill"), title="Control drill",
        phases=(Phase(name=phase, parallel=False, agents=tuple(AgentId(f"a-{i}") for i in range(agents)),
                      steps=(Step(kind=StepKind.PROMPT, index=0, text="work"),),
                      outputs=(OutputSpec(name="value", type="string"),)),),
        output=OutputSelector(phase=phase),
    )


async def ask_from_another_process(url: str, execution_id: str, action: str) -> float:
    """Run ``child_pg.py control``; returns when its request committed (its clock)."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, CHILD, "control", url, execution_id, action],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.split()[-1])


async def test_abort_and_pause_from_another_process_arrive_without_waiting_for_the_poll() -> None:
    async with fresh_schema() as url:
        store = PostgresHistoryStore(url)
        manager = AgentManager()
        calls: list[str] = []

        async def answer(request: AgentRequest) -> dict[str, Any]:
            calls.append(str(request.agent_id))
            await asyncio.sleep(0.05)
            return {"value": str(request.agent_id)}

        for i in range(400):
            manager.register(f"a-{i}", answer)
        executor = TaskExecutor(tasks_dir=None, agent_manager=manager, history_store=store,
                                control_poll_s=30.0, lease_ttl_s=60.0)
        arrived: dict[str, float] = {}
        changed = asyncio.Event()

        def note(event: Event) -> None:
            arrived.setdefault(event.type, time.time())
            changed.set()

        executor.on("*", note)
        handle = await executor.start(one_phase_task(400), {})
        await asyncio.sleep(0.5)  # running, its feed listening

        sent = await ask_from_another_process(url, handle.id, "pause")
        await asyncio.wait_for(_until(changed, lambda: "execution:paused" in arrived), 10)
        pause_s = arrived["execution:paused"] - sent
        sent = await ask_from_another_process(url, handle.id, "resume")
        await asyncio.wait_for(_until(changed, lambda: "execution:resumed" in arrived), 10)
        resume_s = arrived["execution:resumed"] - sent
        sent = await ask_from_another_process(url, handle.id, "abort")
        result = await asyncio.wait_for(handle.result(), 10)
        abort_s = arrived["execution:aborted"] - sent
        await executor.aclose()
        await store.close()
        print(f"control latency across processes: pause {pause_s * 1000:.0f} ms, resume "
              f"{resume_s * 1000:.0f} ms, abort {abort_s * 1000:.0f} ms")
        assert str(result.status) == "aborted"
        assert len(calls) < 400, "the abort stopped the run"
        for latency in (pause_s, resume_s, abort_s):
            assert latency < FAST_S


async def _until(changed: asyncio.Event, condition: Callable[[], bool]) -> None:
    while not condition():
        changed.clear()
        await changed.wait()
