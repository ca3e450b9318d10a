"""``/tasks``: the tasks this server can run, one task's definition, and checking a task file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends

from quorum.server.deps import get_runtime
from quorum.server.models import ProblemOut, TaskDetail, TaskSummary, ValidateBody, ValidateResult
from quorum.server.runtime import Runtime

if TYPE_CHECKING:
    from quorum.definition.model import Requirement, Task

__all__ = ("requirements_schema", "router")

router = APIRouter(tags=["tasks"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_JSON_TYPES = {"string": "string", "number": "number", "integer": "integer", "boolean": "boolean",
               "list": "array", "object": "object"}


def _summary(task: Task) -> TaskSummary:
    return TaskSummary(name=task.name, version=task.version, title=task.title,
                       description=task.description, phases=len(task.phases))


@router.get("/tasks", response_model=list[TaskSummary], summary="The tasks this server can run")
def list_tasks(runtime: RuntimeDep) -> list[TaskSummary]:
    entries = runtime.scan_tasks()  # parsed once per file version, not at every call
    tasks = sorted((e.task for e in entries if e.task is not None), key=lambda t: t.name)
    return [_summary(t) for t in tasks]


@router.get("/tasks/{name}", response_model=TaskDetail,
            summary="One task: definition, requirements as JSON Schema, phase graph, critical path")
def get_task(name: str, runtime: RuntimeDep) -> TaskDetail:
    from quorum.definition.model import thaw
    from quorum.graph import PhaseGraph

    task = runtime.load_task(name)
    graph = PhaseGraph.from_task(task)
    definition = thaw(task.to_dict())
    definition.pop("source", None)  # a path on the server's disk
    for phase in definition.get("phases", ()):
        phase.pop("source", None)  # so is where an included phase was written
    return TaskDetail(
        **_summary(task).model_dump(),
        requirements=requirements_schema(task),
        graph={str(p): [str(d) for d in graph.dependencies(p)] for p in task.phase_names},
        critical_path=[str(p) for p in graph.critical_path()],
        mermaid=graph.to_mermaid(),
        definition=definition,
    )


def requirements_schema(task: Task) -> dict[str, Any]:
    """The task's requirements as a JSON Schema (draft 2020-12) of its ``input`` object."""
    properties = {r.name: _property(r) for r in task.requirements}
    required = [r.name for r in task.requirements if r.required and r.default is None]
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                              "title": f"input of {task.name}", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _property(r: Requirement) -> dict[str, Any]:
    from quorum.definition.model import thaw

    prop: dict[str, Any] = {"type": _JSON_TYPES.get(r.type, "string")}
    if r.description:
        prop["description"] = r.description
    if r.enum is not None:
        prop["enum"] = list(thaw(r.enum))
    if r.default is not None:
        prop["default"] = thaw(r.default)
    if r.type in ("number", "integer"):
        if r.min is not None:
            prop["minimum"] = r.min
        if r.max is not None:
            prop["maximum"] = r.max
    if r.pattern is not None:
        prop["pattern"] = r.pattern
    return prop


@router.post("/tasks/validate", response_model=ValidateResult,
             summary="Check a task file's Markdown: every problem, with its line")
def validate_task(body: ValidateBody, runtime: RuntimeDep) -> ValidateResult:
    from quorum.definition.parser import TaskParser
    from quorum.errors import QuorumError
    from quorum.errors_text import problem_line

    source = body.source or "<request>"
    parser = TaskParser(agent_ids=runtime.known_agent_ids())
    problems = sorted(parser.lint_content(body.markdown, source=source),
                      key=lambda p: p.line if p.line is not None else 0)
    valid = not any(p.severity == "error" for p in problems)
    name = None
    if valid:
        try:
            name = parser.parse_task_content(body.markdown, source=source).name
        except QuorumError:
            valid = False
    return ValidateResult(
        valid=valid, task=name,
        problems=[ProblemOut(message=p.message, line=p.line, severity=p.severity, hint=p.hint,
                             text=problem_line(p)) for p in problems],
    )
