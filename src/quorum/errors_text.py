"""What an error says to a person, in one place: the CLI prints it, ``quorum serve`` answers with it.

:func:`describe_error` turns an exception into lines (the first is the headline, the rest details)
and a *kind*; each face maps the kind to what it needs (an exit code, an HTTP status), so that the
terminal and the API give the same message for the same mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from quorum.errors import (
    ConfigurationError,
    DefinitionError,
    ExecutionNotFoundError,
    InputValidationError,
    InvalidTransitionError,
    Problem,
    QuorumError,
    ResumeRefusedError,
    TaskNotFoundError,
)

__all__ = ("ErrorKind", "ErrorText", "describe_error", "problem_line")

ErrorKind = Literal[
    "definition", "task_not_found", "not_found", "input", "configuration", "conflict", "os", "failed",
    "internal",
]


@dataclass(frozen=True, slots=True)
class ErrorText:
    kind: ErrorKind
    lines: tuple[str, ...]
    """Never empty: the headline, then one line per detail or problem."""

    @property
    def headline(self) -> str:
        return self.lines[0]

    @property
    def details(self) -> tuple[str, ...]:
        return self.lines[1:]


def describe_error(exc: BaseException) -> ErrorText:
    """The lines and kind of any error; an unexpected one is ``internal`` (its text names its type)."""
    kind: ErrorKind
    lines: list[str]
    if isinstance(exc, DefinitionError):
        kind = "task_not_found" if isinstance(exc, TaskNotFoundError) else "definition"
        problems = exc.problems or ()
        shown = [p for p in problems if p.severity == "error"] or list(problems)
        lines = [problem_line(p) for p in shown] or [str(exc)]
        if len(lines) > 1:
            lines = [f"{len(lines)} problems:", *lines]
    elif isinstance(exc, InputValidationError):
        kind = "input"
        lines = str(exc).splitlines()
    elif isinstance(exc, ConfigurationError):
        kind = "configuration"
        lines = [f"configuration: {exc}"]
    elif isinstance(exc, ExecutionNotFoundError):
        kind = "not_found"
        lines = str(exc).splitlines() or [type(exc).__name__]
    elif isinstance(exc, InvalidTransitionError | ResumeRefusedError):
        kind = "conflict"
        lines = str(exc).splitlines() or [type(exc).__name__]
    elif isinstance(exc, OSError):
        kind = "os"
        where = f"{exc.filename}: " if exc.filename else ""
        lines = [f"{where}{exc.strerror or exc}"]
    elif isinstance(exc, QuorumError):
        kind = "failed"
        lines = str(exc).splitlines() or [type(exc).__name__]
    else:
        kind = "internal"
        lines = [f"internal error: {type(exc).__name__}: {exc}"]
    return ErrorText(kind=kind, lines=tuple(lines))


def problem_line(p: Problem) -> str:
    """``file:line: message (hint: ...)``; the location only when there is one."""
    where = f"{p.location}: " if p.source is not None or p.line is not None else ""
    kind = "warning: " if p.severity == "warning" else ""
    return f"{where}{kind}{p.message}" + (f" (hint: {p.hint})" if p.hint else "")
