"""Builders for tasks in tests (the model dataclasses directly, no parser)."""

from __future__ import annotations

import asyncio
from typing import Any

from quorum.definition.model import (
    OutputSelector,
    OutputSpec,
    Phase,
    RetryPolicy,
    Step,
    StepKind,
    Task,
    frozen_mapping,
)
from quorum.ids import AgentId, PhaseName, TaskName


def prompt(text: str) -> dict[str, Any]:
    return {"kind": StepKind.PROMPT, "text": text}


def agent_step(agent: str, text: str) -> dict[str, Any]:
    return {"kind": StepKind.AGENT, "agent": AgentId(agent), "text": text}


def validation(condition: str, message: str) -> dict[str, Any]:
    return {"kind": StepKind.VALIDATION, "condition": condition, "text": message}


def aggregate(kind: str, **parameters: Any) -> dict[str, Any]:
    return {"kind": StepKind.AGGREGATE, "type": kind, "parameters": frozen_mapping(parameters)}


def custom(kind: str, text: str = "", **parameters: Any) -> dict[str, Any]:
    return {"kind": StepKind.CUSTOM, "type": kind, "text": text, "parameters": frozen_mapping(parameters)}


def phase(
    name: str,
    *steps: dict[str, Any],
    agents: tuple[str, ...] = (),
    depends_on: tuple[str, ...] | str = (),
    outputs: tuple[str, ...] = (),
    retry: RetryPolicy | None = None,
    **kw: Any,
) -> Phase:
    if isinstance(depends_on, str):
        depends_on = (depends_on,)
    return Phase(
        name=PhaseName(name),
        depends_on=tuple(PhaseName(d) for d in depends_on),
        steps=tuple(Step(index=i, line=10 + i, raw=str(s.get("text", "")), **s) for i, s in enumerate(steps)),
        agents=tuple(AgentId(a) for a in agents),
        outputs=tuple(OutputSpec(name=o) for o in outputs),
        retry=retry,
        **kw,
    )


def task(*phases: Phase, name: str = "t", output: str | dict[str, str] | None = None, **kw: Any) -> Task:
    selector = OutputSelector()
    if isinstance(output, str):
        selector = OutputSelector(phase=PhaseName(output))
    elif output:
        selector = OutputSelector(fields=frozen_mapping(output))
    return Task(name=TaskName(name), phases=phases, output=selector, source="t.md", **kw)


ANALYSIS = ("market", "technical", "risk", "legal", "ethics", "finance")
ROUNDTABLE = ("chair", "analyst", "skeptic", "advocate", "scribe")
DEBATE = ("proponent", "opponent")
VALIDATORS = ("validator_a", "validator_b")


def committee_task() -> Task:
    """The benchmark's committee shape: 7 phases in a chain, 18 agent calls, critical path 12 calls."""
    return task(
        phase("Activation", validation("input.topic", "a topic is required")),
        phase("Analysis", prompt("Analyse {{ input.topic }}"), agents=ANALYSIS, parallel=True,
              depends_on="Activation"),
        phase("RoundTable", prompt("Present"), agents=ROUNDTABLE, depends_on="Analysis"),
        phase("Debate", prompt("Argue"), agents=DEBATE, rounds=2, depends_on="RoundTable"),
        phase("Validation", prompt("Check"), agents=VALIDATORS, parallel=True, depends_on="Debate"),
        phase("Consensus", aggregate("consensus"), depends_on="Validation"),
        phase("Verdict", agent_step("judge", "Decide"), depends_on="Consensus"),
        name="committee",
    )


COMMITTEE_AGENTS = (*ANALYSIS, *ROUNDTABLE, *DEBATE, *VALIDATORS, "judge")


def executor_with(agents: dict[str, Any] | None = None, **options: Any) -> Any:
    """A TaskExecutor over an AgentManager holding ``agents`` (ScriptedAgents or callables)."""
    from quorum.engine.executor import TaskExecutor
    from quorum.testing import make_manager

    options.setdefault("max_execution_time", 30.0)
    return TaskExecutor(agent_manager=make_manager(agents or {}), **options)


async def tasks_left_running() -> list[asyncio.Task[Any]]:
    """The tasks still running besides the caller, once the loop has had its turn: what a finished,
    aborted, timed-out or detached execution must not leave (its executor's scope closes with it)."""
    current = asyncio.current_task()
    for _ in range(20):  # the scope closes over a few turns of the loop after the last execution
        left = [t for t in asyncio.all_tasks() if t is not current]
        if not left:
            break
        await asyncio.sleep(0)
    return left


async def crash(executor: Any, execution_id: str) -> None:
    """Make ``executor`` vanish from under one of its executions, as its process dying would: nothing
    more of it is written (no outcome, the lease is not released) and its task is gone."""
    live = executor._live.pop(execution_id)
    assert live.recorder is not None
    live.recorder.close()
    live.recorder.store = _Dead()
    live.lease = None
    root = live._root
    assert root is not None
    root.cancel()
    await asyncio.gather(root, return_exceptions=True)


class _Dead:
    """A history store that is gone: every write is lost."""

    async def append(self, *args: Any, **kwargs: Any) -> None:
        return None
