"""What the inputs alone decide about an execution: which phases run, which agents each one calls.

A phase's ``when`` condition and its dynamic agent expressions are evaluated as the engine would, in a
template context holding the (checked) input, the task and the execution, but no phase results. An
expression that needs those (it names ``phases``) and cannot be decided without them is *unknown*: the
phase "may run", its agent list is "at least" the static one. An expression that names ``phases`` but is
decided all the same (``input.fast and phases.A.outputs.ok`` with ``fast`` false) is known. An expression
that fails on the input alone fails the phase in a real run too: the phase's fate is ``fails``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from quorum.definition.model import Phase, StepKind, Task
from quorum.errors import TemplateRenderError
from quorum.ids import AgentId, PhaseName

__all__ = ("Fate", "StaticPhase", "decide")

Fate = Literal["runs", "skipped", "may-run", "fails"]
"""``runs``: decided by the inputs; ``skipped``: its condition is false (or all its dependencies are
skipped); ``may-run``: it depends on what earlier phases produce; ``fails``: its condition or agent
list fails on the inputs, as it will in the real run."""

_LATER = ("phases",)
"""Names of the template context that only exist once phases have run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticPhase:
    """One phase as far as the inputs decide it."""

    phase: Phase
    fate: Fate
    reason: str | None
    agents: tuple[AgentId, ...]
    agents_known: bool
    """False when a dynamic agent expression needs earlier phases' results (``agents`` is the part known)."""
    calls: int
    """Agent calls of one attempt: prompt steps × agents × rounds, plus agent steps."""
    calls_by_agent: Mapping[AgentId, int]
    child_tasks: int
    approvals: int


def _names(expression: str) -> frozenset[str]:
    """The top-level names an expression reads (parsed only, nothing run)."""
    from jinja2 import Environment, meta
    from jinja2.exceptions import TemplateSyntaxError

    from quorum.templates import strip_expression_braces

    try:
        return frozenset(meta.find_undeclared_variables(
            Environment().parse("{{ " + strip_expression_braces(expression) + " }}")))
    except TemplateSyntaxError:
        return frozenset()


def _evaluate(expression: str, context: Mapping[str, Any]) -> tuple[Literal["ok", "unknown", "error"], Any]:
    from quorum.engine import templating

    try:
        return "ok", templating.evaluate(expression, context)
    except TemplateRenderError as exc:
        if _names(expression) & set(_LATER):
            return "unknown", None
        return "error", str(exc)


def _context(task: Task, input: Mapping[str, Any], phase: Phase, *, attempt_view: bool) -> dict[str, Any]:
    """The engine's template context before any phase ran: no ``phases``; ``phase`` as at the start of an
    attempt (no outputs, no answers yet) for agent expressions."""
    from quorum.engine.context import ExecutionContext

    ctx = ExecutionContext(task, input, execution_id="dry-run")
    context: dict[str, Any] = {"input": ctx.input, "task": ctx.task_view,
                               "execution": {"id": ctx.id, "started_at": time.time()}}
    current: dict[str, Any] = {"name": phase.name, "attempt": 1, "round": 0}
    if attempt_view:
        current.update(outputs={}, answers=[])
    context["phase"] = current
    return context


def _agents(task: Task, input: Mapping[str, Any], phase: Phase,
            has_agent: Any) -> tuple[tuple[AgentId, ...], bool, str | None]:
    """(agents, all known, error): the static agents plus those the expressions give from the inputs."""
    agents = list(phase.agents)
    known = True
    if not phase.agent_expressions:
        return tuple(agents), True, None
    from quorum.engine.templating import agent_names

    context = _context(task, input, phase, attempt_view=True)
    for expression in phase.agent_expressions:
        outcome, value = _evaluate(expression, context)
        if outcome == "unknown":
            known = False
            continue
        if outcome == "error":
            return tuple(agents), False, f"its agent expression {expression!r} fails: {value}"
        try:
            values = agent_names(value, expression)
        except TemplateRenderError as exc:
            return tuple(agents), False, str(exc)
        for agent in values:
            agent_id = AgentId(agent)
            if not has_agent(agent_id):
                return tuple(agents), False, f"no such agent {agent_id!r} (from {expression!r})"
            if agent_id not in agents:
                agents.append(agent_id)
    return tuple(agents), known, None


def _calls(phase: Phase, agents: Sequence[AgentId]) -> tuple[int, dict[AgentId, int], int, int]:
    by_agent: dict[AgentId, int] = {}
    children = approvals = 0
    rounds = max(phase.rounds, 1)
    for step in phase.steps:
        if step.kind is StepKind.PROMPT:
            for agent in agents:
                by_agent[agent] = by_agent.get(agent, 0) + rounds
        elif step.kind is StepKind.AGENT and step.agent:
            by_agent[step.agent] = by_agent.get(step.agent, 0) + 1
        elif step.kind is StepKind.CUSTOM and step.type == "task":
            children += 1
        elif step.kind is StepKind.APPROVAL:
            approvals += 1
    return sum(by_agent.values()), by_agent, children, approvals


def decide(task: Task, input: Mapping[str, Any], has_agent: Any) -> list[StaticPhase]:
    """Every phase of ``task`` (in its order) with what ``input`` decides about it."""
    fates: dict[PhaseName, Fate] = {}
    out: list[StaticPhase] = []
    for phase in _ordered(task):
        fate: Fate = "runs"
        reason: str | None = None
        deps = [fates[d] for d in phase.depends_on if d in fates]
        if deps and all(f in ("skipped", "fails") for f in deps):
            fate, reason = "skipped", "dependencies skipped"
        elif deps and all(f in ("skipped", "fails", "may-run") for f in deps):
            fate, reason = "may-run", "its dependencies may all be skipped"
        if fate != "skipped" and phase.when:
            outcome, value = _evaluate(phase.when, _context(task, input, phase, attempt_view=False))
            if outcome == "ok" and not value:
                fate, reason = "skipped", f"condition false: {phase.when}"
            elif outcome == "unknown":
                fate, reason = "may-run", f"its condition depends on earlier phases: {phase.when}"
            elif outcome == "error":
                fate, reason = "fails", f"its `when` condition fails: {value}"
        agents, known, error = _agents(task, input, phase, has_agent)
        if error is not None and fate != "skipped":
            fate, reason = "fails", error
        if not known and fate == "runs":
            reason = "its agent list depends on earlier phases (the calls shown are those known)"
        calls, by_agent, children, approvals = _calls(phase, agents)
        fates[phase.name] = fate
        out.append(StaticPhase(phase=phase, fate=fate, reason=reason, agents=agents, agents_known=known,
                               calls=calls if fate != "skipped" else 0, calls_by_agent=by_agent,
                               child_tasks=children, approvals=approvals))
    order = {p.name: i for i, p in enumerate(task.phases)}
    return sorted(out, key=lambda s: order[s.phase.name])


def _ordered(task: Task) -> list[Phase]:
    """The phases in dependency order (a valid task has no cycle)."""
    from quorum.graph import PhaseGraph

    by_name = {p.name: p for p in task.phases}
    return [by_name[name] for name in PhaseGraph.from_task(task).order]
