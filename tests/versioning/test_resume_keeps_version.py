"""An execution goes on with the definition it started with, whatever versions appear on disk later."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.protocol import AgentRequest
from quorum.definition.loader import TaskLoader
from quorum.engine.executor import TaskExecutor
from quorum.engine.status import ExecutionStatus
from quorum.events import EventType
from quorum.history.base import HistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.testing import make_manager
from tests.versioning.helpers import write_version

pytestmark = [pytest.mark.integration]

PHASES = """\
## Phase: A
### Agents
- x
### Steps
- a

## Phase: B
dependsOn: [A]
### Agents
- slow
### Steps
- b of {version}
- then b of {version}
### Outputs
- v: the answer
"""


class Gate:
    """An agent that records each prompt and answers once ``release`` is set."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.prompts: list[str] = []

    async def __call__(self, request: AgentRequest) -> dict[str, Any]:
        self.prompts.append(request.prompt)
        self.started.set()
        await self.release.wait()
        return {"v": request.prompt}


async def _until_recorded(store: HistoryStore, execution_id: str, kind: str) -> None:
    deadline = time.monotonic() + 10.0
    while not any(e.type == kind and e.phase == "B" for e in await store.read_journal(execution_id)):
        assert time.monotonic() < deadline, f"{kind} never recorded"
        await asyncio.sleep(0.01)


async def test_started_on_1_1_resumes_on_1_1_after_1_2_is_added(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_version(tasks, "1.1.0", phases=PHASES.format(version="1.1"))
    store = SQLiteHistoryStore(tmp_path / "h.db")
    await store.open()
    try:
        gate = Gate()
        first = TaskExecutor(tasks_dir=tasks, agent_manager=make_manager(x=lambda r: {"v": "x"}, slow=gate),
                             history_store=store)
        handle = await first.start("committee")  # the newest: 1.1.0, the only one yet
        await gate.started.wait()
        await first.pause_execution(handle.id)
        gate.release.set()
        await _until_recorded(store, handle.id, EventType.AGENT_RESPONSE)
        await first.detach(handle.id)
        await first.aclose()

        # 1.2.0 appears, with another B; the plain name now means it.
        write_version(tasks, "1.2.0", phases=PHASES.format(version="1.2").replace("- b of", "- B, now of"))
        assert TaskLoader([tasks], include_builtin=False).load("committee").version == "1.2.0"

        again = Gate()
        again.release.set()
        second = TaskExecutor(tasks_dir=tasks, history_store=store,
                              agent_manager=make_manager(x=lambda r: {"v": "x"}, slow=again))
        resumed = await second.resume_execution(handle.id)
        result = await resumed.result()
        await second.aclose()
        assert result.status is ExecutionStatus.COMPLETED, result.error
        assert result.verdict == {"v": "then b of 1.1"}  # B's second step, as 1.1 wrote it
        assert again.prompts == ["then b of 1.1"]  # its first call, made before the pause, is kept
        journal = await store.read_journal(handle.id)
        assert not any("now of" in str(e.data) for e in journal)
        record = await store.get_execution(handle.id)
        assert record is not None
        assert record.task_definition is not None
        assert record.task_definition["version"] == "1.1.0"
    finally:
        await store.close()
