"""``- task: <other>[@version] [input.<field>=<template> ...] [foreach=<expression>]``: a step that runs
another task as a child execution — its definition half: the syntax, and the checks across files.

The step parses as a custom step of type ``task`` whose ``parameters`` hold what the engine needs:

- ``task``: the child's selector (``ticker-review``, ``ticker-review@^1``);
- ``input``: ``{field: template}``, each template rendered in the parent's context (with ``item`` and
  ``index`` bound per element under ``foreach``);
- ``foreach``: an expression giving a list, one child per element (None: one child).

A value with spaces is written in quotes, or as one ``{{ ... }}`` span: ``input.amount={{ input.amount
/ 2 }}``. :func:`check_task_calls` checks what one file alone cannot: that each child exists, that the
inputs mapped are fields the child declares and that its required fields are given, and that no task
calls itself, directly or through others — a cycle is reported with the file and line of every step in
it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from quorum.definition.model import Step, StepKind, Task
from quorum.definition.suggest import did_you_mean
from quorum.definition.versions import Selector, VersionSyntaxError, parse_selector
from quorum.errors import DefinitionError, Problem

__all__ = (
    "ALLOCATE_STEP", "TASK_STEP", "TaskCall", "check_task_calls", "parse_task_call", "task_calls", "tokens",
)

TASK_STEP = "task"
ALLOCATE_STEP = "allocate"
"""The engine's step that splits a budget over the verdicts of child executions (portfolio-review)."""
MAX_CALL_DEPTH = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCall:
    selector: Selector
    input: Mapping[str, str]
    foreach: str | None = None


def tokens(text: str) -> list[str]:
    """Whitespace-separated words; quotes and ``{{ ... }}`` spans keep their spaces (quotes removed)."""
    out: list[str] = []
    word: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            if word:
                out.append("".join(word))
                word = []
            i += 1
        elif ch in "\"'":
            end = text.find(ch, i + 1)
            if end < 0:
                raise ValueError(f"a quote ({ch}) is not closed")
            word.append(text[i + 1 : end])
            i = end + 1
        elif text.startswith("{{", i):
            end = text.find("}}", i + 2)
            if end < 0:
                raise ValueError("a '{{' is not closed by '}}'")
            word.append(text[i : end + 2])
            i = end + 2
        else:
            word.append(ch)
            i += 1
    if word:
        out.append("".join(word))
    return out


def parse_task_call(text: str) -> TaskCall:
    """The call a ``task:`` step's text writes; ``ValueError`` says what is wrong and how to write it."""
    try:
        words = tokens(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; write task: <name>[@version] input.<field>=<template> ...") from None
    if not words:
        raise ValueError("names no task; write task: <name>[@version] input.<field>=<template> ...")
    try:
        selector = parse_selector(words[0])
    except VersionSyntaxError as exc:
        raise ValueError(str(exc)) from None
    inputs: dict[str, str] = {}
    foreach: str | None = None
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or not value:
            raise ValueError(f"{word!r} is not input.<field>=<template> or foreach=<expression>")
        if key == "foreach":
            foreach = value.strip()
            if foreach.startswith("{{") and foreach.endswith("}}"):
                foreach = foreach[2:-2].strip()
        elif key.startswith("input.") and key[6:].isidentifier():
            if key[6:] in inputs:
                raise ValueError(f"input.{key[6:]} is given twice")
            inputs[key[6:]] = value
        else:
            raise ValueError(f"{key!r}: only input.<field>=... and foreach=... follow the task's name")
    return TaskCall(selector=selector, input=inputs, foreach=foreach)


def call_parameters(call: TaskCall) -> dict[str, Any]:
    """The ``parameters`` of a parsed ``task:`` step."""
    return {"task": str(call.selector), "input": dict(call.input), "foreach": call.foreach}


def task_calls(task: Task) -> list[tuple[str, Step, TaskCall]]:
    """``(phase, step, call)`` for every ``task:`` step of a task."""
    return [(phase.name, step, parse_task_call(step.text)) for phase in task.phases for step in phase.steps
            if step.kind is StepKind.CUSTOM and step.type == TASK_STEP]


def _where(task: Task, phase: str, step: Step) -> tuple[str | None, int | None]:
    source = task.phase(phase).source or task.source
    return source, step.line


def check_task_calls(task: Task, load: Callable[[str], Task]) -> list[Problem]:
    """The problems of ``task``'s ``task:`` steps that need the other files: unknown children, inputs
    the child does not declare or lacks, and cycles of tasks calling each other (found through every
    task reached)."""
    problems: list[Problem] = []
    seen_cycles: set[frozenset[str]] = set()

    def visit(current: Task, chain: list[tuple[Task, str, Step]], depth: int) -> None:
        for phase, step, call in task_calls(current):
            source, line = _where(current, phase, step)
            try:
                child = load(str(call.selector))
            except DefinitionError as exc:
                if not chain:  # a broken grandchild is its own file's problem
                    first = exc.problems[0].message if exc.problems else str(exc)
                    problems.append(Problem(message=f"phase {phase!r}: task step: {first}", source=source,
                                            line=line, hint="see `quorum list` for the tasks there are"))
                continue
            if not chain:
                problems.extend(_input_problems(phase, call, child, source, line))
            path = [*chain, (current, phase, step)]
            names = [t.name for t, _, _ in path]
            if child.name in names:
                loop = path[names.index(child.name):]
                key = frozenset(f"{t.name}:{s.line}" for t, _, s in loop)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    problems.append(_cycle_problem(loop, child.name))
                continue
            if depth < MAX_CALL_DEPTH:
                visit(child, path, depth + 1)

    visit(task, [], 0)
    return problems


def _input_problems(phase: str, call: TaskCall, child: Task, source: str | None,
                    line: int | None) -> list[Problem]:
    declared = {r.name: r for r in child.requirements}
    out = [
        Problem(message=f"phase {phase!r}: task {child.name!r} has no input {field!r}"
                        f"{did_you_mean(field, declared)}",
                source=source, line=line, hint="its inputs: " + (", ".join(declared) or "none"))
        for field in call.input if field not in declared
    ]
    missing = [r.name for r in child.requirements if r.required and r.default is None
               and r.name not in call.input]
    if missing:
        out.append(Problem(
            message=f"phase {phase!r}: task {child.name!r} needs input {', '.join(missing)}",
            source=source, line=line,
            hint=" ".join(f"input.{m}={{{{ ... }}}}" for m in missing),
        ))
    return out


def _cycle_problem(loop: list[tuple[Task, str, Step]], back_to: str) -> Problem:
    first_task, first_phase, first_step = loop[0]
    steps = "; ".join(
        f"{_where(t, p, s)[0] or t.name}:{s.line} ({t.name}, phase {p!r})" for t, p, s in loop
    )
    names = " -> ".join([*(t.name for t, _, _ in loop), back_to])
    source, line = _where(first_task, first_phase, first_step)
    return Problem(message=f"tasks call each other in a cycle: {names}; the steps: {steps}",
                   source=source, line=line, hint="a task cannot run itself, directly or through others")
