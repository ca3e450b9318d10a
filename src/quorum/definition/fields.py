"""Checks for single YAML values: each reports what is wrong (and how to write it) or returns the value.

Every checker takes the value, a human name for it (``retry.maxAttempts``), its line and the report,
and returns the accepted value or ``None`` after recording a problem. YAML's surprises are named in
the hints: ``yes``/``on`` are booleans, ``"3"`` is text, ``1.0`` is a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from quorum.definition.durations import MAX_SECONDS, DurationError, parse_time_string
from quorum.definition.report import Report
from quorum.definition.suggest import did_you_mean

__all__ = (
    "check_bool",
    "check_duration",
    "check_int",
    "check_keys",
    "check_mapping",
    "check_number",
    "check_text",
    "type_name",
)


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
    report: Report, value: Any, what: str, line: int | None, *, minimum: int, maximum: int
) -> int | None:
    if isinstance(value, bool):
        report.error(
            f"{what} must be a whole number, not {type_name(value)}",
            line,
            "YAML reads yes/no/on/off/true/false as booleans; write a number",
        )
        return None
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        value = int(value)
    if not isinstance(value, int):
        hint = None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            hint = f"write it without quotes: {value.strip()}"
        report.error(f"{what} must be a whole number, not {type_name(value)}", line, hint)
        return None
    if value < minimum:
        report.error(f"{what} must be at least {minimum}, got {value}", line)
        return None
    if value > maximum:
        report.error(f"{what} = {value} is absurdly large (at most {maximum})", line)
        return None
    return value


def check_number(
    report: Report,
    value: Any,
    what: str,
    line: int | None,
    *,
    minimum: float,
    maximum: float,
    exclusive_minimum: bool = False,
) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        report.error(f"{what} must be a number, not {type_name(value)}", line)
        return None
    if not math.isfinite(value):
        report.error(f"{what} must be a finite number, not {value!r}", line)
        return None
    if value < minimum or (exclusive_minimum and value == minimum):
        bound = f"greater than {minimum:g}" if exclusive_minimum else f"at least {minimum:g}"
        report.error(f"{what} must be {bound}, got {value:g}", line)
        return None
    if value > maximum:
        report.error(f"{what} = {value:g} is absurdly large (at most {maximum:g})", line)
        return None
    return value


def check_bool(report: Report, value: Any, what: str, line: int | None) -> bool | None:
    if not isinstance(value, bool):
        report.error(f"{what} must be true or false, not {type_name(value)}", line)
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
) -> str | None:
    if not isinstance(value, str):
        report.error(
            f"{what} must be text, not {type_name(value)}",
            line,
            "quote it if YAML reads it as something else",
        )
        return None
    if not allow_empty and not value.strip():
        report.error(f"{what} must not be empty", line)
        return None
    if len(value) > max_length:
        report.error(f"{what} is longer than {max_length} characters", line)
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
) -> float | None:
    """A time string or a number of milliseconds; returns seconds."""
    try:
        seconds = parse_time_string(value)
    except DurationError as exc:
        report.error(f"{what}: {exc}", line)
        return None
    if positive and seconds <= 0:
        report.error(f"{what} must be longer than zero, got {value!r}", line, "for example: 30s, 5 minutes")
        return None
    if seconds > maximum:
        report.error(f"{what} = {value!r} is absurdly long (at most {maximum:g} seconds)", line)
        return None
    return seconds


def check_mapping(
    report: Report, value: Any, what: str, line: int | None, example: str
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        report.error(f"{what} must be a mapping, not {type_name(value)}", line, f"for example: {example}")
        return None
    return value


def check_keys(
    report: Report, mapping: Mapping[str, Any], known: Iterable[str], what: str, line_of: Any
) -> None:
    """Unknown keys are errors, with the closest known key suggested. ``line_of(key)`` gives a key's line."""
    known = tuple(known)
    for key in mapping:
        if key not in known:
            report.error(
                f"unknown key {key!r} in {what}{did_you_mean(key, known, max_distance=3)}",
                line_of(key),
                "known keys: " + ", ".join(known),
            )
