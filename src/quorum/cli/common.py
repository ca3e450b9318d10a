"""What every command shares: exit codes, the two consoles, one style of errors, durations, asyncio.

Errors a user can cause reach the top of :func:`quorum.cli.app.run_app`, which prints them with
:func:`print_error` (``error: ...`` on stderr, every problem on its own line, no traceback) and exits
with :data:`ExitCode`. ``--debug`` or ``QUORUM_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from quorum.errors import QuorumError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = (
    "STATUS_EXIT",
    "CliError",
    "ExitCode",
    "debug_enabled",
    "err_console",
    "exit_code_for_status",
    "fail",
    "local_time",
    "out_console",
    "parse_duration",
    "print_error",
    "run_async",
    "set_debug",
)

T = TypeVar("T")


class ExitCode(enum.IntEnum):
    """The documented exit codes of every command (docs/cli.md)."""

    OK = 0
    """Success; for run/resume: the execution completed."""
    FAILED = 1
    """The execution failed, a file is invalid, or an error occurred."""
    USAGE = 2
    """Bad command line: unknown option, bad value, missing or wrong task input, unknown task."""
    TIMEOUT = 3
    """The execution ran past its time limit."""
    ABORTED = 4
    """The execution was aborted (second Ctrl-C, or `quorum abort`)."""
    PAUSED = 5
    """The execution is paused (first Ctrl-C); `quorum resume <id>` continues it."""
    WAITING = 6
    """The execution waits for an approval; `quorum approve <id>` decides and continues it."""
    INTERRUPTED = 130
    """Ctrl-C outside of an execution."""


STATUS_EXIT: dict[str, ExitCode] = {
    "completed": ExitCode.OK,
    "failed": ExitCode.FAILED,
    "timeout": ExitCode.TIMEOUT,
    "aborted": ExitCode.ABORTED,
    "paused": ExitCode.PAUSED,
}


def exit_code_for_status(status: str) -> ExitCode:
    return STATUS_EXIT.get(status, ExitCode.FAILED)


class CliError(QuorumError):
    """An error found by the CLI itself, with the exit code it ends the command with."""

    def __init__(self, message: str, *, code: ExitCode = ExitCode.FAILED, details: tuple[str, ...] = ()):
        self.code = code
        self.details = details
        super().__init__(message)


def fail(message: str, *, code: ExitCode = ExitCode.FAILED, details: tuple[str, ...] = ()) -> NoReturn:
    raise CliError(message, code=code, details=details)


_debug = False


def set_debug(value: bool) -> None:
    global _debug
    _debug = value


def debug_enabled() -> bool:
    return _debug or os.environ.get("QUORUM_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


_consoles: dict[bool, Console] = {}


def _console(stderr: bool) -> Console:
    console = _consoles.get(stderr)
    if console is None:
        from rich.console import Console

        # Rich decides colour and width from the stream itself (NO_COLOR, TERM, COLUMNS, not-a-TTY);
        # no highlighting: numbers and paths in reports are data, not syntax.
        console = Console(stderr=stderr, highlight=False)
        _consoles[stderr] = console
    return console


def out_console() -> Console:
    return _console(False)


def err_console() -> Console:
    return _console(True)


_KIND_EXIT: dict[str, ExitCode] = {
    "task_not_found": ExitCode.USAGE,
    "input": ExitCode.USAGE,
    "configuration": ExitCode.USAGE,
}
"""Error kinds (:mod:`quorum.errors_text`) that are the user's command line, not a failure."""


def print_error(exc: BaseException) -> ExitCode:
    """Print an error in the one style of the CLI; returns the exit code it deserves."""
    from rich.markup import escape

    from quorum.errors_text import describe_error

    console = err_console()
    code = ExitCode.FAILED
    lines: list[str]
    if isinstance(exc, CliError):
        code = exc.code
        lines = [str(exc), *(d for d in exc.details if d)]
    else:
        text = describe_error(exc)
        code = _KIND_EXIT.get(text.kind, ExitCode.FAILED)
        lines = list(text.lines)
        if text.kind == "internal":
            lines.append("run again with --debug for the traceback")
    head, *rest = lines
    # soft_wrap: an error line stays one line (whole paths, greppable), whatever the width
    console.print(f"[bold red]error:[/] {escape(head)}", soft_wrap=True)
    for line in rest:
        console.print(f"  {escape(line)}", soft_wrap=True)
    return code


_DURATION_PART = re.compile(r"\s*(\d{1,12}(?:\.\d{1,9})?)\s*([a-zA-Z]+)\s*")
_MAX_DURATION_S = 100 * 365 * 86400.0


def parse_duration(text: str, *, what: str = "duration") -> float:
    """A CLI duration in seconds: ``30s``, ``5m``, ``1h30m``, ``2 days``, ``90d``, ``2w``, or a plain
    number of *seconds* (unlike task files, where plain numbers are milliseconds). Command-line
    durations may be long (retention), so this is not the task format's 30-day-capped parser."""
    # The task format's unit words (milliseconds each), imported here: only some commands take durations.
    from quorum.definition.durations import UNITS

    value = text.strip()
    seconds: float | None = None
    try:
        seconds = float(value)
    except ValueError:
        total, pos = 0.0, 0
        while pos < len(value):
            match = _DURATION_PART.match(value, pos)
            unit = match.group(2).lower() if match else ""
            if match is None or unit not in UNITS:
                break
            total += float(match.group(1)) * (UNITS[unit] / 1000)
            pos = match.end()
        else:
            seconds = total if value else None
    if seconds is None or not 0 < seconds <= _MAX_DURATION_S:
        fail(
            f"bad {what} {text!r}: use a positive time such as 30s, 5m, 1h30m, 2 days or 30d "
            "(a plain number is seconds)",
            code=ExitCode.USAGE,
        )
    return seconds


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio

    return asyncio.run(coro)


def local_time(epoch: float) -> str:
    """An epoch time as the local date and time with its zone (deadlines people read)."""
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
