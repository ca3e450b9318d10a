"""The API's requests and answers as pydantic models: validated on the way in, described in OpenAPI.

Inside, the engine keeps its dataclasses; these models exist only at the edge.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = (
    "ControlAnswer",
    "ControlBody",
    "ExecutionCreate",
    "ExecutionDetail",
    "ExecutionPage",
    "ExecutionSummary",
    "ForkBody",
    "Health",
    "ProblemDetails",
    "ProblemOut",
    "TaskDetail",
    "TaskSummary",
    "ValidateBody",
    "ValidateResult",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, the body of every error answer."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[str] = Field(default_factory=list, description="Every problem, one per line.")
    instance: str | None = None


class ExecutionCreate(_Strict):
    task: str = Field(min_length=1, max_length=200, description="A task name (see GET /tasks).")
    input: dict[str, Any] = Field(default_factory=dict, description="The task's inputs, as JSON.")
    model: str | None = Field(default=None, max_length=300,
                              description="PROVIDER:MODEL for every agent, or AGENT=PROVIDER:MODEL.")


class ControlBody(_Strict):
    reason: str = Field(default="", max_length=2000)


class ForkBody(_Strict):
    checkpoint: str | None = Field(default=None, max_length=300,
                                   description="A checkpoint id, or the phase it was taken after.")


class ValidateBody(_Strict):
    markdown: str = Field(max_length=1_000_000, description="A task file's Markdown.")
    source: str | None = Field(default=None, max_length=300, description="The name problems cite.")


class ProblemOut(BaseModel):
    message: str
    line: int | None
    severity: Literal["error", "warning"]
    hint: str | None
    text: str = Field(description="As `quorum validate` prints it: file:line: message (hint: ...).")


class ValidateResult(BaseModel):
    valid: bool
    problems: list[ProblemOut]
    task: str | None = None


class TaskSummary(BaseModel):
    name: str
    version: str
    title: str
    description: str
    phases: int


class TaskDetail(TaskSummary):
    requirements: dict[str, Any] = Field(description="The task's inputs as a JSON Schema (2020-12).")
    graph: dict[str, list[str]] = Field(description="Each phase and the phases it depends on.")
    critical_path: list[str]
    mermaid: str
    definition: dict[str, Any]


class ExecutionSummary(BaseModel):
    id: str
    task: str
    task_version: str = Field(default="", description="The version of the task it runs (\"\": not "
                              "recorded, an execution from before versions were kept).")
    task_hash: str = Field(default="", description="The content hash of the definition it runs.")
    parent_id: str | None = Field(default=None, description="The execution that started it as a child "
                                  "(a task: step); null for a top-level one.")
    status: str
    created_at: float
    updated_at: float
    started_at: float | None = None
    ended_at: float | None = None
    duration_ms: float | None = None
    error: str | None = None
    last_sequence: int = 0
    driven_here: bool = Field(default=False, description="Whether this server drives it.")


class ExecutionPage(BaseModel):
    items: list[ExecutionSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")


class ApprovalOut(BaseModel):
    """An approval gate that waits for a decision."""

    gate: str = Field(description="<phase>/<step index>")
    question: str
    choices: list[str]
    approvers: int = Field(description="Approvals by different people that close the gate")
    default: str = Field(description="Applied when the deadline passes")
    deadline: float | None = Field(description="Epoch seconds; null: no deadline")
    decided: list[dict[str, Any]] = Field(description="Decisions counted so far (by, decision, comment, at)")


class DecisionBody(_Strict):
    decision: str = Field(default="approve", min_length=1, max_length=200,
                          description="approve, reject, or one of the gate's options")
    by: str = Field(min_length=1, max_length=200, description="Who decides (recorded)")
    comment: str = Field(default="", max_length=2000)


class DecisionAnswer(BaseModel):
    id: str
    gate: str
    status: str
    detail: str


class ExecutionDetail(ExecutionSummary):
    input: dict[str, Any]
    verdict: dict[str, Any] | None
    phases: list[dict[str, Any]]
    pending_approvals: list[ApprovalOut] = Field(default_factory=list)
    eta: dict[str, Any] | None = Field(
        default=None, description="Expected finish (epoch seconds, its range and p95), learned from the "
        "completed executions of the same task version; null when it has ended or there is no history")
    eta_note: str | None = Field(default=None, description="Why there is no ETA, when there is none")


class ControlAnswer(BaseModel):
    id: str
    action: str
    status: str
    detail: str


class Health(BaseModel):
    status: Literal["ok"]
    version: str
