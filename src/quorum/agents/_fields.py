"""Reading typed settings out of a YAML mapping, collecting file:line problems instead of raising."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from quorum.errors import DefinitionError, Problem

__all__ = ("ID_PATTERN", "FieldReader", "Problems", "closest", "parse_duration")

Problems = list[Problem]

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def closest(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def parse_duration(value: str | int | float) -> float:
    """Seconds from a time string (``30s``, ``5 minutes``) or a plain number of milliseconds.

    Delegates to the definition package so tasks and agents read durations the same way.
    """
    from quorum.definition.durations import parse_time_string

    return float(parse_time_string(value))


class FieldReader:
    """Typed getters over one mapping; each bad value becomes a Problem at the key's line."""

    def __init__(
        self, data: Mapping[str, Any], lines: Mapping[str, int], *, source: str | None, default_line: int
    ) -> None:
        self.data = data
        self.lines = lines
        self.source = source
        self.default_line = default_line
        self.problems: Problems = []

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def line_of(self, key: str, within: str | None = None) -> int:
        return self.lines.get(within or key, self.default_line)

    def error(self, key: str, message: str, *, hint: str | None = None, within: str | None = None) -> None:
        self.problems.append(
            Problem(message=message, source=self.source, line=self.line_of(key, within), hint=hint)
        )

    def warning(self, key: str, message: str, *, hint: str | None = None) -> None:
        self.problems.append(
            Problem(
                message=message, source=self.source, line=self.line_of(key), hint=hint, severity="warning"
            )
        )

    def _get(self, key: str, within: str | None, data: Mapping[str, Any] | None) -> Any:
        source = self.data if within is None else (data or {})
        return source.get(key)

    def _label(self, key: str, within: str | None) -> str:
        return key if within is None else f"{within}.{key}"

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.error(key, f"missing required setting {key!r}")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(key, f"{key!r} must be a string, not {type(value).__name__}")
            return None
        return str(value).strip()

    def ident(self, key: str, *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is not None and not ID_PATTERN.fullmatch(value):
            self.error(
                key,
                f"invalid {key} {value!r}",
                hint="lowercase letters, digits, '.', '_' and '-', starting with a letter or digit",
            )
            return None
        return value

    def env_name(self, key: str) -> str | None:
        value = self.text(key)
        if value is not None and not _ENV_NAME.fullmatch(value):
            self.error(key, f"{key!r} must name an environment variable (like MY_API_KEY)")
            return None
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.error(key, f"{key!r} must be true or false, not {value!r}")
        return None

    def number(
        self,
        key: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        within: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> float | None:
        value = self._get(key, within, data)
        label = self._label(key, within)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(key, f"{label!r} must be a number, not {value!r}", within=within)
            return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "-inf" if minimum is None else f"{minimum:g}"
            high = "inf" if maximum is None else f"{maximum:g}"
            self.error(key, f"{label!r} must be between {low} and {high}, not {value!r}", within=within)
            return None
        return float(value)

    def integer(
        self,
        key: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        within: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> int | None:
        value = self._get(key, within, data)
        label = self._label(key, within)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"{label!r} must be a whole number, not {value!r}", within=within)
            return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            self.error(key, f"{label!r} must be {bounds}, not {value}", within=within)
            return None
        return value

    def duration(
        self,
        key: str,
        *,
        allow_zero: bool = False,
        within: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> float | None:
        value = self._get(key, within, data)
        label = self._label(key, within)
        if value is None:
            return None
        hint = "a time like 30s, 1.5m, 2 hours, or a number of milliseconds"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(key, f"{label!r} must be a duration, not {value!r}", hint=hint, within=within)
            return None
        try:
            seconds = parse_duration(value)
        except (DefinitionError, ValueError) as exc:
            self.error(key, f"{label!r}: {_first_line(exc)}", within=within)
            return None
        if seconds < 0 or (seconds == 0 and not allow_zero):
            self.error(key, f"{label!r} must be positive, not {value!r}", hint=hint, within=within)
            return None
        return seconds

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(key, f"{key!r} must be a list of strings, like [committee, analysis]")
            return ()
        return tuple(v.strip() for v in value)

    def mapping(self, key: str, *, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(
                key, f"{key!r} must be a mapping, like {{{', '.join(f'{k}: ...' for k in keys or ('k',))}}}"
            )
            return {}
        if keys is not None:
            for inner in value:
                if inner not in keys:
                    guess = closest(str(inner), keys)
                    self.error(
                        key,
                        f"unknown setting {key}.{inner}",
                        hint=f"did you mean {guess!r}?" if guess else "known: " + ", ".join(keys),
                    )
        return {str(k): v for k, v in value.items()}


def _first_line(exc: BaseException) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return str(problems[0].message)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
