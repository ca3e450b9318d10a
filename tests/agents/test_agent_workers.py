"""``executor: process``: an agent's function in a worker process — its answer, the loop staying free,
timeouts and aborts killing the worker, errors, and the agent file's checks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quorum import TaskExecutor
from quorum.agents.definitions import lint_agent_content, parse_agent_content
from quorum.agents.protocol import AgentRequest
from quorum.agents.providers import build_agent
from quorum.agents.workers import ProcessAgent, WorkerPool
from quorum.definition.model import frozen_mapping
from quorum.definition.parser import TaskParser
from quorum.errors import AgentError
from quorum.ids import AgentId, ExecutionId, PhaseName
from quorum.testing import make_manager

pytestmark = [pytest.mark.integration, pytest.mark.concurrency]

MODULE = "python:tests.agents.cpu_agents"


def _request(**input: object) -> AgentRequest:
    return AgentRequest(agent_id=AgentId("cpu"), prompt="go", execution_id=ExecutionId("e1"),
                        phase=PhaseName("Crunch"), context=frozen_mapping({"input": input}))


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    workers = WorkerPool(size=2)
    yield workers
    workers.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    return True


def _read_pid(path: Path) -> int | None:
    text = path.read_text() if path.exists() else ""
    return int(text) if text else None


async def _pid_from(path: Path) -> int:
    """The pid the agent function wrote, once it has (the function runs in another process)."""
    for _ in range(1500):  # 30 s
        pid = _read_pid(path)
        if pid is not None:
            return pid
        await asyncio.sleep(0.02)
    raise AssertionError(f"the agent never wrote {path}")


async def _gone(pid: int) -> bool:
    for _ in range(250):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_the_answer_is_the_functions_own_computed_in_another_process(pool: WorkerPool) -> None:
    agent = ProcessAgent("cpu", f"{MODULE}:crunch", pool=pool)
    answer = await agent.query(_request(n=1000))
    assert answer.data["total"] == sum(i * i for i in range(1000))
    assert answer.data["pid"] != os.getpid()
    assert answer.stance == "neutral"
    assert answer.latency_ms > 0


async def test_the_event_loop_keeps_running_while_workers_compute(pool: WorkerPool) -> None:
    agent = ProcessAgent("cpu", f"{MODULE}:crunch", pool=pool)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.ensure_future(tick())
    try:
        answers = await asyncio.gather(*(agent.query(_request(n=3_000_000)) for _ in range(2)))
    finally:
        ticker.cancel()
    assert len({a.data["pid"] for a in answers}) == 2  # two workers at once
    assert ticks >= 10  # the loop ran all along (a GIL-bound thread would starve it in slices)


async def test_a_timeout_kills_the_worker_and_a_fresh_one_serves_the_next_call(
    pool: WorkerPool, tmp_path: Path
) -> None:
    agent = ProcessAgent("cpu", f"{MODULE}:spin", pool=pool)
    pid_file = tmp_path / "pid"
    call = asyncio.ensure_future(agent.query(_request(pid_file=str(pid_file))))
    pid = await _pid_from(pid_file)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await call
    assert await _gone(pid)
    again = await ProcessAgent("cpu", f"{MODULE}:crunch", pool=pool).query(_request(n=10))
    assert again.data["pid"] != pid


async def test_a_failing_function_is_an_agent_error_saying_so(pool: WorkerPool) -> None:
    with pytest.raises(AgentError, match=r"diverged.*in a worker process"):
        await ProcessAgent("cpu", f"{MODULE}:fail", pool=pool).query(_request())
    with pytest.raises(AgentError, match="no attribute 'nothing'"):
        await ProcessAgent("cpu", f"{MODULE}:nothing", pool=pool).query(_request())


TASK = """# Spin

```yaml
name: spin
requirements:
  pid_file: string
```

## Phase: Crunch

### Steps
- agent: cpu - go
"""


async def test_aborting_an_execution_kills_the_worker_of_its_running_call(tmp_path: Path) -> None:
    definition = parse_agent_content(
        f"---\nid: cpu\nmodel: {MODULE}:spin\nexecutor: process\n---\nSpins.\n", source="cpu.md")
    agent = build_agent(definition)
    assert isinstance(agent, ProcessAgent)
    task = TaskParser().parse_task_content(TASK, source="spin.md")
    executor = TaskExecutor(tasks_dir=None, agent_manager=make_manager({"cpu": agent}))
    pid_file = tmp_path / "pid"
    handle = await executor.start(task, {"pid_file": str(pid_file)})
    pid = await _pid_from(pid_file)
    started = time.monotonic()
    await executor.abort_execution(handle.id, "enough")
    result = await handle.result()
    assert result.status.value == "aborted"
    assert await _gone(pid)
    assert time.monotonic() - started < 10


def test_the_agent_file_says_where_executor_is_wrong() -> None:
    bad = "---\nid: a\nmodel: builtin:technical-analyst\nexecutor: gpu\n---\nP.\n"
    problems = [str(p) for p in lint_agent_content(bad, source="a.md")]
    assert any("unknown executor 'gpu'" in p and ":4" in p for p in problems)
    llm = "---\nid: a\nmodel: openai:gpt-4.1-mini\nexecutor: process\n---\nP.\n"
    assert any("waits on the network" in str(p) for p in lint_agent_content(llm, source="a.md"))
    good = parse_agent_content("---\nid: a\nmodel: builtin:quant-risk-analyst\nexecutor: process\n---\nP.\n")
    assert good.executor == "process"
    assert isinstance(build_agent(good), ProcessAgent)


async def test_a_streaming_hook_in_the_request_stays_in_this_process(pool: WorkerPool) -> None:
    """``quorum run`` listens for agent:chunk, so requests carry an on_chunk callback (a closure)."""
    chunks: list[str] = []
    request = _request(n=10)
    hooked = AgentRequest(**{**{f: getattr(request, f) for f in ("agent_id", "prompt", "execution_id",
                                                                   "phase", "context")},
                             "metadata": frozen_mapping({"on_chunk": lambda text: chunks.append(text),
                                                         "label": "kept"})})
    answer = await ProcessAgent("cpu", f"{MODULE}:crunch", pool=pool).query(hooked)
    assert answer.data["total"] == sum(i * i for i in range(10))
