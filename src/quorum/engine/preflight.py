"""What is checked before an execution starts: its input, and every name its task uses.

Every problem is reported at once (file:line, what, how to fix it) as one
:class:`~quorum.errors.DefinitionError`: the input against the task's ``requirements``, each static
agent id against the agent directory, each custom step type and aggregator against the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quorum.agents.protocol import AgentDirectory
from quorum.definition.model import StepKind, Task
from quorum.errors import ConfigurationError, DefinitionError, Problem
from quorum.steps.registry import StepRegistry

__all__ = ("check_before_run",)


def check_before_run(
    task: Task, input: Mapping[str, Any], directory: AgentDirectory, registry: StepRegistry
) -> dict[str, Any]:
    """Validate the input and the task's names; returns the input coerced to its declared types."""
    coerced: dict[str, Any] = dict(input)
    if task.requirements:
        from quorum.definition.parser import TaskParser

        coerced = TaskParser().validate_task_requirements(task, input)
    problems: list[Problem] = []

    def unknown_agent(message: str, line: int | None) -> None:
        known = ", ".join(directory.agent_ids()) or "none"
        problems.append(Problem(message=message, source=task.source, line=line,
                                hint=f"registered agents: {known}"))

    for phase in task.phases:
        for agent in phase.agents:
            if not directory.has_agent(agent):
                unknown_agent(f"unknown agent {agent!r} in phase {phase.name!r}", phase.line)
        for step in phase.steps:
            if step.kind is StepKind.AGENT and step.agent and not directory.has_agent(step.agent):
                unknown_agent(f"unknown agent {step.agent!r} in step {step.raw!r}", step.line)
            elif step.kind is StepKind.CUSTOM and registry.strategy(step.type or "") is None:
                problems.append(Problem(
                    message=f"no step strategy registered for step type {step.type!r}",
                    source=task.source, line=step.line,
                    hint=f"call executor.register_step_strategy({step.type!r}, handler)"))
            elif step.kind is StepKind.AGGREGATE and registry.aggregator(step.type or "") is None:
                problems.append(Problem(
                    message=f"unknown aggregator {step.type!r}", source=task.source, line=step.line,
                    hint="built-in: consensus, vote, average, merge, collect; or register_aggregator"))
    if problems:
        raise DefinitionError(problems, source=task.source)
    _check_callable(task, directory)
    return coerced


def _check_callable(task: Task, directory: AgentDirectory) -> None:
    """Agents that cannot be called at all (an LLM provider without an API key) stop the run before it
    starts, all named at once, rather than failing it in its first LLM phase."""
    unready = getattr(directory, "unready", None)
    if not callable(unready):
        return
    agents = dict.fromkeys(
        [a for phase in task.phases for a in phase.agents]
        + [s.agent for phase in task.phases for s in phase.steps if s.kind is StepKind.AGENT and s.agent]
    )
    by_reason: dict[str, list[str]] = {}
    for agent in agents:
        reason = unready(agent)
        if reason:
            by_reason.setdefault(reason, []).append(agent)
    if by_reason:
        raise ConfigurationError("; ".join(
            f"{', '.join(names)}: {reason}" for reason, names in by_reason.items()))
