"""Cross-checks of what templates read: ``phases.X`` must name a phase, and should name an upstream one.

They run even when other errors were found (an unknown agent, a cycle), so that one lint shows every
problem. Only the template *texts* are scanned (never the whole file), for the two spellings the format
documents: ``phases.Name`` and ``phases["Name"]`` / ``phases['Name']``; likewise ``input.name``
against the declared requirements. Reading a phase that is not upstream is a warning: it may not have
run yet when the template renders, or it may run concurrently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence

from quorum.definition.composition import TASK_STEP
from quorum.definition.fields import json_pointer
from quorum.definition.model import Phase, Requirement, StepKind
from quorum.definition.report import Report
from quorum.definition.suggest import did_you_mean
from quorum.errors import DefinitionError
from quorum.graph import PhaseGraph

__all__ = ("check_references",)

_PHASE_REF = re.compile(r"""\bphases\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(["'])(.*?)\2\s*\])""")
_INPUT_REF = re.compile(r"\binput\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*([\"'])(.*?)\2\s*\])")
_EXPRESSION_BUILTINS = frozenset({"items", "keys", "values", "get"})


def _code(phase: Phase) -> Iterator[tuple[str, int | None]]:
    """Every expression of a phase, and every step text that is a template, with its line."""
    if phase.when:
        yield phase.when, phase.line
    for step in phase.steps:
        if step.kind is StepKind.VALIDATION and step.condition:
            yield step.condition, step.line
        if step.kind is StepKind.CUSTOM and step.type == TASK_STEP:
            # `input.ticker=...` names the child's field; only the templates are read in this task
            yield from ((template, step.line) for template in step.parameters.get("input", {}).values())
            foreach = step.parameters.get("foreach")
            if foreach:
                yield foreach, step.line
            continue
        if "{{" in step.text or "{%" in step.text:
            yield step.text, step.line
    for expression in phase.agent_expressions:
        yield expression, phase.line


def check_references(
    report: Report,
    phases: Sequence[Phase],
    requirements: Sequence[Requirement],
    output_fields: Mapping[str, str],
    output_line: int | None,
    report_of: Callable[[Phase], Report] | None = None,
) -> None:
    """``report_of``: the report of the file a phase is written in (an included file's), when not
    ``report``."""
    task_report = report
    names = [p.name for p in phases]
    known = set(names)
    ancestors, position = _ancestors(phases)
    declared = {r.name for r in requirements}
    for phase in phases:
        report = report_of(phase) if report_of is not None else task_report
        if report.full:
            return
        for text, line in _code(phase):
            for match in _PHASE_REF.finditer(text):
                target = match.group(1) or match.group(3)
                if target in _EXPRESSION_BUILTINS and match.group(1):
                    continue
                if target not in known:
                    report.error(
                        f"phase {phase.name!r} reads phases.{target}, which is not a phase"
                        f"{did_you_mean(target, names)}",
                        line,
                        'names with spaces are written phases["Round Table"]',
                    )
                elif (
                    ancestors is not None
                    and target != phase.name
                    and not (ancestors[phase.name] >> position[target]) & 1
                ):
                    report.warning(
                        f"phase {phase.name!r} reads the outputs of {target!r} but does not depend on "
                        "it, so it may not have run yet",
                        line,
                        f"add {target!r} to dependsOn",
                    )
            if declared:
                _check_inputs(report, text, declared, line, f"phase {phase.name!r}")
    report = task_report
    for key, expression in output_fields.items():
        for match in _PHASE_REF.finditer(expression):
            target = match.group(1) or match.group(3)
            if target not in known and not (match.group(1) and target in _EXPRESSION_BUILTINS):
                report.error(
                    f"output.{key} reads phases.{target}, which is not a phase{did_you_mean(target, names)}",
                    output_line,
                    pointer=json_pointer("output", key),
                )
        if declared:
            _check_inputs(
                report, expression, declared, output_line, f"output.{key}", json_pointer("output", key)
            )


def _ancestors(phases: Sequence[Phase]) -> tuple[dict[str, int] | None, dict[str, int]]:
    """Ancestor sets as bit masks over the topological order (linear in phases, cheap to test), and the
    positions; None when the dependencies have a cycle (reported already): which phase is upstream of
    which is then undefined, and only the upstream warnings are skipped."""
    try:
        graph = PhaseGraph.from_edges([p.name for p in phases], {p.name: p.depends_on for p in phases})
    except DefinitionError:
        return None, {}
    position: dict[str, int] = {name: i for i, name in enumerate(graph.order)}
    ancestors: dict[str, int] = {}
    for name in graph.order:
        mask = 0
        for dep in graph.dependencies(name):
            mask |= ancestors[dep] | (1 << position[dep])
        ancestors[name] = mask
    return ancestors, position


def _check_inputs(
    report: Report, text: str, declared: set[str], line: int | None, where: str, pointer: str | None = None
) -> None:
    for match in _INPUT_REF.finditer(text):
        field = match.group(1) or match.group(3)
        if field not in declared and field not in _EXPRESSION_BUILTINS:
            report.warning(
                f"{where} reads input.{field}, which is not a requirement{did_you_mean(field, declared)}",
                line,
                "declare it under requirements, or fix the name",
                pointer=pointer,
            )
