"""The exception tree of quorum.

::

    QuorumError                         every error quorum raises on purpose
    ├── DefinitionError                 a task or agent file (or text) is wrong; carries all its Problems
    │   └── TaskNotFoundError           no task by that name or path in the searched directories
    ├── InputValidationError            the inputs do not satisfy the task's requirements (lists each one)
    ├── ConfigurationError              quorum.toml, environment, or constructor options are wrong
    ├── ExecutionError                  something went wrong while running an execution
    │   ├── PhaseFailedError            a phase failed after its last attempt
    │   ├── StepValidationError         a `validation:` step was false: early termination
    │   ├── TemplateRenderError         a template or expression failed at run time
    │   ├── AgentError                  one agent call failed (recorded; the phase may go on)
    │   │   └── AgentTimeoutError
    │   ├── BudgetExceededError         tokens, cost or call budget of the execution exhausted
    │   └── ExecutionTimeoutError       the execution ran past its time limit
    ├── ExecutionNotFoundError          no execution with that id (in memory or in the history store)
    ├── InvalidTransitionError          an illegal status change (e.g. resume a completed execution)
    ├── ResumeRefusedError              resuming is unsafe (task changed, owned by another process, ...)
    └── StoreError                      the history store failed
        ├── LeaseLostError              this process no longer owns the execution (fenced write refused)
        └── HistoryCorruptError         the history file is damaged (or not a database): never written

Control flow that user code must not swallow is *not* an ``Exception``:

    ExecutionInterrupt(BaseException)   delivered to in-flight work when an execution is aborted or paused
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = (
    "AgentError",
    "AgentTimeoutError",
    "BudgetExceededError",
    "ConfigurationError",
    "DefinitionError",
    "ExecutionError",
    "ExecutionInterrupt",
    "ExecutionNotFoundError",
    "ExecutionTimeoutError",
    "HistoryCorruptError",
    "InputValidationError",
    "InvalidDecisionError",
    "InvalidTransitionError",
    "LeaseLostError",
    "PhaseFailedError",
    "Problem",
    "QuorumError",
    "ResumeRefusedError",
    "StepValidationError",
    "StoreError",
    "TaskNotFoundError",
    "TemplateRenderError",
    "leaf_exceptions",
)

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with a definition: where, what, and how to fix it."""

    message: str
    source: str | None = None
    line: int | None = None
    hint: str | None = None
    severity: Severity = "error"
    pointer: str | None = None
    """A JSON Pointer (RFC 6901) into the task's metadata block, e.g. ``/retry/maxAttempts``, when the
    problem is there: the same place in terms of the published schema (``quorum validate --schema``)."""

    @property
    def location(self) -> str:
        if self.source is None:
            return "<input>" if self.line is None else f"<input>:{self.line}"
        return self.source if self.line is None else f"{self.source}:{self.line}"

    def __str__(self) -> str:
        text = f"{self.location}: {self.severity}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class QuorumError(Exception):
    """Base of every error quorum raises on purpose."""


class DefinitionError(QuorumError):
    """A task or agent definition is wrong. ``problems`` holds every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem] | str, *, source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(message=problems, source=source)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        errors = [p for p in self.problems if p.severity == "error"]
        shown = errors or list(self.problems)
        summary = "\n".join(str(p) for p in shown)
        super().__init__(summary or "invalid definition")

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


class TaskNotFoundError(DefinitionError):
    """No task by that name or path."""


class InputValidationError(QuorumError):
    """Inputs do not satisfy the task's requirements. ``problems`` lists each one."""

    def __init__(self, problems: Sequence[str], *, task: str | None = None) -> None:
        self.problems = tuple(problems)
        self.task = task
        head = f"invalid input for task {task!r}" if task else "invalid input"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class ConfigurationError(QuorumError):
    """Configuration (quorum.toml, environment, options) is wrong."""


class ExecutionError(QuorumError):
    """Something went wrong while running an execution."""


class PhaseFailedError(ExecutionError):
    def __init__(self, phase: str, message: str) -> None:
        self.phase = phase
        super().__init__(f"phase {phase!r} failed: {message}")


class StepValidationError(ExecutionError):
    """A ``validation:`` step evaluated false; the execution ends at once (no retry)."""

    def __init__(self, message: str, *, phase: str | None = None, condition: str | None = None) -> None:
        self.phase = phase
        self.condition = condition
        super().__init__(message)


class TemplateRenderError(ExecutionError):
    """A template or expression could not be rendered or evaluated."""


class AgentError(ExecutionError):
    """One agent call failed."""

    def __init__(self, agent_id: str, message: str, *, transient: bool = False) -> None:
        self.agent_id = agent_id
        self.transient = transient
        super().__init__(f"agent {agent_id!r}: {message}")


class AgentTimeoutError(AgentError):
    def __init__(self, agent_id: str, timeout_s: float) -> None:
        super().__init__(agent_id, f"no answer within {timeout_s:g}s", transient=True)
        self.timeout_s = timeout_s


class BudgetExceededError(ExecutionError):
    def __init__(self, what: str, limit: float, used: float) -> None:
        self.what = what
        self.limit = limit
        self.used = used
        super().__init__(f"budget exceeded: {what} {used:g} > {limit:g}")


class ExecutionTimeoutError(ExecutionError):
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"execution exceeded its time limit of {timeout_s:g}s")


class ExecutionNotFoundError(QuorumError):
    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        super().__init__(f"no execution with id {execution_id!r}")


class InvalidTransitionError(QuorumError):
    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"cannot go from {current!r} to {target!r}")


class InvalidDecisionError(QuorumError):
    """An approval decision that cannot be counted: no such waiting gate, not one of its choices, the
    gate already decided, or the same person deciding twice."""


class ResumeRefusedError(QuorumError):
    """Resuming would be unsafe; the message says why and what to do instead."""


class StoreError(QuorumError):
    """The history store failed."""


class LeaseLostError(StoreError):
    """This process no longer owns the execution; its writes are refused."""


class HistoryCorruptError(StoreError):
    """The history file is damaged, or is not a SQLite database at all.

    Found by ``PRAGMA quick_check`` when the store opens, or by any read or write that meets a damaged
    page. The store then refuses every later write (writing into a damaged file spreads the damage);
    the message names the file and how to save what it still holds.
    """

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        quoted = shlex.quote(path)
        saved = shlex.quote(path + ".recovered")
        super().__init__(
            f"{path} is not a usable quorum history database ({detail}): the file is damaged, or is not "
            "a SQLite database; quorum will not write to it\n"
            f"to save what it still holds: sqlite3 {quoted} .recover | sqlite3 {saved}  "
            f"then use --db {saved}\n"
            "or move the file aside (a new history starts in its place), or point --db at another file"
        )


class ExecutionInterrupt(BaseException):
    """Delivered to in-flight work when its execution is aborted (or timed out).

    A ``BaseException`` so that user code's ``except Exception`` cannot swallow it.
    """

    def __init__(self, reason: str, *, kind: Literal["abort", "timeout", "pause"] = "abort") -> None:
        self.reason = reason
        self.kind = kind
        super().__init__(reason)


def leaf_exceptions(exc: BaseException) -> list[BaseException]:
    """The exceptions an exception group holds, its nested groups flattened (a plain one: itself)."""
    if not isinstance(exc, BaseExceptionGroup):
        return [exc]
    out: list[BaseException] = []
    for inner in exc.exceptions:
        out.extend(leaf_exceptions(inner))
    return out
