"""The verdict of a completed execution (the task's declared ``output``).

- ``output: <Phase>`` -> that phase's outputs.
- a mapping ``name: expression`` -> each expression evaluated with the final template context.
- absent -> the outputs of the sink phase (no phase depends on it); several sinks -> ``{phase: outputs}``
  of those that completed.

People's decisions are part of it: when approval gates closed during the execution, the verdict carries
them under ``approvals`` (gate id -> ``decision``, ``approvals``, ``question``), unless the task's own
output already names ``approvals``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from quorum.definition.model import Task
from quorum.engine.status import PhaseStatus
from quorum.errors import TemplateRenderError
from quorum.ids import PhaseName

if TYPE_CHECKING:
    from quorum.engine.context import ExecutionContext

__all__ = ("compute_verdict", "sinks")


def sinks(task: Task) -> tuple[PhaseName, ...]:
    depended = {d for p in task.phases for d in p.depends_on}
    return tuple(p.name for p in task.phases if p.name not in depended)


def compute_verdict(
    task: Task, ctx: ExecutionContext, approvals: Mapping[str, Any] | None = None
) -> Mapping[str, Any]:
    verdict = _selected(task, ctx)
    if approvals and "approvals" not in verdict:
        return {**verdict, "approvals": dict(approvals)}
    return verdict


def _selected(task: Task, ctx: ExecutionContext) -> Mapping[str, Any]:
    selector = task.output
    if selector.phase is not None:
        result = ctx.phases.get(selector.phase)
        return {} if result is None else result.outputs
    if selector.fields:
        from quorum.engine import templating

        context = ctx.template_context()
        verdict: dict[str, Any] = {}
        for name, expression in selector.fields.items():
            try:
                verdict[name] = templating.evaluate(expression, context)
            except TemplateRenderError as exc:
                raise TemplateRenderError(f"output {name!r}: {exc}") from exc
        return verdict
    ends = sinks(task)
    phases = ctx.phases
    done = {n: phases[n] for n in ends if n in phases and phases[n].status is PhaseStatus.COMPLETED}
    if len(ends) == 1:
        only = done.get(ends[0])
        return {} if only is None else only.outputs
    return {name: result.outputs for name, result in done.items()}
