"""Checks for single YAML values of task and agent files: each reports what is wrong (and how to write
it) or returns the value.

Every checker takes the report, the value, a human name for it (``retry.maxAttempts`` in task files,
``'max_retries'`` in agent files), its line, and returns the accepted value or ``None`` after recording
a problem. YAML's surprises are named in the hints: ``yes``/``on`` are booleans, ``"3"`` is text,
``1.0`` is a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from quorum.definition.durations import MAX_SECONDS, DurationError, parse_time_string
from quorum.definition.report import Report
from quorum.definition.suggest import suggest

__all__ = (
    "NAME_PATTERN",
    "NAME_RULE",
    "check_bool",
    "check_duration",
    "check_int",
    "check_keys",
    "check_mapping",
    "check_number",
    "check_text",
    "check_words",
    "json_pointer",
    "type_name",
)

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
"""Task names and agent ids: they become file names, command-line arguments and keys."""
NAME_RULE = (
    "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (at most 100 characters)"
)


def json_pointer(*path: str | int) -> str:
    """The RFC 6901 pointer of a key path: ``("budget", "maxCost")`` -> ``/budget/maxCost``; ``""`` is
    the whole document."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def check_int(
    report: Report,
    value: Any,
    what: str,
    line: int | None,
    *,
    minimum: int,
    maximum: int | None = None,
    pointer: str | None = None,
) -> int | None:
    """A whole number (``3.0`` counts); ``maximum`` is a sanity limit, so going over it is "absurd"."""
    if isinstance(value, bool):
        report.error(
            f"{what} must be a whole number, not {type_name(value)}",
            line,
            "YAML reads yes/no/on/off/true/false as booleans; write a number",
            pointer=pointer,
        )
        return None
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        value = int(value)
    if not isinstance(value, int):
        hint = None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            hint = f"write it without quotes: {value.strip()}"
        report.error(f"{what} must be a whole number, not {type_name(value)}", line, hint, pointer=pointer)
        return None
    if value < minimum:
        report.error(f"{what} must be at least {minimum}, got {value}", line, pointer=pointer)
        return None
    if maximum is not None and value > maximum:
        report.error(f"{what} = {value} is absurdly large (at most {maximum})", line, pointer=pointer)
        return None
    return value


def check_number(
    report: Report,
    value: Any,
    what: str,
    line: int | None,
    *,
    minimum: float,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    pointer: str | None = None,
) -> float | int | None:
    """A finite number within its range; the message names the bound that was crossed, and the whole
    range when it has two ends (``temperature`` between 0 and 2)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        report.error(f"{what} must be a number, not {type_name(value)}", line, pointer=pointer)
        return None
    if not math.isfinite(value):
        report.error(f"{what} must be a finite number, not {value!r}", line, pointer=pointer)
        return None
    too_low = value < minimum or (exclusive_minimum and value == minimum)
    too_high = maximum is not None and value > maximum
    if not (too_low or too_high):
        return value
    if too_low:
        bound = f"greater than {minimum:g}" if exclusive_minimum else f"at least {minimum:g}"
    else:
        bound = f"at most {maximum:g}"
    whole = (
        f" (a number between {minimum:g} and {maximum:g})"
        if maximum is not None and not exclusive_minimum
        else ""
    )
    report.error(f"{what} must be {bound}, got {value:g}{whole}", line, pointer=pointer)
    return None


def check_bool(
    report: Report, value: Any, what: str, line: int | None, *, pointer: str | None = None
) -> bool | None:
    if not isinstance(value, bool):
        report.error(f"{what} must be true or false, not {type_name(value)}", line, pointer=pointer)
        return None
    return value


def check_text(
    report: Report,
    value: Any,
    what: str,
    line: int | None,
    *,
    max_length: int = 10_000,
    allow_empty: bool = True,
    pointer: str | None = None,
) -> str | None:
    if not isinstance(value, str):
        report.error(
            f"{what} must be text, not {type_name(value)}",
            line,
            "quote it if YAML reads it as something else",
            pointer=pointer,
        )
        return None
    if not allow_empty and not value.strip():
        report.error(f"{what} must not be empty", line, pointer=pointer)
        return None
    if len(value) > max_length:
        report.error(f"{what} is longer than {max_length} characters", line, pointer=pointer)
        return None
    return value


def check_duration(
    report: Report,
    value: Any,
    what: str,
    line: int | None,
    *,
    positive: bool = True,
    maximum: float = MAX_SECONDS,
    pointer: str | None = None,
) -> float | None:
    """A time string or a number of milliseconds; returns seconds."""
    try:
        seconds = parse_time_string(value)
    except DurationError as exc:
        report.error(f"{what}: {exc}", line, pointer=pointer)
        return None
    if positive and seconds <= 0:
        report.error(
            f"{what} must be longer than zero, got {value!r}",
            line,
            "for example: 30s, 5 minutes",
            pointer=pointer,
        )
        return None
    if seconds > maximum:
        report.error(
            f"{what} = {value!r} is absurdly long (at most {maximum:g} seconds)", line, pointer=pointer
        )
        return None
    return seconds


def check_words(
    report: Report, value: Any, what: str, line: int | None, example: str, *, pointer: str | None = None
) -> tuple[str, ...] | None:
    """A list of text (tags, labels)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        report.error(f"{what} must be a list of words, e.g. {example}", line, pointer=pointer)
        return None
    return tuple(value)


def check_mapping(
    report: Report, value: Any, what: str, line: int | None, example: str, *, pointer: str | None = None
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        report.error(
            f"{what} must be a mapping, not {type_name(value)}",
            line,
            f"for example: {example}",
            pointer=pointer,
        )
        return None
    return value


def check_keys(
    report: Report,
    mapping: Mapping[Any, Any],
    known: Iterable[str],
    what: str,
    line_of: Callable[[str], int | None],
    *,
    noun: str = "key",
    suggestion_as_hint: bool = False,
    pointer_of: Callable[[str], str | None] = lambda key: None,
) -> None:
    """Unknown keys are errors, with the closest known key suggested. ``line_of(key)`` gives a key's line.

    Task files name the suggestion in the message and list the known keys in the hint. Agent files
    (``suggestion_as_hint``) make the suggestion the hint, and list the known keys when none is close.
    """
    known = tuple(known)
    listing = f"known {noun}s: " + ", ".join(known)
    for raw in mapping:
        key = str(raw)
        if key in known:
            continue
        message = f"unknown {noun} {key!r} in {what}"
        close = suggest(key, known)
        if suggestion_as_hint:
            report.error(
                message,
                line_of(key),
                f"did you mean {close!r}?" if close else listing,
                pointer=pointer_of(key),
            )
        else:
            report.error(
                message + (f" (did you mean {close!r}?)" if close else ""),
                line_of(key),
                listing,
                pointer=pointer_of(key),
            )
