"""Time strings: ``500ms``, ``30s``, ``5 minutes``, ``1h30m``, ``1.5 hours``, ``2 days``; numbers are ms.

``parse_time_string`` returns **seconds** (a float). Arithmetic is done in ``Decimal`` so that a value
written in milliseconds comes back exactly (``format_duration`` and ``parse_time_string`` round-trip).

Limits (documented in docs/task-format.md): a time string is at most 64 characters, each number at
most 15 digits, and the total at most ``MAX_SECONDS`` (30 days): no task phase or execution
reasonably waits longer, and such a value is almost always a unit mistake (``30000 days``).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from quorum.definition.suggest import suggest

__all__ = ("MAX_SECONDS", "UNITS", "DurationError", "format_duration", "parse_time_string")

MAX_SECONDS = 30 * 24 * 3600
"""The largest duration accepted anywhere (30 days)."""

_MAX_TEXT = 64

# unit word -> milliseconds
UNITS: dict[str, int] = {}
for _names, _ms in (
    (("ms", "msec", "msecs", "millisecond", "milliseconds"), 1),
    (("s", "sec", "secs", "second", "seconds"), 1000),
    (("m", "min", "mins", "minute", "minutes"), 60_000),
    (("h", "hr", "hrs", "hour", "hours"), 3_600_000),
    (("d", "day", "days"), 86_400_000),
    (("w", "wk", "wks", "week", "weeks"), 604_800_000),
):
    for _name in _names:
        UNITS[_name] = _ms

_ALLOWED = (
    "a number of milliseconds (500) or amounts with units: 500ms, 30s, 5 minutes, 1h30m, 1.5 hours, 2 days"
)
# ASCII digits only (Python's \d also matches other scripts' digits; JSON Schema's does not)
_NUMBER = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?|\.[0-9]{1,15}")
_PART = re.compile(r"\s*([0-9]{1,15}(?:\.[0-9]{1,15})?|\.[0-9]{1,15})\s*([a-zA-Z]+)\s*(?:,|and\b)?")


class DurationError(ValueError):
    """A time string that cannot be used; the message says what is allowed."""


def _fail(text: object, why: str) -> DurationError:
    shown = repr(text) if len(repr(text)) <= 80 else repr(text)[:77] + "..."
    return DurationError(f"invalid duration {shown}: {why}; use {_ALLOWED}")


def _check_total(text: object, ms: Decimal) -> float:
    if ms > MAX_SECONDS * 1000:
        raise _fail(text, f"longer than the maximum of {MAX_SECONDS // 86400} days")
    return float(ms / 1000)


def parse_time_string(text: str | int | float) -> float:
    """Parse a duration and return it in seconds. Plain numbers (and numeric strings) are milliseconds.

    Raises ``DurationError`` (a ``ValueError``) for negatives, NaN, infinities, unknown units, empty
    text and values above ``MAX_SECONDS``.
    """
    if isinstance(text, bool) or not isinstance(text, int | float | str):
        raise _fail(text, f"expected a string or a number, not {type(text).__name__}")
    if isinstance(text, int | float):
        if isinstance(text, float) and not math.isfinite(text):
            raise _fail(text, "not a finite number")
        if text < 0:
            raise _fail(text, "negative")
        try:
            return _check_total(text, Decimal(text))
        except InvalidOperation as exc:  # pragma: no cover - finite ints and floats always convert
            raise _fail(text, "not a number") from exc
    raw = text.strip()
    if not raw:
        raise _fail(text, "empty")
    if len(raw) > _MAX_TEXT:
        raise _fail(text, f"longer than {_MAX_TEXT} characters")
    if raw.startswith("-"):
        raise _fail(text, "negative")
    if _NUMBER.fullmatch(raw):
        return _check_total(text, Decimal(raw))
    total = Decimal(0)
    pos = 0
    seen: set[int] = set()
    while pos < len(raw):
        match = _PART.match(raw, pos)
        if match is None or match.end() == pos:
            lowered = raw.lower()
            if "nan" in lowered or "inf" in lowered:
                raise _fail(text, "not a finite number")
            raise _fail(text, f"cannot read {raw[pos:]!r}")
        number, unit = match.group(1), match.group(2)
        factor = UNITS.get(unit.lower())
        if factor is None:
            close = suggest(unit.lower(), UNITS)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise _fail(text, f"unknown unit {unit!r}{hint}")
        if factor in seen:
            raise _fail(text, f"unit {unit!r} given twice")
        seen.add(factor)
        total += Decimal(number) * factor
        pos = match.end()
    return _check_total(text, total)


_FORMAT_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def format_duration(seconds: float) -> str:
    """The shortest time string for ``seconds`` (rounded to the millisecond): ``1h30m``, ``250ms``."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration")
    ms = int(Decimal(repr(seconds)) * 1000)
    if ms == 0:
        return "0ms"
    parts: list[str] = []
    for unit, size in _FORMAT_UNITS:
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
